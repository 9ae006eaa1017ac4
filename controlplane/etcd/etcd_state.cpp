#include "etcd/etcd_state.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "sluice/config/validate.hpp"
#include "state/shared_document.hpp"

namespace sluice::cp {

using Clock = std::chrono::steady_clock;

EtcdSharedState::EtcdSharedState(const config::EtcdSettings& settings, std::string host_name,
                                 EtcdStateOptions options)
    : settings_(settings),
      host_name_(std::move(host_name)),
      options_(options),
      key_(settings.prefix + "state") {}

EtcdSharedState::~EtcdSharedState() {
  stop();
}

Status EtcdSharedState::init() {
  Result<std::unique_ptr<EtcdClient>> client = make_etcd_client(settings_);
  if (!client.ok()) return client.error();
  client_ = std::move(client.value());
  return ok_status();
}

Result<SharedStart> EtcdSharedState::load_or_seed(const std::vector<config::Vip>& seed_vips) {
  const Clock::time_point give_up = Clock::now() + options_.startup_wait;
  std::chrono::milliseconds backoff = options_.min_backoff;
  std::string last_error;
  while (Clock::now() < give_up) {
    Result<EtcdValue> read = client_->get(key_, options_.read_budget);
    if (read.ok() && read->mod_revision != 0) {
      note_ok();
      return SharedStart{std::move(read->value), read->mod_revision, read->header_revision, false};
    }
    if (read.ok()) {
      const std::string document = encode_shared_state(seed_vips, host_name_);
      Result<EtcdTxnOutcome> seeded = client_->put_if(key_, document, 0, options_.write_budget);
      if (seeded.ok() && seeded->succeeded) {
        note_ok();
        return SharedStart{document, seeded->revision, seeded->revision, true};
      }
      if (seeded.ok()) continue;  // another host seeded it meanwhile: read that
      last_error = seeded.error().message;
    } else {
      last_error = read.error().message;
    }
    spdlog::warn("etcd: cannot load {} yet: {}; retrying", key_, last_error);
    sleep_for(backoff);
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
  return Error{"etcd: could not load or seed " + key_ + " within " +
               std::to_string(options_.startup_wait.count() / 1000) + " s: " + last_error};
}

void EtcdSharedState::start(StateStore& store, std::uint64_t from_revision) {
  thread_ = std::thread([this, &store, from_revision] { run(store, from_revision); });
}

void EtcdSharedState::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EtcdSharedState::sleep_for(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, delay, [this] { return stopping_.load(); });
}

void EtcdSharedState::note_ok() {
  std::lock_guard lock(mutex_);
  if (!connected_ && lost_at_ != Clock::time_point{}) {
    const auto away =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - lost_at_);
    spdlog::info("etcd: reachable again after {} ms ({})", away.count(), client_->endpoint_list());
  }
  connected_ = true;
  last_error_.clear();
}

void EtcdSharedState::note_failure(const std::string& error) {
  std::lock_guard lock(mutex_);
  if (connected_) {
    spdlog::error(
        "etcd: unreachable: {}; running on the state in force (fail-static), changes are "
        "refused until it returns",
        error);
    lost_at_ = Clock::now();
  }
  connected_ = false;
  last_error_ = error;
}

void EtcdSharedState::run(StateStore& store, std::uint64_t from_revision) {
  std::chrono::milliseconds backoff{0};
  bool need_read = false;
  while (!stopping_) {
    if (need_read) {
      Result<EtcdValue> read = client_->get(key_, options_.read_budget);
      if (!read.ok()) {
        note_failure(read.error().message);
        backoff = std::clamp(backoff * 2, options_.min_backoff, options_.max_backoff);
        sleep_for(backoff);
        continue;
      }
      note_ok();
      if (read->mod_revision == 0) {
        store.shared_absent(read->header_revision);
      } else {
        (void)store.apply_shared(read->value, read->mod_revision);
      }
      from_revision = read->header_revision + 1;
      need_read = false;
    }
    bool created = false;
    const Error ended = client_->watch(
        key_, from_revision, stopping_,
        [&] {
          created = true;
          backoff = std::chrono::milliseconds(0);
          note_ok();
        },
        [&](const EtcdEvent& event) {
          if (event.deleted) {
            store.shared_absent(event.mod_revision);
          } else {
            (void)store.apply_shared(event.value, event.mod_revision);  // logs a refusal
          }
          from_revision = event.mod_revision + 1;
          return !stopping_.load();
        });
    if (stopping_) break;
    spdlog::debug("etcd: watch ended: {}; reading {} again", ended.message, key_);
    need_read = true;
    if (!created) {
      note_failure("watch: " + ended.message);
      backoff = std::clamp(backoff * 2, options_.min_backoff, options_.max_backoff);
      sleep_for(backoff);
    }
  }
}

std::variant<std::uint64_t, Refusal> EtcdSharedState::write(const std::string& document,
                                                            std::uint64_t based_on) {
  Result<EtcdTxnOutcome> outcome = client_->put_if(key_, document, based_on, options_.write_budget);
  if (!outcome.ok()) {
    note_failure(outcome.error().message);
    return Refusal{RefusalKind::unavailable,
                   "the change was not made: " + outcome.error().message +
                       "; the state in force stays (fail-static): retry when etcd is back"};
  }
  note_ok();
  if (!outcome->succeeded) {
    spdlog::info("etcd: {} changed since revision {} (another host's change): refused", key_,
                 based_on);
    return Refusal{RefusalKind::conflict_retry, kChangedMeanwhile};
  }
  return outcome->revision;
}

void EtcdSharedState::describe(StateStoreStatus& status) const {
  status.endpoints = settings_.endpoints;
  status.key = key_;
  std::lock_guard lock(mutex_);
  status.connected = connected_;
  status.last_error = last_error_;
}

std::string effective_host_name(const config::ControlplaneSettings& settings) {
  if (!settings.host_name.empty()) return settings.host_name;
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

Result<std::unique_ptr<EtcdSharedState>> open_shared_state(
    const config::ControlplaneSettings& settings, config::State& desired, SharedStart& start) {
  if (!settings.etcd) return Error{"controlplane.etcd: required when state_store is etcd"};
  auto shared = std::make_unique<EtcdSharedState>(*settings.etcd, effective_host_name(settings));
  if (Status ready = shared->init(); !ready.ok()) return ready.error();
  Result<SharedStart> loaded = shared->load_or_seed(desired.vips);
  if (!loaded.ok()) return loaded.error();
  Result<std::vector<config::Vip>> vips = decode_shared_state(loaded->document);
  if (!vips.ok()) {
    return Error{"etcd " + shared->key() + " (revision " + std::to_string(loaded->mod_revision) +
                 "): " + vips.error().message};
  }
  config::State next = desired;
  next.vips = std::move(vips.value());
  if (Status valid = config::validate_desired(next); !valid.ok()) {
    return Error{"etcd " + shared->key() + " (revision " + std::to_string(loaded->mod_revision) +
                 ") does not fit this host's settings:\n" + valid.error().message};
  }
  desired = std::move(next);
  start = std::move(loaded.value());
  return shared;
}

}  // namespace sluice::cp

#include "state/state_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <system_error>
#include <utility>

#include "sluice/config/names.hpp"
#include "sluice/config/second_chance.hpp"
#include "sluice/config/validate.hpp"
#include "sluice/config/yaml.hpp"
#include "state/shared_document.hpp"

namespace sluice::cp {
namespace {

std::uint64_t unix_now_s() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// Says which VIPs got a new previous table with this change (second chance).
void log_previous_tables(const config::State& before, const config::State& after) {
  for (const config::Vip& vip : after.vips) {
    if (!vip.previous || !config::second_chance_enabled(vip)) continue;
    const config::Vip* was = config::find_vip(before, config::key_of(vip));
    if (was != nullptr && was->previous == vip.previous) continue;
    spdlog::info(
        "state: {}: its table changed; the previous one ({} backends) is kept for second chance "
        "for {} s (dataplane.flow_idle_timeout_s): flows that reach a host without their entry "
        "name their previous owner",
        config::vip_key(vip), vip.previous->backends.size(), after.dataplane.flow_idle_timeout_s);
  }
}

}  // namespace

Result<LoadedState> load_desired_state(const std::string& config_path,
                                       const std::string& state_file) {
  Result<config::State> config = config::load_yaml_file(config_path);
  if (!config.ok()) return config.error();
  if (Status intent = config::validate_desired(config.value()); !intent.ok()) {
    return Error{config_path + ":\n" + intent.error().message};
  }
  LoadedState loaded{std::move(config.value()), false};

  std::error_code ec;
  if (state_file.empty() || !std::filesystem::exists(state_file, ec)) return loaded;

  Result<config::State> persisted = config::load_yaml_file(state_file);
  if (!persisted.ok()) {
    return Error{persisted.error().message +
                 "\n(the state file holds runtime changes made through the API; fix it, or move "
                 "it away to start from the config's VIPs)"};
  }
  loaded.desired.vips = std::move(persisted.value().vips);
  if (Status valid = config::validate_desired(loaded.desired); !valid.ok()) {
    return Error{state_file + ": its VIPs do not fit the settings of " + config_path + ":\n" +
                 valid.error().message};
  }
  loaded.from_state_file = true;
  return loaded;
}

StateStore::StateStore(config::State desired, std::string state_file, const FileSystemCalls& calls)
    : desired_(std::move(desired)), state_file_(std::move(state_file)), calls_(calls) {}

std::optional<Refusal> StateStore::persist(const config::State& next) const {
  if (state_file_.empty()) return std::nullopt;
  const ReplaceResult saved = config::save_yaml_file_atomic(next, state_file_, calls_);
  if (saved.ok()) return std::nullopt;
  std::string outcome = "nothing was changed";
  if (saved.replaced()) {
    // The file already holds the refused state: put the current one back, or a restart would
    // bring back a change that was never acknowledged.
    const ReplaceResult restored = config::save_yaml_file_atomic(desired_, state_file_, calls_);
    if (!restored.ok()) {
      outcome =
          "the file may hold the refused change until the next accepted one (restoring "
          "it failed: " +
          restored.error + ")";
    }
  }
  spdlog::error("state: change not applied: {}; {}", saved.error, outcome);
  return Refusal{RefusalKind::internal, "state file " + state_file_ + " could not be written (" +
                                            saved.error + "); " + outcome};
}

std::variant<std::uint64_t, Refusal> StateStore::change(
    const std::function<Mutation(config::State&)>& change) {
  if (shared_ != nullptr) return change_shared(change);  // set before serving, never after
  std::vector<Listener> to_notify;
  std::uint64_t revision = 0;
  {
    std::lock_guard lock(mutex_);
    config::State next = desired_;
    if (Mutation refused = change(next)) return *refused;
    config::record_previous_backends(desired_, next, unix_now_s());
    log_previous_tables(desired_, next);
    if (std::optional<Refusal> failed = persist(next)) return *std::move(failed);
    desired_ = std::move(next);
    revision = ++revision_;
    to_notify = listeners_;
  }
  for (const Listener& listener : to_notify)
    listener();
  return revision;
}

std::variant<std::uint64_t, Refusal> StateStore::change_shared(
    const std::function<Mutation(config::State&)>& change) {
  // The transaction may take up to its bound (etcd unreachable): readers are never held up,
  // only this host's other writers, which would lose the compare anyway.
  std::lock_guard writer(write_mutex_);
  config::State next;
  std::uint64_t based_on = 0;
  {
    std::lock_guard lock(mutex_);
    if (!refused_.empty()) {
      return Refusal{RefusalKind::invalid,
                     "the shared state at revision " + std::to_string(read_revision_) +
                         " is refused by this host (" + refused_ +
                         "); the state in force is revision " + std::to_string(revision_) +
                         ": fix the document in etcd first (docs/tier.md)"};
    }
    next = desired_;
    based_on = read_revision_;
  }
  const config::State before = next;
  if (Mutation refused = change(next)) return *refused;
  config::record_previous_backends(before, next, unix_now_s());
  log_previous_tables(before, next);
  std::variant<std::uint64_t, Refusal> written =
      shared_->write(encode_shared_state(next.vips, host_name_), based_on);
  if (const Refusal* refusal = std::get_if<Refusal>(&written)) return *refusal;
  const std::uint64_t revision = std::get<std::uint64_t>(written);
  std::vector<Listener> to_notify;
  {
    std::lock_guard lock(mutex_);
    // Adopted at once; the watch may have brought the same revision already.
    if (revision > revision_) {
      desired_ = std::move(next);
      revision_ = revision;
      to_notify = listeners_;
    }
    read_revision_ = std::max(read_revision_, revision);
  }
  notify(to_notify);
  return revision;
}

void StateStore::notify(const std::vector<Listener>& listeners) const {
  for (const Listener& listener : listeners)
    listener();
}

void StateStore::use_shared(SharedStateBackend* backend, std::uint64_t revision,
                            std::string host_name) {
  std::lock_guard lock(mutex_);
  shared_ = backend;
  revision_ = revision;
  read_revision_ = revision;
  host_name_ = std::move(host_name);
}

Status StateStore::apply_shared(const std::string& document, std::uint64_t mod_revision) {
  config::State next;
  {
    std::lock_guard lock(mutex_);
    if (mod_revision <= read_revision_ && mod_revision <= revision_) return ok_status();
    next = desired_;  // this host's settings, which never change
  }
  // Decoded and validated outside the lock: readers are not held up by a large document.
  std::string why;
  Result<std::vector<config::Vip>> vips = decode_shared_state(document);
  if (vips.ok()) {
    next.vips = std::move(vips.value());
    if (Status valid = config::validate_desired(next); !valid.ok()) why = valid.error().message;
  } else {
    why = vips.error().message;
  }
  std::vector<Listener> to_notify;
  {
    std::lock_guard lock(mutex_);
    if (mod_revision <= revision_) return ok_status();  // this host's own write, adopted already
    read_revision_ = std::max(read_revision_, mod_revision);
    if (!why.empty()) {
      refused_ = why;
      spdlog::error(
          "state: refused the shared state at etcd revision {}; the state in force stays "
          "(revision {}): {}",
          mod_revision, revision_, why);
      return Error{why};
    }
    if (!refused_.empty()) {
      spdlog::info("state: the shared state at etcd revision {} is valid again", mod_revision);
    }
    refused_.clear();
    const bool same = next == desired_;
    desired_ = std::move(next);
    revision_ = mod_revision;
    spdlog::info("state: shared state revision {} in force ({} VIP(s){})", mod_revision,
                 desired_.vips.size(), same ? ", no change" : "");
    to_notify = listeners_;
  }
  notify(to_notify);
  return ok_status();
}

void StateStore::shared_absent(std::uint64_t revision) {
  std::lock_guard lock(mutex_);
  if (read_revision_ == 0) return;
  spdlog::error(
      "state: the shared state key is gone from etcd (revision {}); the state in force stays "
      "(revision {}); the next change writes it again",
      revision, revision_);
  read_revision_ = 0;
  refused_.clear();
}

DesiredSnapshot StateStore::snapshot() const {
  std::lock_guard lock(mutex_);
  DesiredSnapshot out{desired_, std::nullopt};
  if (shared_ != nullptr) out.shared_revision = revision_;
  return out;
}

StateStoreStatus StateStore::status() const {
  StateStoreStatus out;
  {
    std::lock_guard lock(mutex_);
    out.revision = revision_;
    if (shared_ == nullptr) {
      out.file = state_file_;
      return out;
    }
    out.kind = "etcd";
    out.host_name = host_name_;
    out.read_revision = read_revision_;
    out.refused = refused_;
  }
  shared_->describe(out);
  return out;
}

config::State StateStore::desired() const {
  std::lock_guard lock(mutex_);
  return desired_;
}

std::uint64_t StateStore::revision() const {
  std::lock_guard lock(mutex_);
  return revision_;
}

void StateStore::add_listener(Listener listener) {
  std::lock_guard lock(mutex_);
  listeners_.push_back(std::move(listener));
}

}  // namespace sluice::cp

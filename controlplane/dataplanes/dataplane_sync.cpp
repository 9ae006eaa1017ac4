#include "dataplanes/dataplane_sync.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "sluice/config/names.hpp"
#include "sluice/config/validate.hpp"

namespace sluice::cp {
namespace {

// Rates (stats, top, Prometheus) are over about this long, whatever the poll interval.
constexpr std::chrono::milliseconds kRateBase{1000};

// "up weight 2", "draining", "down": what the dataplanes act on.
std::string describe_state(const config::Backend& b) {
  const config::BackendState state = config::pushed_state(b);
  std::string out(config::to_string(state));
  if (state == config::BackendState::up) {
    out += " weight " + std::to_string(config::scheduling_weight(b));
  }
  return out;
}

std::string describe(const config::Backend& b) {
  return b.address.to_string() + " " + describe_state(b);
}

std::string describe_backends(const config::Vip& vip) {
  if (vip.backends.empty()) return "no backends";
  std::string out;
  for (const config::Backend& b : vip.backends) {
    if (!out.empty()) out += ", ";
    out += describe(b);
  }
  return out;
}

// One log line per VIP that appeared or went, and per backend whose pushed state changed.
void log_changes(const config::State* before, const std::vector<AllDownVip>& down_before,
                 const EffectiveState& after, std::uint64_t generation) {
  for (const config::Vip& vip : after.state.vips) {
    const config::Vip* old = before ? config::find_vip(*before, config::key_of(vip)) : nullptr;
    if (old != nullptr && *old == vip) continue;
    if (old == nullptr) {
      spdlog::info("state: generation {}: VIP {} -> {}", generation, config::vip_key(vip),
                   describe_backends(vip));
      continue;
    }
    for (const config::Backend& b : vip.backends) {
      const config::Backend* was = config::find_backend(*old, b.address);
      if (was == nullptr) {
        spdlog::info("state: generation {}: VIP {}: backend added: {}", generation,
                     config::vip_key(vip), describe(b));
      } else if (describe_state(*was) != describe_state(b)) {
        spdlog::info("state: generation {}: VIP {}: backend {} {} -> {}", generation,
                     config::vip_key(vip), b.address.to_string(), describe_state(*was),
                     describe_state(b));
      }
    }
    for (const config::Backend& b : old->backends) {
      if (config::find_backend(vip, b.address) == nullptr) {
        spdlog::info(
            "state: generation {}: VIP {}: backend {} removed (its flows are "
            "rescheduled)",
            generation, config::vip_key(vip), b.address.to_string());
      }
    }
    if (old->backends == vip.backends) {
      spdlog::info("state: generation {}: VIP {} -> {}", generation, config::vip_key(vip),
                   describe_backends(vip));
    }
  }
  if (before != nullptr) {
    for (const config::Vip& vip : before->vips) {
      if (config::find_vip(after.state, config::key_of(vip)) == nullptr) {
        spdlog::info("state: generation {}: VIP {} removed", generation, config::vip_key(vip));
      }
    }
  }
  for (const AllDownVip& down : after.all_down) {
    const bool already = std::any_of(down_before.begin(), down_before.end(),
                                     [&](const AllDownVip& d) { return d.vip == down.vip; });
    if (already) continue;  // logged when it happened
    if (down.policy == config::AllDownPolicy::drop) {
      spdlog::error(
          "state: VIP {} has no healthy backend (backends added at runtime count once "
          "they pass `rise` checks); all_down policy drop: new flows are dropped "
          "(counted as no_backend)",
          down.vip);
    } else {
      spdlog::error(
          "state: VIP {} has no healthy backend (backends added at runtime count once "
          "they pass `rise` checks); all_down policy keep-last-healthy: still sending "
          "to {} backend(s)",
          down.vip, down.backends_kept);
    }
  }
}

}  // namespace

DataplaneSync::DataplaneSync(StateStore& store, HealthTable& health,
                             std::vector<config::DataplaneEndpoint> dataplanes, SyncOptions options)
    : store_(store), health_(health), options_(options) {
  for (config::DataplaneEndpoint& endpoint : dataplanes) {
    DataplaneReport report;
    report.name = endpoint.name;
    report.socket = endpoint.control_socket;
    reports_.push_back(std::move(report));
    links_.push_back(Link{std::move(endpoint), {}, {}, {}, {}, {}, {}});
  }
  recompute();
}

DataplaneSync::~DataplaneSync() {
  stop();
}

void DataplaneSync::start() {
  thread_ = std::thread([this] { run(); });
}

void DataplaneSync::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DataplaneSync::notify() {
  {
    std::lock_guard lock(mutex_);
    dirty_ = true;
  }
  wake_.notify_all();
}

std::vector<DataplaneReport> DataplaneSync::reports() const {
  std::lock_guard lock(mutex_);
  return reports_;
}

EffectiveState DataplaneSync::effective() const {
  std::lock_guard lock(mutex_);
  return effective_;
}

std::uint64_t DataplaneSync::generation() const {
  std::lock_guard lock(mutex_);
  return generation_;
}

void DataplaneSync::set_weights_source(std::function<WeightFactors()> source) {
  weights_source_ = std::move(source);
}

void DataplaneSync::set_poll_interval(std::chrono::milliseconds interval) {
  std::lock_guard lock(mutex_);
  options_.poll_interval = interval;
}

std::uint64_t shared_generation(std::uint64_t revision, std::uint64_t local_changes,
                                std::uint64_t current) {
  const std::uint64_t n = std::min<std::uint64_t>(local_changes, kGenerationsPerRevision - 1);
  const std::uint64_t generation = revision * kGenerationsPerRevision + n;
  return generation > current ? generation : current + 1;
}

void DataplaneSync::recompute() {
  const DesiredSnapshot snapshot = store_.snapshot();
  const config::State& desired = snapshot.desired;
  const HealthMap health = health_.healthy_map();
  const WeightFactors weights = weights_source_ ? weights_source_() : WeightFactors{};
  std::lock_guard lock(mutex_);
  const config::State* previous = have_effective_ ? &effective_.state : nullptr;
  const auto unix_now = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::system_clock::now().time_since_epoch());
  EffectiveState next = compute_effective_state(
      desired, health, previous, static_cast<std::uint64_t>(unix_now.count()), &weights);
  // etcd: a new shared revision is a new generation even when the content is the same, so
  // that every host numbers the same shared state alike.
  const bool new_revision = snapshot.shared_revision && *snapshot.shared_revision != base_revision_;
  if (have_effective_ && next.state == effective_.state && !new_revision) {
    // Same tables (keep_last_healthy keeps an all-down VIP's backends in service), but which
    // VIPs are all down may have changed: status and the announcer read it.
    effective_.all_down = std::move(next.all_down);
    return;
  }
  if (generation_ >= config::kMaxGeneration) {
    // Only reachable by adopting a dataplane pushed to the maximum by someone else.
    spdlog::error(
        "state: generation {} is the maximum: the change cannot be numbered, so no dataplane "
        "will take it; restart the dataplanes and then the control plane",
        generation_);
    return;
  }
  if (snapshot.shared_revision) {
    if (new_revision) {
      base_revision_ = *snapshot.shared_revision;
      local_changes_ = 0;
    } else {
      ++local_changes_;
    }
    generation_ = std::min(shared_generation(base_revision_, local_changes_, generation_),
                           config::kMaxGeneration);
  } else {
    ++generation_;
  }
  log_changes(previous, have_effective_ ? effective_.all_down : std::vector<AllDownVip>{}, next,
              generation_);
  effective_ = std::move(next);
  have_effective_ = true;
}

void DataplaneSync::run() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, options_.poll_interval, [this] { return stopping_ || dirty_; });
      if (stopping_) return;
      dirty_ = false;
    }
    recompute();
    const auto now = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < links_.size(); ++i) {
      Link& link = links_[i];
      if (link.next_attempt > now) continue;
      DataplaneReport report;
      {
        std::lock_guard lock(mutex_);
        report = reports_[i];
      }
      sync_one(link, report);
      std::lock_guard lock(mutex_);
      reports_[i] = std::move(report);
    }
  }
}

void DataplaneSync::mark_unreachable(Link& link, DataplaneReport& report,
                                     const std::string& error) {
  link.client.reset();
  link.backoff = link.backoff.count() == 0 ? options_.min_backoff
                                           : std::min(link.backoff * 2, options_.max_backoff);
  link.next_attempt = std::chrono::steady_clock::now() + link.backoff;
  ++report.consecutive_failures;
  ++report.unreachable_events;
  report.retry_in = link.backoff;
  report.last_error = error;
  report.in_sync = false;
  if (report.reachable || report.consecutive_failures == 1) {
    spdlog::warn("dataplane {}: unreachable at {}: {}; retrying with backoff", report.name,
                 report.socket, error);
  } else {
    spdlog::debug("dataplane {}: still unreachable ({} tries): {}; next try in {} ms", report.name,
                  report.consecutive_failures, error, link.backoff.count());
  }
  report.reachable = false;
}

void DataplaneSync::sync_one(Link& link, DataplaneReport& report) {
  // A connection that broke since the last poll (the dataplane restarted) gets one fresh try
  // at once, so a restart is resynced within one poll interval rather than after a backoff.
  const bool reused = link.client && link.client->connected();
  bool reconnected = false;
  Result<control::DataplaneStatus> status = Error{"not connected"};
  for (int attempt = 0; attempt < (reused ? 2 : 1); ++attempt) {
    if (!link.client || !link.client->connected()) {
      Result<control::ControlClient> client =
          control::ControlClient::connect(link.endpoint.control_socket, options_.connect_timeout);
      if (!client.ok()) return mark_unreachable(link, report, client.error().message);
      link.client.emplace(std::move(client.value()));
      // Whoever answers on a new connection may be a new process: what the old one
      // acknowledged says nothing about it (its uptime may not even be lower yet).
      reconnected = link.acked_generation.has_value();
      link.acked_generation.reset();
    }
    status = link.client->get_status();
    if (status.ok() || link.client->connected()) break;
  }
  if (!status.ok()) return mark_unreachable(link, report, "get_status: " + status.error().message);
  if (!report.reachable && report.consecutive_failures > 0) {
    spdlog::info("dataplane {}: reachable again after {} failed tries", report.name,
                 report.consecutive_failures);
  }
  report.reachable = true;
  report.consecutive_failures = 0;
  report.retry_in = std::chrono::milliseconds(0);
  link.backoff = std::chrono::milliseconds(0);
  report.generation = status->generation;
  report.uptime_ms = status->uptime_ms;

  // Why the dataplane needs the state (again), if it does.
  std::string reason;
  const bool restarted = link.last_uptime_ms && status->uptime_ms < *link.last_uptime_ms;
  std::uint64_t generation = 0;
  bool exhausted = false;
  {
    std::lock_guard lock(mutex_);
    if (!link.last_uptime_ms) {
      reason = "adopting (found running generation " + std::to_string(status->generation) + ")";
    } else if (restarted) {
      reason = "resync after a dataplane restart";
    } else if (reconnected) {
      reason = "resync after reconnecting (it may have restarted; it runs generation " +
               std::to_string(status->generation) + ")";
    } else if (status->generation != generation_ || link.acked_generation != generation_) {
      // Equal numbers are not enough: someone else may have pushed the number our latest
      // change got before we pushed it. Only what this dataplane acknowledged to us counts.
      reason = status->generation == link.acked_generation.value_or(0)
                   ? "new state"
                   : "resync (it runs generation " + std::to_string(status->generation) +
                         ", not pushed by this control plane)";
    }
    // Every push must carry a generation above anything the dataplane has seen: a dataplane
    // ahead of us (pushed by another controller, or by hand) is adopted by numbering on from
    // its generation. Above kMaxGeneration it would refuse any push.
    if (!reason.empty() && generation_ <= status->generation) {
      if (status->generation >= config::kMaxGeneration) {
        exhausted = true;
      } else {
        generation_ = status->generation + 1;
      }
    }
    generation = generation_;
  }
  link.last_uptime_ms = status->uptime_ms;
  report.status = std::move(status.value());

  if (exhausted) {
    const std::string error =
        "it runs generation " + std::to_string(report.generation) +
        ", the maximum (2^53-1): no newer state can be pushed; restart the dataplane (it then "
        "runs its --config generation) and it is resynced";
    if (report.last_error != error) {
      spdlog::error("dataplane {}: {}", report.name, error);
    }
    report.last_error = error;
    reason.clear();  // nothing to push; counters are still collected
  }

  if (!reason.empty()) {
    config::State state;
    {
      std::lock_guard lock(mutex_);
      state = effective_.state;
    }
    state.generation = generation;
    Result<control::PushStateReply> pushed = link.client->push_state(state, options_.push_timeout);
    if (!pushed.ok()) {
      ++report.push_failures;
      if (!link.client->connected()) {
        return mark_unreachable(link, report, "push_state: " + pushed.error().message);
      }
      // Refused by the dataplane's validation: keep it reachable, retry with backoff.
      spdlog::error("dataplane {}: refused generation {}: {}", report.name, generation,
                    pushed.error().message);
      report.last_error =
          "refused generation " + std::to_string(generation) + ": " + pushed.error().message;
      link.backoff =
          std::min(std::max(link.backoff * 2, options_.min_backoff), options_.max_backoff);
      link.next_attempt = std::chrono::steady_clock::now() + link.backoff;
      report.in_sync = false;
      return;
    }
    ++report.pushes;
    link.acked_generation = pushed->generation;
    report.generation = pushed->generation;
    report.last_error.clear();
    spdlog::info("dataplane {}: pushed generation {} ({})", report.name, pushed->generation,
                 reason);
  }
  {
    std::lock_guard lock(mutex_);
    report.in_sync = report.generation == generation_;
  }

  Result<control::Counters> counters = link.client->get_counters();
  if (!counters.ok())
    return mark_unreachable(link, report, "get_counters: " + counters.error().message);
  // Rates are over about a second whatever the poll interval: the base is the newest sample
  // at least that old (or the oldest kept).
  const auto now = std::chrono::steady_clock::now();
  if (report.counters) link.history.push_back(std::move(*report.counters));
  while (link.history.size() > 1 && now - link.history[1].at >= kRateBase) {
    link.history.pop_front();
  }
  if (!link.history.empty()) report.previous_counters = link.history.front();
  report.counters = CountersSample{std::move(counters.value()), now};
}

Result<std::pair<std::string, control::ExplainResult>> DataplaneSync::explain(
    const control::ExplainFlow& flow, const std::string& dataplane) const {
  std::vector<config::DataplaneEndpoint> candidates;
  {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < links_.size(); ++i) {
      const bool wanted =
          dataplane.empty() ? reports_[i].reachable : links_[i].endpoint.name == dataplane;
      if (wanted) candidates.push_back(links_[i].endpoint);
    }
  }
  if (candidates.empty()) {
    return Error{dataplane.empty() ? "no dataplane is reachable to explain the flow"
                                   : "dataplane: no dataplane named \"" + dataplane + "\""};
  }
  const config::DataplaneEndpoint& target = candidates.front();
  Result<control::ControlClient> client =
      control::ControlClient::connect(target.control_socket, options_.connect_timeout);
  if (!client.ok()) return Error{"dataplane " + target.name + ": " + client.error().message};
  Result<control::ExplainResult> result = client->explain(flow);
  if (!result.ok()) return Error{"dataplane " + target.name + ": " + result.error().message};
  return std::make_pair(target.name, std::move(result.value()));
}

}  // namespace sluice::cp

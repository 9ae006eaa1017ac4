#include "health/health_monitor.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <set>

#include "sluice/config/names.hpp"

namespace sluice::cp {

struct HealthMonitor::Target {
  Target(asio::io_context& io, BackendRef r, ProbeSpec s, bool healthy)
      : ref(std::move(r)),
        spec(std::move(s)),
        dampener(spec.check.rise, spec.check.fall, healthy),
        timer(io) {}

  BackendRef ref;
  ProbeSpec spec;
  Dampener dampener;
  asio::steady_timer timer;
  std::chrono::steady_clock::time_point started{};
  bool stopped = false;
};

HealthMonitor::HealthMonitor(HealthTable& table, std::function<void()> on_transition)
    : table_(table),
      on_transition_(std::move(on_transition)),
      tls_(asio::ssl::context::tls_client) {
  tls_.set_verify_mode(asio::ssl::verify_none);
}

HealthMonitor::~HealthMonitor() {
  stop();
}

void HealthMonitor::start() {
  loop_.start();
}

void HealthMonitor::stop() {
  loop_.stop([this] { cancel_targets(targets_); });
}

void HealthMonitor::reconcile(const config::State& desired) {
  asio::post(loop_.io(), [this, desired] { reconcile_now(desired); });
}

void HealthMonitor::reconcile_now(const config::State& desired) {
  const bool at_start = std::exchange(first_reconcile_, false);
  std::set<BackendRef> wanted;
  for (const config::Vip& vip : desired.vips) {
    const config::VipKey key = config::key_of(vip);
    for (const config::Backend& backend : vip.backends) {
      std::optional<ProbeSpec> spec = probe_spec_for(vip, backend);
      if (!spec) continue;
      BackendRef ref{key, backend.address};
      wanted.insert(ref);

      const auto it = targets_.find(ref);
      if (it != targets_.end() && it->second->spec.check == spec->check &&
          it->second->spec.port == spec->port) {
        continue;  // unchanged
      }
      bool healthy = at_start;
      if (it != targets_.end()) {
        healthy = it->second->dampener.healthy();
        it->second->stopped = true;
        it->second->timer.cancel();
      }
      auto target = std::make_shared<Target>(loop_.io(), ref, *spec, healthy);
      targets_.insert_or_assign(ref, target);

      BackendHealth initial;
      initial.type = spec->check.type;
      initial.target = describe(*spec);
      initial.healthy = healthy;
      initial.rise = target->dampener.rise();
      initial.fall = target->dampener.fall();
      initial.since = std::chrono::system_clock::now();
      initial.reason = healthy ? "assumed healthy at start, not checked yet"
                               : "new backend: waiting for " + std::to_string(initial.rise) +
                                     " successful checks";
      if (const auto previous = table_.find(ref); previous && it != targets_.end()) {
        initial.since = previous->since;
        initial.reason = previous->reason;
      }
      table_.set(ref, std::move(initial));

      // Spread the first round over one interval so thousands of checks do not start at once;
      // a backend added at runtime is checked at once.
      auto first = std::chrono::steady_clock::now();
      if (at_start) {
        const auto interval = std::chrono::milliseconds(spec->check.interval_ms);
        first += std::chrono::milliseconds(std::hash<std::string>{}(to_string(ref)) %
                                           std::max<std::int64_t>(interval.count(), 1));
      }
      schedule(target, first);
    }
  }

  for (auto it = targets_.begin(); it != targets_.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    it->second->stopped = true;
    it->second->timer.cancel();
    table_.erase(it->first);
    it = targets_.erase(it);
  }
}

void HealthMonitor::schedule(const std::shared_ptr<Target>& target,
                             std::chrono::steady_clock::time_point at) {
  target->timer.expires_at(at);
  target->timer.async_wait([this, target](const boost::system::error_code& ec) {
    if (ec || target->stopped) return;
    run_check(target);
  });
}

void HealthMonitor::run_check(const std::shared_ptr<Target>& target) {
  target->started = std::chrono::steady_clock::now();
  start_probe(loop_.io(), tls_, target->spec, [this, target](ProbeOutcome outcome) {
    if (target->stopped) return;
    record(target, outcome);
    // Fixed rate: the next check starts one interval after this one started.
    const auto next = target->started + std::chrono::milliseconds(target->spec.check.interval_ms);
    schedule(target, std::max(next, std::chrono::steady_clock::now()));
  });
}

void HealthMonitor::record(const std::shared_ptr<Target>& target, const ProbeOutcome& outcome) {
  if (outcome.local_error) return record_local_error(target, outcome);
  const HealthTransition transition = target->dampener.record(outcome.success);
  const auto now = std::chrono::system_clock::now();
  table_.update(target->ref, [&](BackendHealth& h) {
    h.healthy = target->dampener.healthy();
    h.streak = target->dampener.streak();
    h.last = outcome;
    h.last_checked = now;
    ++h.checks;
    if (!outcome.success) ++h.failures;
    if (outcome.success) h.latency.observe(outcome.latency);
    if (transition != HealthTransition::none) {
      h.since = now;
      h.reason = (transition == HealthTransition::became_healthy
                      ? std::to_string(target->dampener.rise()) + " consecutive successes"
                      : std::to_string(target->dampener.fall()) + " consecutive failures") +
                 ", last: " + outcome.detail;
    }
  });

  if (transition == HealthTransition::became_unhealthy) {
    spdlog::warn("health: backend {} is DOWN after {} consecutive failed {} checks, last: {}",
                 to_string(target->ref), target->dampener.fall(), describe(target->spec),
                 outcome.detail);
  } else if (transition == HealthTransition::became_healthy) {
    spdlog::info("health: backend {} is UP after {} consecutive successful {} checks ({})",
                 to_string(target->ref), target->dampener.rise(), describe(target->spec),
                 outcome.detail);
  }
  if (transition != HealthTransition::none) on_transition_();
}

// Neither a success nor a failure: the dampener does not move, the backend keeps its state.
void HealthMonitor::record_local_error(const std::shared_ptr<Target>& target,
                                       const ProbeOutcome& outcome) {
  table_.update(target->ref, [&](BackendHealth& h) {
    h.last = outcome;
    h.last_checked = std::chrono::system_clock::now();
    ++h.checks;
    ++h.local_errors;
  });
  if (const std::uint64_t n = local_error_log_.note()) {
    spdlog::warn(
        "health: cannot check backend {} ({}): {}; the control plane is short of resources, not "
        "the backend: it stays {} ({} local error(s) since the last such message)",
        to_string(target->ref), describe(target->spec), outcome.detail,
        target->dampener.healthy() ? "up" : "down", n);
  }
}

}  // namespace sluice::cp

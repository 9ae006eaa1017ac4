// Runs the health checks of every backend on one thread: each backend has a timer and at most
// one probe in flight; probes are asynchronous, so thousands of backends need no more threads.
// Results go through a Dampener into the HealthTable; a flip is logged with its reason and
// reported through `on_transition` (the pusher recomputes the effective state).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include "common/asio.hpp"
#include "common/check_thread.hpp"
#include "common/rate_limited_log.hpp"
#include "health/dampener.hpp"
#include "health/health_table.hpp"
#include "health/probe.hpp"
#include "sluice/config/model.hpp"

namespace sluice::cp {

// The check in force for one backend: its own, else its VIP's; nullopt for none.
[[nodiscard]] std::optional<ProbeSpec> probe_spec_for(const config::Vip& vip,
                                                      const config::Backend& backend);

class HealthMonitor {
 public:
  HealthMonitor(HealthTable& table, std::function<void()> on_transition);
  ~HealthMonitor();
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  void start();
  void stop();

  // Brings the set of checked backends in line with `desired` (thread-safe). Backends present
  // at the first call start healthy (a restarted control plane keeps what the dataplanes run);
  // backends added later start unhealthy and join after `rise` successes. A backend whose
  // check changed keeps its current state.
  void reconcile(const config::State& desired);

 private:
  struct Target;

  void reconcile_now(const config::State& desired);
  void schedule(const std::shared_ptr<Target>& target, std::chrono::steady_clock::time_point at);
  void run_check(const std::shared_ptr<Target>& target);
  void record(const std::shared_ptr<Target>& target, const ProbeOutcome& outcome);
  void record_local_error(const std::shared_ptr<Target>& target, const ProbeOutcome& outcome);

  HealthTable& table_;
  std::function<void()> on_transition_;
  CheckThread loop_;
  asio::ssl::context tls_;
  std::map<BackendRef, std::shared_ptr<Target>> targets_;  // health thread only
  bool first_reconcile_ = true;
  RateLimitedLog local_error_log_;  // one line per interval, whatever the number of backends
};

}  // namespace sluice::cp

// Keeps every dataplane running the current effective state. One thread polls each dataplane
// (get_status, about every second), pushes the complete effective state with a generation
// higher than any it has seen whenever the content changed or the dataplane restarted or was
// just found (adoption: same content, higher generation, no hiccup), and collects counters for
// metrics and stats. An unreachable dataplane is retried with exponential backoff and
// reported. Nothing is pushed at shutdown: dataplanes keep forwarding (fail-static).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "health/health_table.hpp"
#include "sluice/config/model.hpp"
#include "sluice/control/client.hpp"
#include "sluice/control/messages.hpp"
#include "state/effective_state.hpp"
#include "state/state_store.hpp"

namespace sluice::cp {

struct SyncOptions {
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::milliseconds min_backoff{1000};
  // Retrying a Unix socket costs a failed connect(): a short ceiling keeps the resync of a
  // restarted dataplane within about 2 s of its return, however long it was away.
  std::chrono::milliseconds max_backoff{2000};
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds request_timeout{2000};
  // The dataplane validates, builds Maglev tables and publishes before it answers: a state at
  // the limits (4096 VIPs) took 12-28 s on the 2-core lab VM under load (docs/dataplane.md).
  std::chrono::milliseconds push_timeout{60000};
};

struct CountersSample {
  control::Counters counters;
  std::chrono::steady_clock::time_point at;
};

// What the control plane knows about one dataplane (API status, metrics).
struct DataplaneReport {
  std::string name;
  std::string socket;
  bool reachable = false;
  bool in_sync = false;          // running the current effective generation
  std::uint64_t generation = 0;  // what it runs, as last seen
  std::uint64_t uptime_ms = 0;
  std::uint64_t pushes = 0;
  std::uint64_t push_failures = 0;
  std::uint64_t unreachable_events = 0;  // reachable -> unreachable transitions and failed tries
  std::uint32_t consecutive_failures = 0;
  std::chrono::milliseconds retry_in{0};  // current backoff
  std::string last_error;
  std::optional<control::DataplaneStatus> status;
  std::optional<CountersSample> counters;
  std::optional<CountersSample> previous_counters;  // for rates
};

// With a shared state (etcd), the generation of the effective state: the shared state's
// mod_revision * 65536 plus `local_changes` (health changes on this host since that
// revision, capped at 65535), so every host runs the same number for the same shared state
// and health. Above `current` in any case (the number only grows).
inline constexpr std::uint64_t kGenerationsPerRevision = 65536;
[[nodiscard]] std::uint64_t shared_generation(std::uint64_t revision, std::uint64_t local_changes,
                                              std::uint64_t current);

class DataplaneSync {
 public:
  DataplaneSync(StateStore& store, HealthTable& health,
                std::vector<config::DataplaneEndpoint> dataplanes, SyncOptions options = {});
  ~DataplaneSync();
  DataplaneSync(const DataplaneSync&) = delete;
  DataplaneSync& operator=(const DataplaneSync&) = delete;

  // Adaptive weights: where recompute() reads them (the WeightController). Set before start().
  void set_weights_source(std::function<WeightFactors()> source);
  // How often every dataplane is polled for status and counters (the passive signals of
  // adaptive VIPs need samples faster than once a second). Rates stay over about a second.
  void set_poll_interval(std::chrono::milliseconds interval);

  void start();
  void stop();
  // The desired state or a backend's health changed: recompute and push now.
  void notify();

  [[nodiscard]] std::vector<DataplaneReport> reports() const;
  [[nodiscard]] EffectiveState effective() const;
  [[nodiscard]] std::uint64_t generation() const;

  // Asks one dataplane (by name, or the first reachable one) which backend a flow gets.
  [[nodiscard]] Result<std::pair<std::string, control::ExplainResult>> explain(
      const control::ExplainFlow& flow, const std::string& dataplane) const;

 private:
  struct Link {
    config::DataplaneEndpoint endpoint;
    std::optional<control::ControlClient> client;
    std::optional<std::uint64_t> acked_generation;  // what we pushed and it confirmed
    std::optional<std::uint64_t> last_uptime_ms;
    std::chrono::steady_clock::time_point next_attempt{};
    std::chrono::milliseconds backoff{0};
    std::deque<CountersSample> history;  // the last ~2 s of samples: the base of rates
  };

  void run();
  void recompute();
  void sync_one(Link& link, DataplaneReport& report);
  void mark_unreachable(Link& link, DataplaneReport& report, const std::string& error);

  StateStore& store_;
  HealthTable& health_;
  SyncOptions options_;
  std::function<WeightFactors()> weights_source_;

  std::thread thread_;
  mutable std::mutex mutex_;  // guards everything below except links_
  std::condition_variable wake_;
  bool stopping_ = false;
  bool dirty_ = true;
  EffectiveState effective_;
  bool have_effective_ = false;
  std::uint64_t generation_ = 0;  // of effective_; only grows
  // etcd: generation = shared revision * 65536 + local changes since it (docs/tier.md).
  std::uint64_t base_revision_ = 0;
  std::uint64_t local_changes_ = 0;
  std::vector<DataplaneReport> reports_;

  std::vector<Link> links_;  // sync thread only
};

}  // namespace sluice::cp

// Turns the signals of adaptive VIPs into their backends' effective weights
// (docs/adaptive-weights.md). Every 250 ms: the check latency of each backend (peak EWMA of the
// health checks), its agent's reply, its SYNs and SYN retransmissions over the last second
// (summed over every dataplane), and its health feed lb::AdaptiveVip; a change is published to
// DataplaneSync (which pushes it) and logged with the Maglev slots it moved.
//
// In a tier every host must build the same tables: when `follow` is set (a shared state whose
// weights another host computes), this controller publishes what it is given instead.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "dataplanes/dataplane_sync.hpp"
#include "etcd/weight_share.hpp"
#include "health/health_table.hpp"
#include "sluice/lb/adaptive_weights.hpp"
#include "state/effective_state.hpp"
#include "state/state_store.hpp"
#include "state/weight_report.hpp"

namespace sluice::cp {

struct WeightControllerOptions {
  // A blackholed backend's first retransmitted SYNs come a second after its first lost ones;
  // steps (and dataplane polls) of 100 ms take it out within about 1.3 s of the blackhole.
  std::chrono::milliseconds step{100};
  std::chrono::milliseconds passive_window{1000};
  double latency_tau_ms = 2000;
  lb::AdaptiveTuning tuning = paced_tuning();

  // At most 4% of a table per 100 ms step: a recovered backend gets a third of the table
  // back in about a second, and a jittery one cannot churn it.
  static lb::AdaptiveTuning paced_tuning() {
    lb::AdaptiveTuning t;
    t.max_moved_share = 0.04;
    return t;
  }
};

class WeightController {
 public:
  WeightController(StateStore& store, HealthTable& health, DataplaneSync& sync,
                   WeightControllerOptions options = {});
  ~WeightController();
  WeightController(const WeightController&) = delete;
  WeightController& operator=(const WeightController&) = delete;

  // Where agent replies come from (AgentMonitor); unset: no agent signal. Before start().
  void set_agent_source(std::function<AgentSignals()> source);

  // A tier (state_store: etcd): the weights of the host that holds the lease. Before start().
  void set_share(EtcdWeightShare* share);

  void start();
  void stop();

  // Where the pushed weights come from: "local", "this host (etcd lease)", "etcd: lb1".
  [[nodiscard]] std::string source() const;

  // The weights DataplaneSync pushes.
  [[nodiscard]] WeightFactors published() const;
  [[nodiscard]] std::map<BackendRef, WeightReport> reports() const;
  // Weight publications per VIP (vip_key text) since start, and Maglev slots they moved.
  [[nodiscard]] std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> publications() const;

  // One step at `now` (the thread calls it; tests may too).
  void step(std::chrono::steady_clock::time_point now);

 private:
  struct Sample {
    std::chrono::steady_clock::time_point at;
    std::uint64_t syns = 0;
    std::uint64_t retransmits = 0;
  };
  struct BackendTrack {
    lb::PeakEwma latency;
    std::chrono::system_clock::time_point last_probe{};
    std::deque<Sample> samples;
  };

  void run();
  [[nodiscard]] WeightFactors choose(const WeightFactors& mine, const WeightFactors& before);
  [[nodiscard]] std::string source_note() const;

  StateStore& store_;
  HealthTable& health_;
  DataplaneSync& sync_;
  WeightControllerOptions options_;
  std::function<AgentSignals()> agent_source_;
  EtcdWeightShare* share_ = nullptr;
  std::chrono::steady_clock::time_point epoch_ = std::chrono::steady_clock::now();

  // The step's own state (the thread, or a test, never both).
  std::map<std::string, lb::AdaptiveVip> vips_;  // by vip_key text
  std::map<BackendRef, BackendTrack> tracks_;

  mutable std::mutex mutex_;  // guards what follows
  std::condition_variable wake_;
  bool stopping_ = false;
  WeightFactors published_;
  std::map<BackendRef, WeightReport> reports_;
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> publications_;
  std::thread thread_;
};

}  // namespace sluice::cp

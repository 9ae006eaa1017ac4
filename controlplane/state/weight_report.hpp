// What the WeightController knows of each backend of an adaptive VIP, for status and metrics,
// and the agent signal it reads (docs/adaptive-weights.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "sluice/lb/adaptive_weights.hpp"
#include "state/backend_ref.hpp"

namespace sluice::cp {

// An agent's meaning for one backend (from AgentMonitor), as the weights use it.
struct AgentSignal {
  std::optional<std::uint32_t> percent;  // of the configured weight
  std::optional<std::uint32_t> weight;   // "weight:N": an absolute weight, at most the configured
  lb::AgentWord word = lb::AgentWord::none;
  std::string text;  // "50%", "drain": status
};
using AgentSignals = std::map<BackendRef, AgentSignal>;

// Check latencies kept per backend for the windowed p50 / p99.
inline constexpr std::size_t kLatencyWindow = 20;

// What status and metrics show of one backend of an adaptive VIP.
struct WeightReport {
  lb::BackendWeight weight;
  std::optional<double> check_latency_ms;  // peak EWMA
  std::optional<double> check_p50_ms;      // over the last kLatencyWindow checks
  std::optional<double> check_p99_ms;
  double syns_per_s = 0;  // over the passive window, every dataplane
  double syn_retransmits_per_s = 0;
  std::string agent;  // the agent's last reply, "" without one
};

}  // namespace sluice::cp

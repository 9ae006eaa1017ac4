// What the WeightController knows of each backend of an adaptive VIP, for status and metrics,
// and the agent signal it reads (docs/adaptive-weights.md).
#pragma once

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

// What status and metrics show of one backend of an adaptive VIP.
struct WeightReport {
  lb::BackendWeight weight;
  std::optional<double> check_latency_ms;  // peak EWMA
  double syns_per_s = 0;                   // over the passive window, every dataplane
  double syn_retransmits_per_s = 0;
  std::string agent;  // the agent's last reply, "" without one
};

}  // namespace sluice::cp

// One frame of `sluicectl top`, drawn from the daemon's GET /v1/status and GET /v1/stats
// documents: a pure function (no I/O), so that its columns can be tested on any JSON.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace sluice::ctl {

// Cumulative counters of the previous frame, for the rates the daemon does not compute itself
// (SYN retransmissions, when the dataplane reports them). render_top replaces it each frame.
struct TopHistory {
  double at = 0;                                  // Unix seconds of that frame (0: none yet)
  std::map<std::string, double> syn_retransmits;  // "VIP ADDRESS" -> counter
};

// The frame as text: a header line, per VIP a summary line and a table of its backends, then
// the drops by reason. The REASON, SYN RTX/S and CHECK columns appear only when a backend of
// the VIP has weight_reason, syn_retransmits or check_latency_ms.
[[nodiscard]] std::string render_top(const nlohmann::json& status, const nlohmann::json& stats,
                                     double now, double interval_s, bool interactive,
                                     TopHistory& history);

}  // namespace sluice::ctl

// The load signals of one backend in /v1/status (docs/adaptive-weights.md, "What operators
// see"): configured and effective weight with the reason, check latency (windowed estimate and
// percentiles), handshake time percentiles over the last second, SYN retransmits and new
// connections per second.
#pragma once

#include <map>
#include <vector>

#include <nlohmann/json.hpp>

#include "dataplanes/dataplane_sync.hpp"
#include "health/health_table.hpp"
#include "sluice/config/model.hpp"
#include "state/weight_report.hpp"

namespace sluice::cp {

// Adds the fields to `entry` (a backend of status_view). `weight` is the controller's report
// for a backend of an adaptive VIP, nullptr otherwise.
void add_backend_signals(nlohmann::json& entry, const config::Vip& vip,
                         const config::Backend& pushed, const BackendHealth* health,
                         const WeightReport* weight,
                         const std::vector<DataplaneReport>& dataplanes);

// The q-quantile (0..1) of a latency histogram, as the upper bound of its bucket, in ms;
// null without observations.
[[nodiscard]] nlohmann::json check_latency_quantile(const LatencyHistogram& h, double q);
// ... of handshake-time buckets ([i]: [2^(i-1), 2^i) ms, [0] < 1 ms).
[[nodiscard]] nlohmann::json handshake_quantile(
    const std::array<std::uint64_t, control::kHandshakeBucketCount>& buckets, double q);

}  // namespace sluice::cp

// Prometheus text exposition (format 0.0.4) of everything the control plane knows: dataplane
// counters labelled by dataplane, health state and check latency per backend, drop reasons,
// per-lcore load, dataplane generation and reachability. Pure: built from snapshots.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "announce/announcer.hpp"
#include "api/http_server_report.hpp"
#include "api/views.hpp"
#include "dataplanes/dataplane_sync.hpp"
#include "state/effective_state.hpp"
#include "state/weight_report.hpp"

namespace sluice::cp {

struct MetricsInputs {
  const config::State& desired;
  const EffectiveState& effective;
  std::uint64_t generation;
  const HealthSnapshot& health;
  const std::vector<DataplaneReport>& dataplanes;
  std::vector<HttpServerReport> servers = {};  // the API's and the metrics endpoint's
};

[[nodiscard]] std::string render_metrics(const MetricsInputs& in);

// The announcements (docs/tier.md): sluice_vip_announced{vip}, sluice_host_drained,
// sluice_bgp_session_up{protocol} (BGP protocols of the local BIRD), sluice_bird_configures_total,
// sluice_bird_configure_failures_total.
[[nodiscard]] std::string render_announce_metrics(const AnnounceReport& report);

// The desired state's store (docs/tier.md): sluice_state_store_info{kind,host},
// sluice_state_store_connected, sluice_state_store_revision, sluice_state_store_refused.
[[nodiscard]] std::string render_state_store_metrics(const StateStoreStatus& status);

// Adaptive weights (docs/adaptive-weights.md): sluice_backend_weight_percent,
// sluice_backend_passive_out, sluice_backend_check_latency_ewma_seconds,
// sluice_weight_publications_total{vip}, sluice_weight_slots_moved_total{vip}.
[[nodiscard]] std::string render_weight_metrics(
    const std::map<BackendRef, WeightReport>& weights,
    const std::map<std::string, std::pair<std::uint64_t, std::uint64_t>>& publications);

// Escapes a label value (backslash, double quote, newline).
[[nodiscard]] std::string escape_label(std::string_view value);

}  // namespace sluice::cp

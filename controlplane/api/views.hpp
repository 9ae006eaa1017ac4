// The read-only API views (status, stats, health) as pure functions of what the daemon knows,
// so they can be tested without sockets. Field names, units and limits: docs/operations.md.
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "dataplanes/dataplane_sync.hpp"
#include "health/health_table.hpp"
#include "sluice/config/model.hpp"
#include "state/effective_state.hpp"
#include "state/weight_report.hpp"

namespace sluice::cp {

using HealthSnapshot = std::vector<std::pair<BackendRef, BackendHealth>>;

// Fraction (0..1) of the VIP's Maglev table each backend of `effective_vip` owns, computed
// with lib/sluice/lb/maglev.hpp exactly as the dataplane builds it (key = the backend
// address). Empty when the VIP does not use maglev or the table cannot be built.
[[nodiscard]] std::map<IpAddress, double> maglev_shares(const config::Vip& effective_vip);

struct StatusInputs {
  const config::State& desired;
  const EffectiveState& effective;
  std::uint64_t generation;
  std::uint64_t revision;
  const HealthSnapshot& health;
  const std::vector<DataplaneReport>& dataplanes;
  // Adaptive VIPs (WeightController): per backend, and publications per VIP.
  const std::map<BackendRef, WeightReport>* weights = nullptr;
  const std::map<std::string, std::pair<std::uint64_t, std::uint64_t>>* publications = nullptr;
};
[[nodiscard]] nlohmann::json status_view(const StatusInputs& in);

// Counters summed over every dataplane, with per-second rates over the last poll interval.
[[nodiscard]] nlohmann::json stats_view(const std::vector<DataplaneReport>& dataplanes);

[[nodiscard]] nlohmann::json health_view(const config::State& desired,
                                         const HealthSnapshot& health);

// {"kind": "file", "file": ...} or {"kind": "etcd", "endpoints": [...], "key", "host_name",
// "connected", "last_error", "revision", "read_revision", "refused"}.
[[nodiscard]] nlohmann::json state_store_view(const StateStoreStatus& status);

[[nodiscard]] nlohmann::json dataplanes_view(const std::vector<DataplaneReport>& dataplanes);

}  // namespace sluice::cp

// Effective state = the desired state with every backend's pushed layer filled in: its state
// (up, draining or down) from the operator's intent and the dampened health, and the weight
// the scheduler uses. Every configured backend is in it, whatever its health, so a backend keeps
// its identity in the dataplanes (and its counters) through any number of flaps. This is what
// every dataplane runs. Pure: the same inputs give the same state, so a restarted control plane
// recomputes exactly what the dataplanes already have (adoption, no hiccup).
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sluice/config/model.hpp"
#include "sluice/lb/adaptive_weights.hpp"
#include "state/backend_ref.hpp"

namespace sluice::cp {

// Dampened health per backend; a backend without an entry counts as healthy (no check
// configured, or not decided yet).
using HealthMap = std::map<BackendRef, bool>;

// Adaptive weights (WeightController, docs/adaptive-weights.md): per backend of an adaptive VIP,
// the percent of its configured weight that new flows see. A backend without an entry: 100%.
using WeightFactors = std::map<BackendRef, lb::BackendWeight>;

// A VIP none of whose backends is healthy, and what the all-down policy did about it.
struct AllDownVip {
  std::string vip;  // config::vip_key()
  config::AllDownPolicy policy;
  std::size_t backends_kept = 0;  // keep_last_healthy: backends still receiving new flows
};

struct EffectiveState {
  config::State state;  // generation 0: the pusher numbers it
  std::vector<AllDownVip> all_down;
};

// `previous` is the effective state computed last time (nullptr at start): keep_last_healthy
// keeps the backends that were not down in it for a VIP that is now all down. Without any
// (start-up, or every previous backend was removed) it keeps every desired backend: a VIP never
// blackholes silently under that policy.
//
// A VIP's `previous` block (second chance) is dropped once it has expired at `now_unix_s`
// (config::previous_expired; nullopt: kept), and its backends that this host sees down get
// weight 0, as in the current table.
//
// On an adaptive VIP a backend's effective_weight is weight x percent (hundredths of its
// weight, config::kAdaptiveWeightScale) from `weights`; 0% makes it draining, `down` down.
[[nodiscard]] EffectiveState compute_effective_state(
    const config::State& desired, const HealthMap& health, const config::State* previous,
    std::optional<std::uint64_t> now_unix_s = std::nullopt, const WeightFactors* weights = nullptr);

}  // namespace sluice::cp

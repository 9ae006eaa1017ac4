#include "state/effective_state.hpp"

#include <algorithm>
#include <set>

#include "sluice/config/names.hpp"
#include "sluice/config/second_chance.hpp"

namespace sluice::cp {
namespace {

bool is_healthy(const HealthMap& health, const config::VipKey& vip, const IpAddress& backend) {
  const auto it = health.find(BackendRef{vip, backend});
  return it == health.end() || it->second;
}

// The backend as the dataplanes get it: the intent, plus the state and weight they act on.
// `serving`: healthy, or kept by the all-down policy. `factor`: the adaptive weight of a
// backend of an adaptive VIP (nullptr: full weight, or a static VIP).
config::Backend pushed_backend(const config::Backend& desired, bool serving, bool adaptive,
                               const lb::BackendWeight* factor) {
  config::Backend out;
  out.address = desired.address;
  out.weight = desired.weight;
  out.drained = desired.drained;
  const std::uint32_t percent = factor != nullptr ? factor->percent : 100;
  if (!serving || (factor != nullptr && factor->down)) {
    out.state = config::BackendState::down;
  } else if (desired.drained || desired.weight == 0 || (adaptive && percent == 0)) {
    out.state = config::BackendState::draining;
  } else {
    out.state = config::BackendState::up;
  }
  const std::uint32_t up_weight = adaptive ? desired.weight * percent : desired.weight;
  out.effective_weight = *out.state == config::BackendState::up ? up_weight : 0;
  return out;
}

// Backends of the VIP that were not down in the previous effective state.
std::set<IpAddress> previously_serving(const config::State* previous, const config::VipKey& key) {
  std::set<IpAddress> out;
  if (previous == nullptr) return out;
  if (const config::Vip* vip = config::find_vip(*previous, key)) {
    for (const config::Backend& b : vip->backends) {
      if (config::pushed_state(b) != config::BackendState::down) out.insert(b.address);
    }
  }
  return out;
}

}  // namespace

EffectiveState compute_effective_state(const config::State& desired, const HealthMap& health,
                                       const config::State* previous,
                                       std::optional<std::uint64_t> now_unix_s,
                                       const WeightFactors* weights) {
  EffectiveState result;
  result.state.dataplane = desired.dataplane;
  result.state.vips.reserve(desired.vips.size());

  for (const config::Vip& vip : desired.vips) {
    const config::VipKey key = config::key_of(vip);
    config::Vip out = vip;
    out.health_check.reset();
    out.backends.clear();

    const bool any_healthy =
        std::any_of(vip.backends.begin(), vip.backends.end(),
                    [&](const config::Backend& b) { return is_healthy(health, key, b.address); });
    std::set<IpAddress> kept;  // all down under keep_last_healthy: these stay in service
    if (!any_healthy && !vip.backends.empty()) {
      AllDownVip note{config::to_string(key), vip.all_down, 0};
      if (vip.all_down == config::AllDownPolicy::keep_last_healthy) {
        kept = previously_serving(previous, key);
        std::erase_if(kept, [&](const IpAddress& a) {
          return std::none_of(vip.backends.begin(), vip.backends.end(),
                              [&](const config::Backend& b) { return b.address == a; });
        });
        if (kept.empty()) {
          for (const config::Backend& b : vip.backends)
            kept.insert(b.address);
        }
        note.backends_kept = kept.size();
      }
      result.all_down.push_back(std::move(note));
    }
    const bool adaptive = config::adaptive_weights(vip);
    for (const config::Backend& b : vip.backends) {
      const bool serving = is_healthy(health, key, b.address) || kept.contains(b.address);
      const lb::BackendWeight* factor = nullptr;
      if (adaptive && weights != nullptr) {
        const auto it = weights->find(BackendRef{key, b.address});
        if (it != weights->end()) factor = &it->second;
      }
      out.backends.push_back(pushed_backend(b, serving, adaptive, factor));
    }
    if (out.previous && now_unix_s &&
        config::previous_expired(*out.previous, desired.dataplane, *now_unix_s)) {
      out.previous.reset();
    }
    if (out.previous) {
      for (config::PreviousBackend& p : out.previous->backends) {
        if (!is_healthy(health, key, p.address)) p.weight = 0;
      }
    }
    result.state.vips.push_back(std::move(out));
  }
  return result;
}

}  // namespace sluice::cp

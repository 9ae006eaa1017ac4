#include "state/effective_state.hpp"

#include <algorithm>
#include <set>

#include "sluice/config/names.hpp"

namespace sluice::cp {
namespace {

bool is_healthy(const HealthMap& health, const config::VipKey& vip, const IpAddress& backend) {
  const auto it = health.find(BackendRef{vip, backend});
  return it == health.end() || it->second;
}

// What the dataplane needs of a backend: its address and the weight new flows see.
config::Backend effective_backend(const config::Backend& desired) {
  config::Backend out;
  out.address = desired.address;
  out.weight = desired.drained ? 0 : desired.weight;
  return out;
}

std::set<IpAddress> previous_backends(const config::State* previous, const config::VipKey& key) {
  std::set<IpAddress> out;
  if (previous == nullptr) return out;
  if (const config::Vip* vip = config::find_vip(*previous, key)) {
    for (const config::Backend& b : vip->backends)
      out.insert(b.address);
  }
  return out;
}

}  // namespace

EffectiveState compute_effective_state(const config::State& desired, const HealthMap& health,
                                       const config::State* previous) {
  EffectiveState result;
  result.state.dataplane = desired.dataplane;
  result.state.vips.reserve(desired.vips.size());

  for (const config::Vip& vip : desired.vips) {
    const config::VipKey key = config::key_of(vip);
    config::Vip out = vip;
    out.health_check.reset();
    out.backends.clear();
    for (const config::Backend& b : vip.backends) {
      if (is_healthy(health, key, b.address)) out.backends.push_back(effective_backend(b));
    }

    if (out.backends.empty() && !vip.backends.empty()) {
      AllDownVip note{config::to_string(key), vip.all_down, 0};
      if (vip.all_down == config::AllDownPolicy::keep_last_healthy) {
        const std::set<IpAddress> last = previous_backends(previous, key);
        for (const config::Backend& b : vip.backends) {
          if (last.contains(b.address)) out.backends.push_back(effective_backend(b));
        }
        if (out.backends.empty()) {
          for (const config::Backend& b : vip.backends)
            out.backends.push_back(effective_backend(b));
        }
        note.backends_kept = out.backends.size();
      }
      result.all_down.push_back(std::move(note));
    }
    result.state.vips.push_back(std::move(out));
  }
  return result;
}

}  // namespace sluice::cp

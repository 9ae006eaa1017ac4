#include "state/mutations.hpp"

#include <algorithm>
#include <functional>
#include <utility>

#include "sluice/config/validate.hpp"

namespace sluice::cp {
namespace {

Refusal refuse(RefusalKind kind, std::string message) {
  return Refusal{kind, std::move(message)};
}

Refusal vip_not_found(const config::VipKey& key) {
  return refuse(RefusalKind::not_found,
                "vip: no VIP " + config::to_string(key) + " (list them with: sluicectl vip list)");
}

config::Backend* find_backend(config::Vip& vip, const IpAddress& address) {
  const auto it = std::find_if(vip.backends.begin(), vip.backends.end(),
                               [&](const config::Backend& b) { return b.address == address; });
  return it == vip.backends.end() ? nullptr : &*it;
}

// Applies `change` to a copy, validates the whole result, and only then commits it.
Mutation apply_validated(config::State& state,
                         const std::function<Mutation(config::State&)>& change) {
  config::State next = state;
  if (Mutation refused = change(next)) return refused;
  if (Status valid = config::validate_desired(next); !valid.ok()) {
    return refuse(RefusalKind::invalid, valid.error().message);
  }
  state = std::move(next);
  return std::nullopt;
}

// Runs `change` on one existing backend of one existing VIP.
Mutation with_backend(config::State& state, const config::VipKey& key, const IpAddress& address,
                      const std::function<void(config::Backend&)>& change) {
  return apply_validated(state, [&](config::State& next) -> Mutation {
    config::Vip* vip = config::find_vip(next, key);
    if (vip == nullptr) return vip_not_found(key);
    config::Backend* backend = find_backend(*vip, address);
    if (backend == nullptr) {
      return refuse(RefusalKind::not_found, "address: VIP " + config::to_string(key) +
                                                " has no backend " + address.to_string());
    }
    change(*backend);
    return std::nullopt;
  });
}

}  // namespace

Mutation add_vip(config::State& state, const config::Vip& vip) {
  return apply_validated(state, [&](config::State& next) -> Mutation {
    const config::VipKey key = config::key_of(vip);
    if (config::find_vip(next, key) != nullptr) {
      return refuse(RefusalKind::conflict, "vip: " + config::to_string(key) + " already exists");
    }
    next.vips.push_back(vip);
    return std::nullopt;
  });
}

Mutation remove_vip(config::State& state, const config::VipKey& key) {
  return apply_validated(state, [&](config::State& next) -> Mutation {
    const auto it = std::find_if(next.vips.begin(), next.vips.end(),
                                 [&](const config::Vip& v) { return config::key_of(v) == key; });
    if (it == next.vips.end()) return vip_not_found(key);
    next.vips.erase(it);
    return std::nullopt;
  });
}

Mutation add_backend(config::State& state, const config::VipKey& key,
                     const config::Backend& backend) {
  return apply_validated(state, [&](config::State& next) -> Mutation {
    config::Vip* vip = config::find_vip(next, key);
    if (vip == nullptr) return vip_not_found(key);
    if (find_backend(*vip, backend.address) != nullptr) {
      return refuse(RefusalKind::conflict, "backend.address: VIP " + config::to_string(key) +
                                               " already has backend " +
                                               backend.address.to_string());
    }
    vip->backends.push_back(backend);
    return std::nullopt;
  });
}

Mutation remove_backend(config::State& state, const config::VipKey& key, const IpAddress& address) {
  return apply_validated(state, [&](config::State& next) -> Mutation {
    config::Vip* vip = config::find_vip(next, key);
    if (vip == nullptr) return vip_not_found(key);
    const auto it = std::find_if(vip->backends.begin(), vip->backends.end(),
                                 [&](const config::Backend& b) { return b.address == address; });
    if (it == vip->backends.end()) {
      return refuse(RefusalKind::not_found, "address: VIP " + config::to_string(key) +
                                                " has no backend " + address.to_string());
    }
    vip->backends.erase(it);
    return std::nullopt;
  });
}

Mutation set_weight(config::State& state, const config::VipKey& key, const IpAddress& address,
                    std::uint32_t weight) {
  return with_backend(state, key, address, [&](config::Backend& b) { b.weight = weight; });
}

Mutation set_drained(config::State& state, const config::VipKey& key, const IpAddress& address,
                     bool drained) {
  return with_backend(state, key, address, [&](config::Backend& b) { b.drained = drained; });
}

}  // namespace sluice::cp

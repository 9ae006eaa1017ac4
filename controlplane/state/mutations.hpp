// The runtime changes the API offers, as pure functions over a desired State. Each either
// applies the change and leaves a State that passes config::validate(), or refuses and leaves
// `state` exactly as it was.
#pragma once

#include <cstdint>
#include <optional>

#include "sluice/config/model.hpp"
#include "sluice/config/names.hpp"
#include "state/refusal.hpp"

namespace sluice::cp {

using Mutation = std::optional<Refusal>;  // nullopt: applied

[[nodiscard]] Mutation add_vip(config::State& state, const config::Vip& vip);
[[nodiscard]] Mutation remove_vip(config::State& state, const config::VipKey& vip);
[[nodiscard]] Mutation add_backend(config::State& state, const config::VipKey& vip,
                                   const config::Backend& backend);
[[nodiscard]] Mutation remove_backend(config::State& state, const config::VipKey& vip,
                                      const IpAddress& backend);
[[nodiscard]] Mutation set_weight(config::State& state, const config::VipKey& vip,
                                  const IpAddress& backend, std::uint32_t weight);
[[nodiscard]] Mutation set_drained(config::State& state, const config::VipKey& vip,
                                   const IpAddress& backend, bool drained);

}  // namespace sluice::cp

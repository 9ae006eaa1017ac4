// The shared part of the desired state as one JSON document, the value of etcd's
// `<prefix>state` key (docs/tier.md, "Shared state in etcd"):
//   {"format": 1, "written_by": "lb1", "vips": [ ...the API's JSON wire form of each VIP... ]}
// Per-host settings (dataplane:, dataplanes:, controlplane:) are never in it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sluice/config/model.hpp"
#include "sluice/result.hpp"

namespace sluice::cp {

inline constexpr int kSharedStateFormat = 1;

[[nodiscard]] std::string encode_shared_state(const std::vector<config::Vip>& vips,
                                              const std::string& written_by);

// Structure only (types, unknown keys, addresses); errors name the field, e.g.
// "vips[0].port: expected an integer in 0..65535, got \"http\"". The VIPs must then pass
// config::validate_desired() together with this host's settings.
[[nodiscard]] Result<std::vector<config::Vip>> decode_shared_state(std::string_view text);

}  // namespace sluice::cp

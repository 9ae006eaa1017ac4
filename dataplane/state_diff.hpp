// Describes what changed between two states, one line per change, for the log line that
// every state change gets ("vip 198.18.0.10:80/tcp: backend 198.18.1.3 added (weight 1)").
// Pure; unit-tested.
#pragma once

#include <string>
#include <vector>

#include "sluice/config/model.hpp"

namespace sluice::dataplane {

[[nodiscard]] std::vector<std::string> describe_changes(const config::State& before,
                                                        const config::State& after);

}  // namespace sluice::dataplane

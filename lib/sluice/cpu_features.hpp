// The CPU features Sluice is compiled to use (meson.build passes -msse4.2), checked once at
// start-up so that a CPU without them gets a clear error instead of SIGILL in the first packet.
#pragma once

#include "sluice/result.hpp"

namespace sluice {

// ok, or an Error naming the missing feature. Call it first thing in main() of every binary that
// hashes flows: lib/sluice/lb/flow_hash.hpp executes the SSE4.2 crc32 instruction.
[[nodiscard]] Status check_cpu_features();

}  // namespace sluice

// Sizes shared by config validation, the dataplane and the XDP steering program, defined once.
// bpf/maps.h is C and cannot include this, so it repeats kMaxVips as SLUICE_MAX_VIPS (the size
// of its VIP maps); bpf/loader/map_layout.hpp static_asserts that the two agree.
#pragma once

#include <cstddef>

namespace sluice {

// VIPs in one state: validation refuses more; the dataplane's per-VIP arrays and the steering
// program's VIP maps hold this many.
inline constexpr std::size_t kMaxVips = 4096;

// Stable backend ids of one dataplane, over all its VIPs (one per VIP and backend address): the
// size of its per-backend arrays (docs/dataplane.md, "Backend identity").
inline constexpr std::size_t kMaxBackends = 16384;

}  // namespace sluice

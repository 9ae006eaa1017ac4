// Fixed sizes of the per-lcore arrays that are indexed by stable ids. Memory is reserved once
// at start-up; a state with more VIPs or backends than this is refused by build_snapshot().
#pragma once

#include <cstddef>
#include <cstdint>

#include "sluice/limits.hpp"

namespace sluice::pipeline {

// A stable id: an index into Snapshot::backends / the per-backend counters. Backend identity
// is (VIP, backend address); the same address under two VIPs has two ids.
using BackendId = std::uint16_t;
using VipId = std::uint16_t;

using sluice::kMaxBackends;  // both from sluice/limits.hpp, the one definition
using sluice::kMaxVips;
inline constexpr BackendId kNoBackendId = 0xFFFF;
inline constexpr VipId kNoVipId = 0xFFFF;
static_assert(kMaxBackends <= kNoBackendId && kMaxVips <= kNoVipId,
              "every id and the 'none' value fit the id types");

// process_burst() takes at most this many packets per call.
inline constexpr std::uint16_t kMaxBurst = 64;

}  // namespace sluice::pipeline

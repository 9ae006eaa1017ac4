// Backend choice for a new flow, per VIP scheduler. Pure functions over the snapshot's VIP
// entry and this lcore's scheduler state; no allocation.
//
// Only maglev and source-hash are functions of the packet alone: every lcore and every LB host
// with the same state picks the same backend, so a flow survives an LB restart or an ECMP
// change that lands it on another host. round-robin, weighted-round-robin, random and
// least-connections depend on per-lcore history, which a restart or another host does not
// have; for them the flow table is the only memory of the choice.
#pragma once

#include <array>
#include <cstdint>

#include "pipeline/counters.hpp"
#include "pipeline/limits.hpp"
#include "pipeline/snapshot.hpp"

namespace sluice::pipeline {

struct SchedulerState;

struct FlowHashes {
  std::uint32_t five_tuple = 0;   // maglev, flow-table bucket, GUE source port
  std::uint32_t three_tuple = 0;  // source-hash, fragments
};

// The Maglev slot for `hash`: a stable id, or kNoBackendId when every weight is zero.
[[nodiscard]] inline BackendId maglev_pick(const VipEntry& vip, std::uint32_t hash) {
  if (vip.maglev.empty()) return kNoBackendId;
  return vip.maglev[hash % vip.maglev.size()];
}

// kNoBackendId when the VIP has no backend with weight > 0.
// `active` holds this lcore's active flows per backend (least-connections).
[[nodiscard]] BackendId schedule(const VipEntry& vip, SchedulerState& state,
                                 const std::array<ObjectCounters, kMaxBackends>& active,
                                 const FlowHashes& hashes);

// splitmix64: the per-lcore PRNG of the random scheduler.
[[nodiscard]] std::uint64_t next_random(std::uint64_t& state);

}  // namespace sluice::pipeline

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

#include "pipeline/limits.hpp"
#include "pipeline/snapshot.hpp"

namespace sluice::pipeline {

struct FlowHashes {
  std::uint32_t five_tuple = 0;   // maglev, flow-table bucket, GUE source port
  std::uint32_t three_tuple = 0;  // source-hash, fragments
};

// Scheduler state of one lcore (no sharing between lcores), by stable id.
struct SchedulerState {
  std::array<std::uint32_t, kMaxVips> rr_cursor{};       // round-robin, by VipId
  std::array<std::int64_t, kMaxBackends> wrr_current{};  // smooth WRR current weight, by BackendId
  std::uint64_t rng = 0x9E3779B97F4A7C15ull;             // random: splitmix64 state
  // Flow-table entries of this lcore pinned to each backend: least-connections' input and the
  // active-flow gauge. Changed only by the flow bookkeeping (pipeline.cpp: bind and release),
  // exactly once per entry that gains or loses a backend, so it never goes below zero.
  std::array<std::uint32_t, kMaxBackends> active_flows{};
};

// The Maglev slot for `hash`: a stable id, or kNoBackendId when no backend takes new flows.
[[nodiscard]] inline BackendId maglev_pick(const VipEntry& vip, std::uint32_t hash) {
  if (vip.maglev.empty()) return kNoBackendId;
  return vip.maglev[hash % vip.maglev.size()];
}

// The backend for a new flow of `vip`, or kNoBackendId when no backend is up with a weight
// above 0. Advances the round-robin, weighted round-robin and random state.
[[nodiscard]] BackendId schedule(const VipEntry& vip, SchedulerState& state,
                                 const FlowHashes& hashes);

// splitmix64: the per-lcore PRNG of the random scheduler.
[[nodiscard]] std::uint64_t next_random(std::uint64_t& state);

}  // namespace sluice::pipeline

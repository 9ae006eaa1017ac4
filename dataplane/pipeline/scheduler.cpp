#include "pipeline/scheduler.hpp"

#include <algorithm>

namespace sluice::pipeline {
namespace {

BackendId round_robin(const VipEntry& vip, SchedulerState& state) {
  std::uint32_t& cursor = state.rr_cursor[vip.id];
  if (cursor >= vip.eligible.size()) cursor = 0;
  return vip.eligible[cursor++];
}

// Smooth weighted round-robin (nginx): each pick raises every backend by its weight, takes the
// highest, and lowers it by the total. Spreads picks evenly inside each cycle.
BackendId smooth_weighted_round_robin(const VipEntry& vip, SchedulerState& state) {
  std::size_t best = 0;
  std::int64_t best_current = INT64_MIN;
  for (std::size_t i = 0; i < vip.eligible.size(); ++i) {
    std::int64_t& current = state.wrr_current[vip.eligible[i]];
    current += vip.eligible_weight[i];
    if (current > best_current) {
      best_current = current;
      best = i;
    }
  }
  state.wrr_current[vip.eligible[best]] -= static_cast<std::int64_t>(vip.eligible_total_weight);
  return vip.eligible[best];
}

BackendId weighted_random(const VipEntry& vip, SchedulerState& state) {
  const std::uint64_t r = next_random(state.rng) % vip.eligible_total_weight;
  const auto it =
      std::upper_bound(vip.eligible_cumulative.begin(), vip.eligible_cumulative.end(), r);
  return vip.eligible[static_cast<std::size_t>(it - vip.eligible_cumulative.begin())];
}

// Fewest active flows relative to weight (active_a / w_a < active_b / w_b); ties go to the
// earlier backend in config order.
BackendId least_connections(const VipEntry& vip,
                            const std::array<std::uint32_t, kMaxBackends>& active) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < vip.eligible.size(); ++i) {
    const std::uint64_t lhs = std::uint64_t{active[vip.eligible[i]]} * vip.eligible_weight[best];
    const std::uint64_t rhs = std::uint64_t{active[vip.eligible[best]]} * vip.eligible_weight[i];
    if (lhs < rhs) best = i;
  }
  return vip.eligible[best];
}

}  // namespace

std::uint64_t next_random(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

BackendId schedule(const VipEntry& vip, SchedulerState& state, const FlowHashes& hashes) {
  if (vip.eligible.empty()) return kNoBackendId;
  switch (vip.scheduler) {
    case config::Scheduler::maglev:
      return maglev_pick(vip, hashes.five_tuple);
    case config::Scheduler::source_hash:
      return maglev_pick(vip, hashes.three_tuple);
    case config::Scheduler::round_robin:
      return round_robin(vip, state);
    case config::Scheduler::weighted_round_robin:
      return smooth_weighted_round_robin(vip, state);
    case config::Scheduler::random:
      return weighted_random(vip, state);
    case config::Scheduler::least_connections:
      return least_connections(vip, state.active_flows);
  }
  return kNoBackendId;
}

}  // namespace sluice::pipeline

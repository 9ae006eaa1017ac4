#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <vector>

#include "pipeline/scheduler.hpp"

namespace sluice::pipeline {
namespace {

// A VIP entry with backends 0..n-1 (stable ids = positions) and the given weights.
VipEntry make_vip(config::Scheduler scheduler, std::vector<std::uint32_t> weights) {
  VipEntry v;
  v.id = 3;
  v.scheduler = scheduler;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const auto id = static_cast<BackendId>(i);
    v.backends.push_back(id);
    if (weights[i] == 0) continue;
    v.eligible.push_back(id);
    v.eligible_weight.push_back(weights[i]);
    v.eligible_total_weight += weights[i];
    v.eligible_cumulative.push_back(v.eligible_total_weight);
  }
  return v;
}

class SchedulerTest : public ::testing::Test {
 protected:
  std::unique_ptr<SchedulerState> state_ = std::make_unique<SchedulerState>();

  std::vector<BackendId> picks(const VipEntry& vip, int n) {
    std::vector<BackendId> out;
    for (int i = 0; i < n; ++i)
      out.push_back(schedule(vip, *state_, {}));
    return out;
  }
};

TEST_F(SchedulerTest, RoundRobinCyclesThroughEligibleInConfigOrder) {
  const VipEntry vip = make_vip(config::Scheduler::round_robin, {1, 0, 5, 1});
  EXPECT_EQ(picks(vip, 7), (std::vector<BackendId>{0, 2, 3, 0, 2, 3, 0}));
}

TEST_F(SchedulerTest, SmoothWeightedRoundRobinInterleaves) {
  const VipEntry vip = make_vip(config::Scheduler::weighted_round_robin, {5, 1, 1});
  // nginx's example: weights 5,1,1 give a a b a c a a.
  EXPECT_EQ(picks(vip, 7), (std::vector<BackendId>{0, 0, 1, 0, 2, 0, 0}));
}

TEST_F(SchedulerTest, LeastConnectionsWeighsActiveFlowsByWeight) {
  const VipEntry vip = make_vip(config::Scheduler::least_connections, {1, 2, 1});
  state_->active_flows[0] = 3;
  state_->active_flows[1] = 5;  // 5/2 < 3/1
  state_->active_flows[2] = 4;
  EXPECT_EQ(picks(vip, 1), (std::vector<BackendId>{1}));
  state_->active_flows[1] = 6;  // 6/2 == 3/1: the first wins
  EXPECT_EQ(picks(vip, 1), (std::vector<BackendId>{0}));
}

TEST_F(SchedulerTest, RandomFollowsWeightsAndTheSeed) {
  const VipEntry vip = make_vip(config::Scheduler::random, {1, 3});
  state_->rng = 42;
  const auto first = picks(vip, 4000);
  std::map<BackendId, int> count;
  for (auto b : first)
    ++count[b];
  EXPECT_NEAR(count[1] / 4000.0, 0.75, 0.03);
  state_->rng = 42;
  EXPECT_EQ(picks(vip, 4000), first);
}

TEST_F(SchedulerTest, MaglevAndSourceHashUseTheirHash) {
  VipEntry vip = make_vip(config::Scheduler::maglev, {1, 1});
  vip.maglev = {0, 1, 1, 0, 1, 0, 0};
  EXPECT_EQ(schedule(vip, *state_, {.five_tuple = 8, .three_tuple = 2}), 1);
  vip.scheduler = config::Scheduler::source_hash;
  EXPECT_EQ(schedule(vip, *state_, {.five_tuple = 8, .three_tuple = 3}), 0);
}

TEST_F(SchedulerTest, NothingEligibleGivesNoBackend) {
  for (auto s : {config::Scheduler::maglev, config::Scheduler::round_robin,
                 config::Scheduler::weighted_round_robin, config::Scheduler::random,
                 config::Scheduler::least_connections, config::Scheduler::source_hash}) {
    const VipEntry vip = make_vip(s, {0, 0});
    EXPECT_EQ(schedule(vip, *state_, {}), kNoBackendId);
  }
}

}  // namespace
}  // namespace sluice::pipeline

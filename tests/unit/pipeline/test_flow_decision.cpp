// decide_flow(): every way a packet's flow can go, on a real snapshot, without a flow table.
#include "pipeline/flow_decision.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <optional>

namespace sluice::pipeline {
namespace {

using config::BackendState;

config::State state_with(BackendState first, BackendState second,
                         std::optional<bool> syn_rescue = {}) {
  config::State s;
  s.dataplane.tunnel_source_v4 = *IpAddress::parse("198.18.0.1");
  config::Vip v;
  v.address = *IpAddress::parse("198.18.0.10");
  v.port = 80;
  v.scheduler = config::Scheduler::round_robin;  // the pick is predictable: the next in turn
  v.syn_rescue = syn_rescue;
  for (const auto& [address, state] : {std::pair{"198.18.1.1", first}, {"198.18.1.2", second}}) {
    config::Backend b;
    b.address = *IpAddress::parse(address);
    b.state = state;
    b.effective_weight = state == BackendState::up ? 1 : 0;
    v.backends.push_back(b);
  }
  s.vips.push_back(v);
  return s;
}

class FlowDecisionTest : public ::testing::Test {
 protected:
  void load(BackendState first, BackendState second, std::optional<bool> syn_rescue = {}) {
    auto built = build_snapshot(state_with(first, second, syn_rescue), registry_);
    ASSERT_TRUE(built.ok()) << built.error().message;
    snapshot_ = std::move(built.value());
  }
  const VipEntry& vip() const { return snapshot_->vips[0]; }
  BackendId id(int i) const { return vip().backends[static_cast<std::size_t>(i)]; }
  FlowBinding entry(int backend, FlowState state) const {
    FlowBinding e{0, id(backend), snapshot_->backends[id(backend)].incarnation};
    e.set_state(state);
    return e;
  }
  FlowDecision decide(const FlowBinding* e, bool syn) {
    return decide_flow(*snapshot_, vip(), e, syn, FlowHashes{}, *scheduler_);
  }

  BackendRegistry registry_;
  std::unique_ptr<const Snapshot> snapshot_;
  std::unique_ptr<SchedulerState> scheduler_ = std::make_unique<SchedulerState>();
};

TEST_F(FlowDecisionTest, AnEntryWhoseBackendServesIsAHitAndSchedulesNothing) {
  load(BackendState::up, BackendState::up);
  const FlowBinding e = entry(1, FlowState::established);
  const FlowDecision d = decide(&e, false);
  EXPECT_EQ(d.action, FlowAction::hit);
  EXPECT_EQ(d.backend, id(1));
  EXPECT_EQ(scheduler_->rr_cursor[vip().id], 0u) << "a hit must not advance the scheduler";
}

TEST_F(FlowDecisionTest, DrainingKeepsItsFlowsDownLosesThem) {
  load(BackendState::draining, BackendState::up);
  const FlowBinding on_draining = entry(0, FlowState::established);
  EXPECT_EQ(decide(&on_draining, false).action, FlowAction::hit);
  load(BackendState::down, BackendState::up);
  const FlowBinding on_down = entry(0, FlowState::established);
  const FlowDecision d = decide(&on_down, false);
  EXPECT_EQ(d.action, FlowAction::reschedule);
  EXPECT_EQ(d.backend, id(1)) << "the only backend up";
}

TEST_F(FlowDecisionTest, ARecycledIdIsNotTheSameBackend) {
  load(BackendState::up, BackendState::up);
  FlowBinding stale = entry(0, FlowState::established);
  ++stale.incarnation;
  EXPECT_EQ(decide(&stale, false).action, FlowAction::reschedule);
}

TEST_F(FlowDecisionTest, ASynAfterTheClientsAckIsANewConnectionAnOpenOneARetransmission) {
  load(BackendState::up, BackendState::up);
  const FlowBinding waiting = entry(1, FlowState::open);
  EXPECT_EQ(decide(&waiting, true).action, FlowAction::hit) << "SYN retransmission: sticky";
  for (const FlowState state : {FlowState::established, FlowState::closing}) {
    const FlowBinding e = entry(1, state);
    const FlowDecision d = decide(&e, true);
    EXPECT_EQ(d.action, FlowAction::new_connection);
    EXPECT_NE(d.backend, kNoBackendId);
  }
}

TEST_F(FlowDecisionTest, ARetransmittedSynLeavesABackendThatTakesNoNewFlows) {
  load(BackendState::draining, BackendState::up);  // syn_rescue unset: on
  const FlowBinding waiting = entry(0, FlowState::open);
  const FlowDecision d = decide(&waiting, true);
  EXPECT_EQ(d.action, FlowAction::rescue);
  EXPECT_EQ(d.backend, id(1)) << "the only backend that takes new flows";
  EXPECT_EQ(to_string(d.action), "rescue");
  EXPECT_EQ(decide(&waiting, false).action, FlowAction::hit) << "only a SYN moves it";
  const FlowBinding established = entry(0, FlowState::established);
  EXPECT_EQ(decide(&established, false).action, FlowAction::hit) << "established never moves";
  const FlowBinding closing = entry(0, FlowState::closing);
  EXPECT_EQ(decide(&closing, false).action, FlowAction::hit);

  load(BackendState::draining, BackendState::up, true);
  EXPECT_EQ(decide(&waiting, true).action, FlowAction::rescue);
  load(BackendState::draining, BackendState::up, false);
  const FlowDecision off = decide(&waiting, true);
  EXPECT_EQ(off.action, FlowAction::hit) << "syn_rescue off: it stays";
  EXPECT_EQ(off.backend, id(0));
}

TEST_F(FlowDecisionTest, ARescueWithNowhereToGoStays) {
  load(BackendState::draining, BackendState::draining);
  const FlowBinding waiting = entry(0, FlowState::open);
  const FlowDecision d = decide(&waiting, true);
  EXPECT_EQ(d.action, FlowAction::hit) << "not no_backend: the entry and the SYN stay";
  EXPECT_EQ(d.backend, id(0));
}

TEST_F(FlowDecisionTest, NoEntryIsANewFlowAndNothingUpIsNoBackend) {
  load(BackendState::up, BackendState::draining);
  FlowDecision d = decide(nullptr, true);
  EXPECT_EQ(d.action, FlowAction::new_flow);
  EXPECT_EQ(d.backend, id(0)) << "a draining backend takes no new flows";
  load(BackendState::down, BackendState::draining);
  d = decide(nullptr, true);
  EXPECT_EQ(d.action, FlowAction::no_backend);
  EXPECT_EQ(d.backend, kNoBackendId);
  const FlowBinding on_down = entry(0, FlowState::established);
  EXPECT_EQ(decide(&on_down, false).action, FlowAction::no_backend);
}

}  // namespace
}  // namespace sluice::pipeline

#include "state/effective_state.hpp"

#include <gtest/gtest.h>

#include "sluice/config/names.hpp"
#include "sluice/config/validate.hpp"
#include "test_state.hpp"

namespace sluice::cp {
namespace {

using testing::backend;
using testing::base_state;
using testing::ip;
using testing::vip;

config::State desired_three() {
  config::State s = base_state();
  s.vips.push_back(vip("198.18.0.10", 80,
                       {backend("198.18.1.1"), backend("198.18.1.2", 3), backend("198.18.1.3")}));
  return s;
}

BackendRef ref(const config::State& s, const char* address) {
  return BackendRef{config::key_of(s.vips[0]), ip(address)};
}

// "address state/effective weight" of every pushed backend, in order.
std::vector<std::string> pushed(const config::Vip& v) {
  std::vector<std::string> out;
  for (const auto& b : v.backends) {
    EXPECT_TRUE(b.state.has_value() && b.effective_weight.has_value())
        << b.address.to_string() << ": the pushed layer is always filled in";
    out.push_back(b.address.to_string() + " " + std::string(config::to_string(*b.state)) + "/" +
                  std::to_string(b.effective_weight.value_or(99)));
  }
  return out;
}

TEST(EffectiveState, AllHealthyKeepsEveryBackendWithItsWeight) {
  const config::State s = desired_three();
  const EffectiveState e = compute_effective_state(s, {}, nullptr);
  ASSERT_EQ(e.state.vips.size(), 1u);
  EXPECT_EQ(pushed(e.state.vips[0]),
            (std::vector<std::string>{"198.18.1.1 up/1", "198.18.1.2 up/3", "198.18.1.3 up/1"}));
  EXPECT_TRUE(e.all_down.empty());
  EXPECT_EQ(e.state.generation, 0u);
  EXPECT_TRUE(config::validate(e.state).ok()) << config::validate(e.state).error().message;
}

// Every configured backend stays in the pushed state (so it keeps its identity and counters in
// the dataplanes); a failing one is `down`.
TEST(EffectiveState, UnhealthyBackendIsPushedDown) {
  const config::State s = desired_three();
  const HealthMap health{{ref(s, "198.18.1.2"), false}, {ref(s, "198.18.1.3"), true}};
  const EffectiveState e = compute_effective_state(s, health, nullptr);
  EXPECT_EQ(pushed(e.state.vips[0]),
            (std::vector<std::string>{"198.18.1.1 up/1", "198.18.1.2 down/0", "198.18.1.3 up/1"}));
  EXPECT_EQ(e.state.vips[0].backends[1].weight, 3u) << "the configured weight is kept";
  EXPECT_TRUE(config::validate(e.state).ok());
}

TEST(EffectiveState, DrainedBackendIsDraining) {
  config::State s = desired_three();
  s.vips[0].backends[1].drained = true;
  const EffectiveState e = compute_effective_state(s, {}, nullptr);
  EXPECT_EQ(
      pushed(e.state.vips[0]),
      (std::vector<std::string>{"198.18.1.1 up/1", "198.18.1.2 draining/0", "198.18.1.3 up/1"}));
  EXPECT_TRUE(e.state.vips[0].backends[1].drained) << "the intent is pushed as well";
}

TEST(EffectiveState, WeightZeroIsDraining) {
  config::State s = desired_three();
  s.vips[0].backends[1].weight = 0;
  const EffectiveState e = compute_effective_state(s, {}, nullptr);
  EXPECT_EQ(pushed(e.state.vips[0])[1], "198.18.1.2 draining/0");
}

TEST(EffectiveState, DrainedAndUnhealthyIsDown) {
  config::State s = desired_three();
  s.vips[0].backends[1].drained = true;
  const EffectiveState e = compute_effective_state(s, {{ref(s, "198.18.1.2"), false}}, nullptr);
  EXPECT_EQ(pushed(e.state.vips[0])[1], "198.18.1.2 down/0")
      << "a failing backend's flows move even while it drains";
}

TEST(EffectiveState, ControlPlaneOnlyFieldsAreStripped) {
  config::State s = desired_three();
  s.vips[0].health_check = config::HealthCheck{};
  s.vips[0].health_check->type = config::HealthCheckType::tcp;
  s.vips[0].backends[0].health_check = s.vips[0].health_check;
  s.controlplane = config::ControlplaneSettings{};
  s.dataplanes.push_back({"dp1", "/run/dp1.sock"});
  const EffectiveState e = compute_effective_state(s, {}, nullptr);
  EXPECT_FALSE(e.state.vips[0].health_check.has_value());
  EXPECT_FALSE(e.state.vips[0].backends[0].health_check.has_value());
  EXPECT_FALSE(e.state.controlplane.has_value());
  EXPECT_TRUE(e.state.dataplanes.empty());
  EXPECT_EQ(e.state.dataplane, s.dataplane);
}

TEST(EffectiveState, AllDownKeepLastHealthyKeepsThePreviousSet) {
  const config::State s = desired_three();
  // Before: .1 and .3 healthy.
  const EffectiveState before =
      compute_effective_state(s, {{ref(s, "198.18.1.2"), false}}, nullptr);
  const HealthMap all_down{
      {ref(s, "198.18.1.1"), false}, {ref(s, "198.18.1.2"), false}, {ref(s, "198.18.1.3"), false}};
  const EffectiveState after = compute_effective_state(s, all_down, &before.state);
  EXPECT_EQ(pushed(after.state.vips[0]),
            (std::vector<std::string>{"198.18.1.1 up/1", "198.18.1.2 down/0", "198.18.1.3 up/1"}));
  ASSERT_EQ(after.all_down.size(), 1u);
  EXPECT_EQ(after.all_down[0].vip, "198.18.0.10:80/tcp");
  EXPECT_EQ(after.all_down[0].backends_kept, 2u);
  // Still all down next round: stable.
  const EffectiveState again = compute_effective_state(s, all_down, &after.state);
  EXPECT_EQ(again.state, after.state);
}

TEST(EffectiveState, AllDownKeepLastHealthyWithoutHistoryKeepsEveryBackend) {
  const config::State s = desired_three();
  const HealthMap all_down{
      {ref(s, "198.18.1.1"), false}, {ref(s, "198.18.1.2"), false}, {ref(s, "198.18.1.3"), false}};
  const EffectiveState e = compute_effective_state(s, all_down, nullptr);
  EXPECT_EQ(pushed(e.state.vips[0]),
            (std::vector<std::string>{"198.18.1.1 up/1", "198.18.1.2 up/3", "198.18.1.3 up/1"}));
  EXPECT_EQ(e.all_down.at(0).backends_kept, 3u);
}

TEST(EffectiveState, AllDownDropPushesEveryBackendDown) {
  config::State s = desired_three();
  s.vips[0].all_down = config::AllDownPolicy::drop;
  const EffectiveState before = compute_effective_state(s, {}, nullptr);
  const HealthMap all_down{
      {ref(s, "198.18.1.1"), false}, {ref(s, "198.18.1.2"), false}, {ref(s, "198.18.1.3"), false}};
  const EffectiveState e = compute_effective_state(s, all_down, &before.state);
  EXPECT_EQ(
      pushed(e.state.vips[0]),
      (std::vector<std::string>{"198.18.1.1 down/0", "198.18.1.2 down/0", "198.18.1.3 down/0"}));
  ASSERT_EQ(e.all_down.size(), 1u);
  EXPECT_EQ(e.all_down[0].policy, config::AllDownPolicy::drop);
  EXPECT_EQ(e.all_down[0].backends_kept, 0u);
}

TEST(EffectiveState, RecoveryAfterAllDownUsesOnlyHealthyBackends) {
  const config::State s = desired_three();
  const HealthMap all_down{
      {ref(s, "198.18.1.1"), false}, {ref(s, "198.18.1.2"), false}, {ref(s, "198.18.1.3"), false}};
  const EffectiveState down = compute_effective_state(s, all_down, nullptr);
  HealthMap one_back = all_down;
  one_back[ref(s, "198.18.1.2")] = true;
  const EffectiveState e = compute_effective_state(s, one_back, &down.state);
  EXPECT_EQ(
      pushed(e.state.vips[0]),
      (std::vector<std::string>{"198.18.1.1 down/0", "198.18.1.2 up/3", "198.18.1.3 down/0"}));
  EXPECT_TRUE(e.all_down.empty());
}

TEST(EffectiveState, HealthOfTheSameAddressUnderAnotherVipDoesNotLeak) {
  config::State s = desired_three();
  s.vips.push_back(vip("198.18.0.11", 443, {backend("198.18.1.2")}));
  const HealthMap health{{BackendRef{config::key_of(s.vips[1]), ip("198.18.1.2")}, false}};
  const EffectiveState e = compute_effective_state(s, health, nullptr);
  EXPECT_EQ(pushed(e.state.vips[0]),
            (std::vector<std::string>{"198.18.1.1 up/1", "198.18.1.2 up/3", "198.18.1.3 up/1"}));
  EXPECT_EQ(e.all_down.size(), 1u);  // the second VIP's only backend is down
}

TEST(EffectiveState, SameInputsGiveTheSameState) {
  const config::State s = desired_three();
  const HealthMap health{{ref(s, "198.18.1.2"), false}};
  EXPECT_EQ(compute_effective_state(s, health, nullptr).state,
            compute_effective_state(s, health, nullptr).state);
}

// Second chance: the previous table input goes to the dataplanes with this host's health
// applied (a backend seen down takes no slot in it either), until it expires.
TEST(EffectiveState, PreviousTableGetsLocalHealthAndExpires) {
  config::State s = desired_three();
  s.vips[0].previous = config::PreviousBackends{
      1000, 0, 1000, {{ip("198.18.1.1"), 1}, {ip("198.18.1.2"), 1}, {ip("198.18.1.9"), 2}}};
  const HealthMap health{{ref(s, "198.18.1.2"), false}};
  const std::uint64_t idle = s.dataplane.flow_idle_timeout_s;
  const EffectiveState live = compute_effective_state(s, health, nullptr, 1000 + idle - 1);
  ASSERT_TRUE(live.state.vips[0].previous.has_value());
  const std::vector<config::PreviousBackend> want = {
      {ip("198.18.1.1"), 1}, {ip("198.18.1.2"), 0}, {ip("198.18.1.9"), 2}};
  EXPECT_EQ(live.state.vips[0].previous->backends, want);
  EXPECT_TRUE(config::validate(live.state).ok());

  const EffectiveState expired = compute_effective_state(s, health, nullptr, 1000 + idle);
  EXPECT_FALSE(expired.state.vips[0].previous.has_value());
}

// Adaptive VIP: effective weights are weight x percent (hundredths of the configured weight);
// 0% drains, an agent's down is down; a static VIP ignores factors.
TEST(EffectiveState, AdaptiveFactorsScaleDrainAndDown) {
  config::State s = desired_three();
  s.vips[0].weights = config::WeightPolicy::adaptive;
  lb::BackendWeight slow;
  slow.percent = 40;
  lb::BackendWeight out;
  out.percent = 0;
  out.passive_out = true;
  lb::BackendWeight agent_down;
  agent_down.percent = 0;
  agent_down.down = true;
  WeightFactors factors{{ref(s, "198.18.1.1"), slow}, {ref(s, "198.18.1.2"), out}};
  EffectiveState e = compute_effective_state(s, {}, nullptr, std::nullopt, &factors);
  EXPECT_EQ(
      pushed(e.state.vips[0]),
      (std::vector<std::string>{"198.18.1.1 up/40", "198.18.1.2 draining/0", "198.18.1.3 up/100"}));
  EXPECT_TRUE(config::validate(e.state).ok()) << config::validate(e.state).error().message;

  factors[ref(s, "198.18.1.2")] = agent_down;
  e = compute_effective_state(s, {}, nullptr, std::nullopt, &factors);
  EXPECT_EQ(pushed(e.state.vips[0])[1], "198.18.1.2 down/0");

  s.vips[0].weights = config::WeightPolicy::static_weights;
  e = compute_effective_state(s, {}, nullptr, std::nullopt, &factors);
  EXPECT_EQ(pushed(e.state.vips[0]),
            (std::vector<std::string>{"198.18.1.1 up/1", "198.18.1.2 up/3", "198.18.1.3 up/1"}));
}

// The scale is what validation allows: weight x 100 on an adaptive VIP, the weight otherwise.
TEST(EffectiveState, AdaptiveScaleIsValidatedPerVip) {
  config::State s = desired_three();
  s.vips[0].weights = config::WeightPolicy::adaptive;
  EffectiveState e = compute_effective_state(s, {}, nullptr);
  EXPECT_EQ(pushed(e.state.vips[0])[1], "198.18.1.2 up/300");
  EXPECT_TRUE(config::validate(e.state).ok());
  e.state.vips[0].backends[1].effective_weight = 301;
  ASSERT_FALSE(config::validate(e.state).ok());
  EXPECT_NE(config::validate(e.state).error().message.find(
                "vips[0].backends[1].effective_weight: 301 is above the configured weight 3 (x100 "
                "on an adaptive VIP)"),
            std::string::npos)
      << config::validate(e.state).error().message;
  e.state.vips[0].weights = config::WeightPolicy::static_weights;
  e.state.vips[0].backends[1].effective_weight = 4;
  EXPECT_FALSE(config::validate(e.state).ok());
}

}  // namespace
}  // namespace sluice::cp

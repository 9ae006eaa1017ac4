// Adaptive weights of one VIP: each signal's effect on the published percent, and what keeps
// the table calm (hysteresis, dwell, the cap on moved share, equal slowness changes nothing).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "sluice/lb/adaptive_weights.hpp"

namespace sluice::lb {
namespace {

std::vector<BackendSignals> three(double l1, double l2, double l3) {
  std::vector<BackendSignals> out;
  const double latencies[] = {l1, l2, l3};
  for (int i = 0; i < 3; ++i) {
    BackendSignals s;
    s.key = "198.18.1." + std::to_string(i + 1);
    s.weight = 1;
    s.serving = true;
    s.latency_ms = latencies[i];
    s.has_active_check = true;
    s.rise = 2;
    out.push_back(s);
  }
  return out;
}

// Steps every 250 ms from `from` until `until` (exclusive); returns the next time.
std::uint64_t run(AdaptiveVip& vip, std::uint64_t from, std::uint64_t until,
                  const std::vector<BackendSignals>& s, int* publications = nullptr) {
  for (std::uint64_t t = from; t < until; t += 250) {
    if (vip.step(t, s).changed && publications) ++*publications;
  }
  return until;
}

TEST(AdaptiveWeights, EqualLatencyKeepsFullWeight) {
  AdaptiveVip vip;
  const StepResult r = vip.step(0, three(5, 5, 5));
  EXPECT_FALSE(r.changed);
  for (const char* k : {"198.18.1.1", "198.18.1.2", "198.18.1.3"}) {
    EXPECT_EQ(vip.weight(k).percent, 100u);
    EXPECT_EQ(vip.weight(k).reason, "");
  }
}

TEST(AdaptiveWeights, TenTimesSlowerFallsToTheFloorAndOthersStay) {
  AdaptiveVip vip;
  vip.step(0, three(5, 5, 5));
  run(vip, 250, 3000, three(50, 5, 5));
  EXPECT_EQ(vip.weight("198.18.1.1").percent, 5u);
  EXPECT_EQ(vip.weight("198.18.1.1").reason, "latency x0.05");
  EXPECT_EQ(vip.weight("198.18.1.2").percent, 100u);
  EXPECT_EQ(vip.weight("198.18.1.3").percent, 100u);
}

TEST(AdaptiveWeights, ThreeTimesSlowerGetsTheSquaredRatio) {
  AdaptiveVip vip;
  vip.step(0, three(5, 5, 5));
  run(vip, 250, 3000, three(15, 5, 5));
  EXPECT_EQ(vip.weight("198.18.1.1").percent, 40u);  // (2/3)^2 = 44% -> 40% in 5% steps
}

TEST(AdaptiveWeights, EveryBackendEquallySlowChangesNothing) {
  AdaptiveVip vip;
  vip.step(0, three(5, 5, 5));
  int publications = 0;
  run(vip, 250, 5000, three(80, 80, 80), &publications);
  EXPECT_EQ(publications, 0);
  EXPECT_EQ(vip.weight("198.18.1.1").percent, 100u);
}

TEST(AdaptiveWeights, SubMillisecondDifferencesAreNoise) {
  AdaptiveVip vip;
  run(vip, 0, 3000, three(1.5, 0.2, 0.2));  // 7.5x, but 1.3 ms apart
  EXPECT_EQ(vip.weight("198.18.1.1").percent, 100u);
}

TEST(AdaptiveWeights, OneStepMovesAtMostTheCappedShare) {
  AdaptiveVip vip;
  vip.step(0, three(5, 5, 5));
  const StepResult r = vip.step(250, three(50, 5, 5));
  // Full target: 33% -> 2.4%, about 31% of the table; the cap is 10%.
  EXPECT_TRUE(r.changed);
  EXPECT_LE(r.moved_share, 0.1 + 1e-9);
  EXPECT_GT(r.moved_share, 0.09);
  EXPECT_GT(vip.weight("198.18.1.1").percent, 5u);
  EXPECT_LT(vip.weight("198.18.1.1").percent, 100u);
}

TEST(AdaptiveWeights, RecoveryWaitsForTheDwellThenComesBack) {
  AdaptiveVip vip;
  vip.step(0, three(5, 5, 5));
  std::uint64_t t = run(vip, 250, 2000, three(50, 5, 5));
  ASSERT_EQ(vip.weight("198.18.1.1").percent, 5u);
  t = run(vip, t, 4000, three(5, 5, 5));  // recovered, but within 5 s of the last move down
  EXPECT_EQ(vip.weight("198.18.1.1").percent, 5u);
  run(vip, t, 12000, three(5, 5, 5));
  EXPECT_EQ(vip.weight("198.18.1.1").percent, 100u);
  EXPECT_EQ(vip.weight("198.18.1.1").reason, "");
}

TEST(AdaptiveWeights, JitterOfTwentyPercentPublishesNothing) {
  AdaptiveVip vip;
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  int publications = 0;
  for (std::uint64_t t = 0; t < 60000; t += 250) {
    if (vip.step(t, three(10 * jitter(rng), 10 * jitter(rng), 10 * jitter(rng))).changed)
      ++publications;
  }
  EXPECT_EQ(publications, 0);
}

TEST(AdaptiveWeights, AgentPercentAndDrainAndDown) {
  AdaptiveVip vip;
  auto s = three(5, 5, 5);
  vip.step(0, s);
  s[0].agent_percent = 50;
  run(vip, 250, 3000, s);
  EXPECT_EQ(vip.weight("198.18.1.1").percent, 50u);
  EXPECT_EQ(vip.weight("198.18.1.1").reason, "agent 50%");
  s[0].agent = AgentWord::drain;
  EXPECT_TRUE(vip.step(3000, s).changed);  // urgent: at once, whatever the cap
  EXPECT_EQ(vip.weight("198.18.1.1").percent, 0u);
  EXPECT_EQ(vip.weight("198.18.1.1").reason, "agent drain");
  s[0].agent = AgentWord::down;
  vip.step(3250, s);
  EXPECT_TRUE(vip.weight("198.18.1.1").down);
}

TEST(AdaptiveWeights, SlowStartRampsPausesAndFinishes) {
  AdaptiveVip vip(AdaptiveTuning{}, 10);
  auto s = three(5, 5, 5);
  vip.step(0, s);
  EXPECT_EQ(vip.weight("198.18.1.1").percent, 100u) << "nothing ramps at start-up";
  s[0].serving = false;
  run(vip, 250, 2000, s);
  s[0].serving = true;
  std::uint64_t t = run(vip, 2000, 2250, s);
  EXPECT_EQ(vip.weight("198.18.1.1").percent, 10u);
  EXPECT_EQ(vip.weight("198.18.1.1").reason, "slow-start 10%");
  t = run(vip, t, 7250, s);  // 5 s of 10: 10 + 90 * 0.5 = 55 -> 55
  EXPECT_EQ(vip.weight("198.18.1.1").percent, 55u);
  s[0].serving = false;  // fails again: the ramp pauses
  t = run(vip, t, 9250, s);
  s[0].serving = true;
  t = run(vip, t, 9500, s);
  EXPECT_EQ(vip.weight("198.18.1.1").percent, 55u) << "it resumes where it paused";
  run(vip, t, 15000, s);
  EXPECT_EQ(vip.weight("198.18.1.1").percent, 100u);
}

TEST(AdaptiveWeights, AddedBackendRampsFromTheMinimum) {
  AdaptiveVip vip(AdaptiveTuning{}, 10);
  auto s = three(5, 5, 5);
  std::vector<BackendSignals> two(s.begin(), s.begin() + 2);
  vip.step(0, two);
  vip.step(250, s);
  EXPECT_EQ(vip.weight("198.18.1.3").percent, 10u);
}

TEST(AdaptiveWeights, PassiveMarkActsAtOnceAndOnlyChecksClearIt) {
  AdaptiveVip vip;
  auto s = three(5, 5, 5);
  s[0].check_successes = 40;
  vip.step(0, s);
  s[0].window_syns = 100;
  s[0].window_retransmits = 4;  // under the minimum count
  vip.step(250, s);
  EXPECT_FALSE(vip.weight("198.18.1.1").passive_out);
  s[0].window_retransmits = 30;
  const StepResult r = vip.step(500, s);
  EXPECT_TRUE(r.changed);
  EXPECT_TRUE(vip.weight("198.18.1.1").passive_out);
  EXPECT_EQ(vip.weight("198.18.1.1").percent, 0u);
  EXPECT_EQ(vip.weight("198.18.1.1").reason, "passive: SYN retransmits");
  s[0].window_retransmits = 0;
  s[0].check_successes = 41;  // one success after the mark: rise is 2
  run(vip, 750, 5000, s);
  EXPECT_TRUE(vip.weight("198.18.1.1").passive_out);
  s[0].check_successes = 42;
  vip.step(5000, s);
  EXPECT_FALSE(vip.weight("198.18.1.1").passive_out);
}

TEST(AdaptiveWeights, PassiveFailureOffIgnoresRetransmits) {
  AdaptiveVip vip(AdaptiveTuning{}, 0, false);
  auto s = three(5, 5, 5);
  s[0].window_syns = 100;
  s[0].window_retransmits = 100;
  vip.step(0, s);
  vip.step(250, s);
  EXPECT_FALSE(vip.weight("198.18.1.1").passive_out);
  EXPECT_EQ(vip.weight("198.18.1.1").percent, 100u);
}

TEST(AdaptiveWeights, PeakEwmaRisesAtOnceOnTwoSlowSamplesAndDecaysWithTau) {
  PeakEwma e(2000);
  EXPECT_FALSE(e.value());
  e.add(5, 0);
  e.add(5, 50);
  e.add(50, 100);
  EXPECT_DOUBLE_EQ(*e.value(), 5) << "one slow sample among fast ones is a spike";
  e.add(5, 150);
  EXPECT_DOUBLE_EQ(*e.value(), 5);
  e.add(50, 200);
  e.add(50, 250);
  EXPECT_DOUBLE_EQ(*e.value(), 50) << "two in a row are not";
  e.add(5, 2250);  // the median of 50, 50, 5 is still 50
  EXPECT_DOUBLE_EQ(*e.value(), 50);
  e.add(5, 4250);  // now 5: one tau later, 63% of the way down
  EXPECT_NEAR(*e.value(), 50 - 45 * 0.632, 0.1);
}

TEST(AdaptiveWeights, ASmallAbsoluteGapIsNoise) {
  // 1 ms checks against 4 ms: four times slower, but 3 ms is scheduling noise for a check.
  AdaptiveVip vip;
  std::vector<BackendSignals> s(3);
  for (std::size_t i = 0; i < s.size(); ++i) {
    s[i].key = "198.18.1." + std::to_string(i + 1);
    s[i].weight = 1;
    s[i].serving = true;
    s[i].latency_ms = 1.0;
  }
  s[0].latency_ms = 4.0;
  for (std::uint64_t t = 0; t <= 3000; t += 100)
    vip.step(t, s);
  EXPECT_EQ(vip.weight("198.18.1.1").percent, 100u);
  s[0].latency_ms = 7.0;  // 6 ms above: slow
  for (std::uint64_t t = 3100; t <= 9000; t += 100)
    vip.step(t, s);
  EXPECT_LT(vip.weight("198.18.1.1").percent, 100u);
}

}  // namespace
}  // namespace sluice::lb

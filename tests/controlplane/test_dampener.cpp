#include "health/dampener.hpp"

#include <gtest/gtest.h>

namespace sluice::cp {
namespace {

TEST(Dampener, HealthyBackendFallsAfterExactlyFallFailures) {
  Dampener d(/*rise=*/2, /*fall=*/3, /*initially_healthy=*/true);
  EXPECT_EQ(d.record(false), HealthTransition::none);
  EXPECT_EQ(d.record(false), HealthTransition::none);
  EXPECT_TRUE(d.healthy());
  EXPECT_EQ(d.streak(), 2u);
  EXPECT_EQ(d.record(false), HealthTransition::became_unhealthy);
  EXPECT_FALSE(d.healthy());
  EXPECT_EQ(d.streak(), 0u);
}

TEST(Dampener, UnhealthyBackendRisesAfterExactlyRiseSuccesses) {
  Dampener d(/*rise=*/2, /*fall=*/3, /*initially_healthy=*/false);
  EXPECT_EQ(d.record(true), HealthTransition::none);
  EXPECT_FALSE(d.healthy());
  EXPECT_EQ(d.record(true), HealthTransition::became_healthy);
  EXPECT_TRUE(d.healthy());
}

TEST(Dampener, AnAgreeingOutcomeResetsTheStreak) {
  Dampener d(/*rise=*/2, /*fall=*/3, true);
  EXPECT_EQ(d.record(false), HealthTransition::none);
  EXPECT_EQ(d.record(false), HealthTransition::none);
  EXPECT_EQ(d.record(true), HealthTransition::none);  // flapping: back to zero
  EXPECT_EQ(d.streak(), 0u);
  EXPECT_EQ(d.record(false), HealthTransition::none);
  EXPECT_EQ(d.record(false), HealthTransition::none);
  EXPECT_TRUE(d.healthy());
  EXPECT_EQ(d.record(false), HealthTransition::became_unhealthy);
}

TEST(Dampener, RiseAndFallAreIndependent) {
  Dampener d(/*rise=*/5, /*fall=*/1, true);
  EXPECT_EQ(d.record(false), HealthTransition::became_unhealthy);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(d.record(true), HealthTransition::none) << i;
  EXPECT_EQ(d.record(true), HealthTransition::became_healthy);
  EXPECT_EQ(d.record(false), HealthTransition::became_unhealthy);
}

TEST(Dampener, RepeatedOutcomesInTheSameStateNeverFlip) {
  Dampener d(2, 3, true);
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(d.record(true), HealthTransition::none);
  EXPECT_TRUE(d.healthy());
}

TEST(Dampener, ZeroThresholdsActAsOne) {
  Dampener d(0, 0, true);
  EXPECT_EQ(d.rise(), 1u);
  EXPECT_EQ(d.fall(), 1u);
  EXPECT_EQ(d.record(false), HealthTransition::became_unhealthy);
  EXPECT_EQ(d.record(true), HealthTransition::became_healthy);
}

}  // namespace
}  // namespace sluice::cp

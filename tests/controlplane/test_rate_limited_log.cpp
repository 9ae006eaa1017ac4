// One log line per interval with the count of the events it stands for.
#include "common/rate_limited_log.hpp"

#include <gtest/gtest.h>

namespace sluice::cp {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(RateLimitedLog, FirstEventLogsThenOneLinePerIntervalWithTheCount) {
  RateLimitedLog log(seconds(10));
  const auto t0 = RateLimitedLog::Clock::now();
  EXPECT_EQ(log.note(t0), 1u);
  std::uint64_t lines = 0;
  for (int i = 1; i <= 1'000'000; ++i) {  // a million events within 10 s: no line
    lines += log.note(t0 + milliseconds(i / 1000)) != 0 ? 1 : 0;
  }
  EXPECT_EQ(lines, 0u);
  EXPECT_EQ(log.note(t0 + seconds(10)), 1'000'001u) << "the line counts the suppressed events";
  EXPECT_EQ(log.note(t0 + seconds(11)), 0u);
  EXPECT_EQ(log.note(t0 + seconds(25)), 2u);
}

}  // namespace
}  // namespace sluice::cp

// vips[].new_flows_per_s: a token bucket per VIP per worker lcore. Each lcore admits an equal
// share of the VIP's rate (RSS spreads new flows evenly) and holds at most one second of it, so a
// burst of new flows can never exceed the limit by more than a second's worth. Integer
// arithmetic in TSC ticks: no division on the hot path.
#pragma once

#include <algorithm>
#include <cstdint>

namespace sluice::pipeline {

struct TokenBucket {
  std::uint64_t tokens = 0;  // in units of 1 / (ticks_per_second * lcores) of a new flow
  std::uint64_t last = 0;    // tick of the last refill
  bool primed = false;       // starts full
};

// Takes one new flow from `bucket`, refilled at `per_second` / `lcores` flows per second up to a
// second's worth (at least one flow). False: over the limit, drop.
[[nodiscard]] inline bool take_token(TokenBucket& bucket, std::uint32_t per_second,
                                     std::uint32_t lcores, std::uint64_t ticks_per_second,
                                     std::uint64_t now) {
  const std::uint64_t cost = ticks_per_second * lcores;
  const std::uint64_t capacity = std::uint64_t{std::max(per_second, lcores)} * ticks_per_second;
  if (!bucket.primed) {
    bucket.primed = true;
    bucket.tokens = capacity;
  } else if (now > bucket.last) {
    const std::uint64_t elapsed = std::min(now - bucket.last, ticks_per_second);
    bucket.tokens = std::min(capacity, bucket.tokens + elapsed * per_second);
  }
  bucket.last = now;
  if (bucket.tokens < cost) return false;
  bucket.tokens -= cost;
  return true;
}

}  // namespace sluice::pipeline

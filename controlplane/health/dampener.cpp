#include "health/dampener.hpp"

#include <algorithm>

namespace sluice::cp {

Dampener::Dampener(std::uint32_t rise, std::uint32_t fall, bool initially_healthy)
    : rise_(std::max<std::uint32_t>(rise, 1)),
      fall_(std::max<std::uint32_t>(fall, 1)),
      healthy_(initially_healthy) {}

HealthTransition Dampener::record(bool success) {
  // An outcome that agrees with the current state resets the count towards a flip.
  if (success == healthy_) {
    streak_ = 0;
    return HealthTransition::none;
  }
  ++streak_;
  const std::uint32_t threshold = healthy_ ? fall_ : rise_;
  if (streak_ < threshold) return HealthTransition::none;
  healthy_ = !healthy_;
  streak_ = 0;
  return healthy_ ? HealthTransition::became_healthy : HealthTransition::became_unhealthy;
}

}  // namespace sluice::cp

// Health dampening with separate rise and fall thresholds (as glb-healthcheck and keepalived
// do): one failed probe does not take a backend out, one success does not bring it back.
// Pure: no clock, no I/O; the checker feeds it probe outcomes in order.
#pragma once

#include <cstdint>

namespace sluice::cp {

enum class HealthTransition : std::uint8_t {
  none,
  became_healthy,    // `rise` consecutive successes while unhealthy
  became_unhealthy,  // `fall` consecutive failures while healthy
};

class Dampener {
 public:
  // rise and fall are at least 1 (0 is treated as 1).
  Dampener(std::uint32_t rise, std::uint32_t fall, bool initially_healthy);

  // Records one probe outcome and says whether the dampened state flipped.
  HealthTransition record(bool success);

  [[nodiscard]] bool healthy() const { return healthy_; }
  // Consecutive outcomes of the kind that would flip the state (0 after a flip).
  [[nodiscard]] std::uint32_t streak() const { return streak_; }
  [[nodiscard]] std::uint32_t rise() const { return rise_; }
  [[nodiscard]] std::uint32_t fall() const { return fall_; }

 private:
  std::uint32_t rise_;
  std::uint32_t fall_;
  bool healthy_;
  std::uint32_t streak_ = 0;
};

}  // namespace sluice::cp

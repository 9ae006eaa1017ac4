// Internal: an overall deadline for a multi-step socket operation.
#pragma once

#include <chrono>

namespace sluice::control {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  // A negative timeout (kNoTimeout) never expires.
  explicit Deadline(std::chrono::milliseconds timeout)
      : infinite_(timeout.count() < 0),
        end_(Clock::now() + (infinite_ ? Clock::duration{} : timeout)) {}

  [[nodiscard]] bool expired() const { return !infinite_ && Clock::now() >= end_; }

  // Milliseconds left, rounded up, for poll(): -1 when infinite, 0 when expired.
  [[nodiscard]] int poll_timeout_ms() const {
    if (infinite_) return -1;
    const auto left = end_ - Clock::now();
    if (left <= Clock::duration::zero()) return 0;
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    return ms > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(ms);
  }

 private:
  bool infinite_;
  Clock::time_point end_;
};

}  // namespace sluice::control

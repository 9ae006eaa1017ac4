// One log line per interval for an event that can repeat thousands of times a second (accept
// failures, refused callers, health probes without descriptors): the first event is logged at
// once, the next ones are counted, and the first event after the interval has passed is logged
// with the count of everything since the previous line. Thread-safe; no clock of its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace sluice::cp {

class RateLimitedLog {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kDefaultInterval{10};

  explicit RateLimitedLog(Clock::duration interval = kDefaultInterval) : interval_(interval) {}

  // Records one event. Returns how many events the caller's log line stands for (this one and
  // those suppressed since the previous line), or 0 when the caller must not log.
  [[nodiscard]] std::uint64_t note(Clock::time_point now = Clock::now()) {
    std::lock_guard lock(mutex_);
    ++pending_;
    if (logged_ && now - last_line_ < interval_) return 0;
    logged_ = true;
    last_line_ = now;
    const std::uint64_t count = pending_;
    pending_ = 0;
    return count;
  }

  [[nodiscard]] Clock::duration interval() const { return interval_; }

 private:
  std::mutex mutex_;
  Clock::duration interval_;
  Clock::time_point last_line_{};
  bool logged_ = false;
  std::uint64_t pending_ = 0;
};

}  // namespace sluice::cp

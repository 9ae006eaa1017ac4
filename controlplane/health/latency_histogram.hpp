// A Prometheus-style cumulative histogram of health-check latencies (the backend's "response
// time"). Fixed buckets so every backend's series line up in one query.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

namespace sluice::cp {

class LatencyHistogram {
 public:
  // Upper bounds in seconds; a last +Inf bucket is implied by count().
  static constexpr std::array<double, 12> kBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                     0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

  void observe(std::chrono::microseconds latency) {
    const double seconds = static_cast<double>(latency.count()) / 1e6;
    for (std::size_t i = 0; i < kBounds.size(); ++i) {
      if (seconds <= kBounds[i]) ++buckets_[i];
    }
    ++count_;
    sum_seconds_ += seconds;
  }

  // Cumulative: bucket(i) counts observations <= kBounds[i].
  [[nodiscard]] std::uint64_t bucket(std::size_t i) const { return buckets_[i]; }
  [[nodiscard]] std::uint64_t count() const { return count_; }
  [[nodiscard]] double sum_seconds() const { return sum_seconds_; }

 private:
  std::array<std::uint64_t, kBounds.size()> buckets_{};
  std::uint64_t count_ = 0;
  double sum_seconds_ = 0;
};

}  // namespace sluice::cp

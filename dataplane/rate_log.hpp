// --stats-interval: one log line of rates every interval, summed over the workers: received,
// and each packet's fate (forwarded, replied, passed, dropped), plus the workers' load: the
// share of polls that found packets, and with --idle sleep the share of time they slept.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "pipeline/worker_state.hpp"

namespace sluice::dataplane {

class RateLog {
 public:
  explicit RateLog(std::chrono::seconds interval) : interval_(interval) {}
  void maybe_log(const std::vector<const pipeline::WorkerState*>& workers);

 private:
  struct Totals {
    std::uint64_t rx = 0, forward = 0, reply = 0, pass = 0, drop = 0, polls = 0, idle = 0;
    std::uint64_t slept_ticks = 0;
  };
  std::chrono::seconds interval_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
  Totals previous_;
};

}  // namespace sluice::dataplane

// An lcore's load over the interval between two counter samples (API stats, Prometheus).
#pragma once

#include <algorithm>
#include <chrono>

#include "sluice/control/messages.hpp"

namespace sluice::cp {

// In poll and pause mode: the share of polls that found packets. A worker that sleeps when idle
// (`--idle sleep`) polls far less often while idle, so that share overstates its load; it is
// loaded at most for the share of the interval it was awake. Both figures overstate in their own
// regime (a trickle keeps a worker awake, sleeps leave few idle polls), hence the smaller one.
// `before`: the same lcore's previous sample, or nullptr (totals since start, polls only).
[[nodiscard]] inline double lcore_load(const control::LcoreCounters& now,
                                       const control::LcoreCounters* before,
                                       std::chrono::nanoseconds elapsed) {
  const bool comparable = before != nullptr && before->rx_polls <= now.rx_polls &&
                          before->busy_polls <= now.busy_polls &&
                          before->slept_ns <= now.slept_ns && before->sleeps <= now.sleeps;
  const std::uint64_t polls = comparable ? now.rx_polls - before->rx_polls : now.rx_polls;
  const std::uint64_t busy = comparable ? now.busy_polls - before->busy_polls : now.busy_polls;
  double load = polls > 0 ? static_cast<double>(busy) / static_cast<double>(polls) : 0.0;
  if (comparable && now.sleeps > before->sleeps && elapsed.count() > 0) {
    const double asleep =
        static_cast<double>(now.slept_ns - before->slept_ns) / static_cast<double>(elapsed.count());
    load = std::min(load, std::clamp(1.0 - asleep, 0.0, 1.0));
  }
  return load;
}

}  // namespace sluice::cp

// --idle: what a worker does when its queues are empty (docs/dataplane.md, "Idle modes").
//
//   poll   spin on rx_burst (the default; the loop is the same code as without the option).
//   pause  DPDK's power management (librte_power, RTE_POWER_MGMT_TYPE_PAUSE) on every RX queue
//          the worker polls: after rte_power_pmd_mgmt_get_emptypoll_max() empty polls of all
//          its queues, each rx_burst pauses for rte_power_pmd_mgmt_get_pause_duration() µs
//          (TPAUSE where the CPU has WAITPKG, else a loop of rte_pause()). It saves power, not
//          CPU time: the thread stays runnable and the kernel still counts 100% of a core.
//   sleep  after kSleepAfterEmptyPolls loop iterations in which every queue was empty, the
//          worker sleeps in the kernel: kFirstSleep, doubling while nothing arrives, at most
//          kMaxSleep; the first packet resets it. The core is free for other processes.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice::dataplane {

enum class IdleMode : std::uint8_t { poll, pause, sleep };

[[nodiscard]] constexpr std::string_view to_string(IdleMode m) {
  switch (m) {
    case IdleMode::poll:
      return "poll";
    case IdleMode::pause:
      return "pause";
    case IdleMode::sleep:
      return "sleep";
  }
  return "?";
}

[[nodiscard]] constexpr std::optional<IdleMode> parse_idle_mode(std::string_view s) {
  if (s == "poll") return IdleMode::poll;
  if (s == "pause") return IdleMode::pause;
  if (s == "sleep") return IdleMode::sleep;
  return std::nullopt;
}

// Sleep mode. An empty iteration of the loop costs 30-100 ns depending on the PMD, so 256 of
// them are roughly 10-25 µs of spinning: a gap between packets shorter than that never sleeps,
// and a busy worker pays one increment and one compare per iteration.
inline constexpr std::uint32_t kSleepAfterEmptyPolls = 256;
// The first sleep is about what the spinning before it cost; each further empty iteration
// doubles it (10, 20, 40, ... µs). The cap bounds what a packet arriving at an idle worker can
// wait (plus the kernel's wake-up latency), keeps rx_polls advancing at least every ~0.5 ms
// (the control plane takes a worker whose rx_polls stop moving for hung), and bounds how long
// a sleeping worker is away from RCU (it is offline while asleep, so it never delays a swap).
inline constexpr std::chrono::nanoseconds kFirstSleep = std::chrono::microseconds(10);
inline constexpr std::chrono::nanoseconds kMaxSleep = std::chrono::microseconds(500);
static_assert(kFirstSleep <= kMaxSleep && kMaxSleep < std::chrono::seconds(1));
// The worker thread's timer slack while in sleep mode: Linux adds 50 µs by default to every
// timed sleep of a normal thread, which would make the 10 µs step a 60 µs one.
inline constexpr std::chrono::nanoseconds kSleepTimerSlack = std::chrono::microseconds(1);
// Flow expiry is not changed: every idle iteration, the one after a wake-up included, sweeps
// the usual 64 buckets, i.e. about 128,000 buckets a second at the cap (a 1M-entry table in
// about 2 s). Sweeping more per wake-up costs cache misses on cold buckets (measured: several
// percent of a core at 2,000 wake-ups a second for 1,024 buckets).

}  // namespace sluice::dataplane

// Per-lcore counters: plain uint64_t with one writer (the lcore), summed by the control thread
// on read. They only go up, except the active-flow gauges.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "pipeline/limits.hpp"
#include "pipeline/verdict.hpp"
#include "sluice/control/messages.hpp"
#include "sluice/drop_reason.hpp"

namespace sluice::pipeline {

struct Snapshot;

struct ObjectCounters {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;  // frame bytes as received, before encapsulation
  std::uint64_t new_flows = 0;
  // Gauge: flow-table entries of this lcore pointing at it. Decremented when an entry
  // expires, is evicted or is rescheduled.
  std::uint64_t active_flows = 0;
};

struct alignas(64) LcoreCounters {
  // Written by the worker loop (dataplane process), not by process_burst().
  std::uint64_t rx_polls = 0;    // rx_burst calls
  std::uint64_t idle_polls = 0;  // ... that returned nothing
  std::uint64_t tx_packets = 0;  // actually handed to the NIC

  // Written by process_burst().
  std::uint64_t rx_packets = 0;
  std::array<std::uint64_t, kVerdictCount> verdicts{};  // indexed by Verdict
  std::array<std::uint64_t, kDropReasonCount> drops{};  // indexed by DropReason
  // Per-case behaviour counters (docs/dataplane.md).
  std::uint64_t fragments_forwarded = 0;
  std::uint64_t ipv4_options_forwarded = 0;
  std::uint64_t ipv6_extensions_forwarded = 0;
  std::uint64_t icmp_echo_replies = 0;
  std::uint64_t icmp_errors_forwarded = 0;
  std::uint64_t too_big_sent = 0;
  std::uint64_t flows_rescheduled = 0;  // hit on a gone backend: moved to a live one
  std::uint64_t flows_evicted = 0;      // a live entry displaced from a full bucket
  std::uint64_t flows_expired = 0;      // reclaimed after its idle timeout

  std::array<ObjectCounters, kMaxVips> vips{};          // by stable VipId
  std::array<ObjectCounters, kMaxBackends> backends{};  // by stable BackendId

  void count_drop(DropReason r) { ++drops[static_cast<std::size_t>(r)]; }
};

// Sums the lcores into the control protocol's Counters (per VIP and backend of `snapshot`,
// every drop reason by name, one LcoreCounters per entry of `lcores`).
// `lcore_ids[i]` names lcores[i]. Runs on the control thread; reads workers' counters without
// locks (each value is a naturally aligned 64-bit word, so reads never tear on x86-64).
[[nodiscard]] control::Counters sum_counters(const Snapshot& snapshot,
                                             std::span<const LcoreCounters* const> lcores,
                                             std::span<const std::uint32_t> lcore_ids);

}  // namespace sluice::pipeline

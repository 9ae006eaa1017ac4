// Per-lcore counters: plain uint64_t with one writer (the lcore), summed by the control thread
// on read (counter_report.hpp). They only go up. No wire form here: the hot path does not
// include JSON.
//
// Every packet the pipeline receives is counted once in rx_packets and, when its fate is
// known, once in verdicts[]: rx_packets = forward + reply + pass + drop, and drop is the sum of
// drops[] (one reason per dropped packet). forward, reply and pass count packets that left: a
// forward that then meets a full TX queue is a drop (tx_full) and never a forward. Between the
// two, a packet is in flight (between the pipeline's passes, or buffered for TX).
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "pipeline/limits.hpp"
#include "pipeline/verdict.hpp"
#include "sluice/drop_reason.hpp"

namespace sluice::pipeline {

inline constexpr std::size_t kHandshakeBuckets = 16;

// The handshake-time bucket of `ms` milliseconds: 0 for < 1 ms, i for [2^(i-1), 2^i) ms, 15 for
// >= 16384 ms (2^14).
[[nodiscard]] constexpr std::size_t handshake_bucket(std::uint32_t ms) {
  const auto width = static_cast<std::size_t>(std::bit_width(ms));  // 0 for 0, i for [2^(i-1), 2^i)
  return width < kHandshakeBuckets ? width : kHandshakeBuckets - 1;
}

// Per stable backend id. A VIP's packets, bytes and new flows are the sums over its backends.
// The first line holds what the packets of established flows and of SYNs touch; the rest is
// written once per flow at most.
struct alignas(64) BackendCounters {
  std::uint64_t packets = 0;            // forwarded to it
  std::uint64_t bytes = 0;              // frame bytes as received, before encapsulation
  std::uint64_t new_flows = 0;          // new flows (and new connections on a reused 5-tuple)
  std::uint64_t rescheduled_flows = 0;  // flows moved to it from a backend gone or down
  // Passive signals (docs/dataplane.md), from the client's packets only.
  std::uint64_t syns = 0;             // pure SYNs (SYN without ACK) forwarded to it
  std::uint64_t syn_retransmits = 0;  // ... on an `open` entry of it (a client still waiting)
  std::uint64_t handshakes = 0;       // its entries that went open -> established (first ACK)
  std::uint64_t unanswered = 0;       // its open TCP entries expired or evicted without an ACK
  std::uint64_t syn_rescued = 0;      // retransmitted SYNs moved away from it (SYN rescue)
  // Handshake time (the client's first SYN to its first ACK), handshake_bucket().
  std::array<std::uint64_t, kHandshakeBuckets> handshake_ms_buckets{};
};

// Per stable VIP id: what reached the VIP but none of its backends.
struct VipCounters {
  std::uint64_t dropped = 0;  // no_backend, too_big_no_df, no_headroom, fragment_unsupported
  std::uint64_t replied = 0;  // echo replies and frag-needed / packet-too-big
  std::uint64_t second_hop_flows = 0;    // second chance: flows adopted with a hop
  std::uint64_t second_hop_packets = 0;  // ... packets sent naming one
};

struct alignas(64) LcoreCounters {
  // Written by the worker loop (dataplane process), not by the pipeline.
  std::uint64_t rx_polls = 0;            // rx_burst calls
  std::uint64_t idle_polls = 0;          // ... that returned nothing
  std::uint64_t tx_packets = 0;          // handed to a NIC (host relays included)
  std::uint64_t max_loop_gap_ticks = 0;  // longest time between two loop iterations (TSC),
                                         // not counting the sleeps of --idle sleep
  std::uint64_t sleeps = 0;              // --idle sleep: times the worker slept
  std::uint64_t slept_ticks = 0;         // ... and the time it was asleep (TSC)
  // The exception path from the host kernel to the uplink (not pipeline traffic).
  std::uint64_t host_rx_packets = 0;
  std::uint64_t host_relayed = 0;
  std::uint64_t host_relay_refused = 0;  // the uplink's TX queue was full

  std::uint64_t rx_packets = 0;
  std::array<std::uint64_t, kVerdictCount> verdicts{};  // indexed by Verdict, at their fate
  std::array<std::uint64_t, kDropReasonCount> drops{};  // indexed by DropReason
  // Per-case behaviour counters (docs/dataplane.md).
  std::uint64_t fragments_forwarded = 0;
  std::uint64_t ipv4_options_forwarded = 0;
  std::uint64_t ipv6_extensions_forwarded = 0;
  std::uint64_t icmp_echo_replies = 0;
  std::uint64_t icmp_errors_forwarded = 0;
  std::uint64_t too_big_sent = 0;
  std::uint64_t flows_rescheduled = 0;  // hit on a backend gone or down: moved to a live one
  std::uint64_t flows_evicted = 0;      // a live open or closing entry displaced from a full bucket
  std::uint64_t flows_evicted_established = 0;  // ... an established one (a bucket of them only)
  std::uint64_t flows_not_tracked = 0;  // a SYN forwarded without an entry: its bucket was full
                                        // of established entries, which a SYN never evicts
  std::uint64_t flows_expired = 0;      // reclaimed after its idle timeout
  std::uint64_t flows_rescued = 0;      // SYN rescue: retransmitted SYNs moved to a backend that
                                        // takes new flows (docs/dataplane.md)
  // Second chance (docs/second-chance.md).
  std::uint64_t second_hop_flows = 0;    // non-SYN misses adopted with the slot's previous owner
  std::uint64_t second_hop_packets = 0;  // packets sent naming a second hop

  std::array<VipCounters, kMaxVips> vips{};              // by stable VipId
  std::array<BackendCounters, kMaxBackends> backends{};  // by stable BackendId

  void count_verdict(Verdict v, std::uint64_t n = 1) { verdicts[static_cast<std::size_t>(v)] += n; }
  // A packet freed under `reason`: its fate.
  void count_drop(DropReason reason, std::uint64_t n = 1) {
    drops[static_cast<std::size_t>(reason)] += n;
    verdicts[static_cast<std::size_t>(Verdict::drop)] += n;
  }
};

}  // namespace sluice::pipeline

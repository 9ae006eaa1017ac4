// The per-packet pipeline: parse -> classify -> flow decision -> encap / ICMP reply.
// sluice-dataplane workers and sluice-pcap both run it.
//
// Ownership of mbufs: after a burst every input mbuf is in exactly one place:
//   out.tx    forwarded (encapsulated) or replies, in input order: the caller transmits them
//   out.pass  non-VIP traffic for the host, in input order: the caller passes or frees them
//   dropped   already freed by the pipeline and counted under one drop reason
// Counting (counters.hpp): the pipeline counts rx_packets and every drop; the caller counts
// what it hands on (count_handed_on) or what a full queue refused, as a drop.
#pragma once

#include <array>
#include <cstdint>

#include "pipeline/classified_burst.hpp"
#include "pipeline/limits.hpp"
#include "pipeline/snapshot.hpp"
#include "pipeline/verdict.hpp"
#include "pipeline/worker_state.hpp"

struct rte_mbuf;

namespace sluice::pipeline {

struct BurstResult {
  std::uint16_t tx_count = 0;
  std::uint16_t pass_count = 0;
  std::uint16_t drop_count = 0;
  std::array<rte_mbuf*, kMaxBurst> tx{};
  std::array<Verdict, kMaxBurst> tx_verdict{};  // forward or reply, for tx[i]
  std::array<rte_mbuf*, kMaxBurst> pass{};
  std::array<PacketVerdict, kMaxBurst> verdicts{};  // verdicts[i] is for pkts[i]
};

// Runs `n` (<= kMaxBurst) packets received by this lcore. `now` is in ticks of
// WorkerState::ticks_per_second (TSC in the dataplane, pcap time in ns for sluice-pcap), so a
// replay is deterministic. No allocation, locks, exceptions or logging.
// process_burst() is classify_burst() + complete_burst().
void process_burst(WorkerState& worker, const Snapshot& snapshot, rte_mbuf** pkts, std::uint16_t n,
                   std::uint64_t now, BurstResult& out);

// The same in two steps (see classified_burst.hpp): pass 1 reads the snapshot and starts
// fetching flow-table lines; pass 2 must run with the same snapshot, still protected from
// reclamation, and before any later burst's pass 2.
void classify_burst(WorkerState& worker, const Snapshot& snapshot, rte_mbuf** pkts, std::uint16_t n,
                    std::uint64_t now, ClassifiedBurst& classified);
void complete_burst(WorkerState& worker, const Snapshot& snapshot, ClassifiedBurst& classified,
                    BurstResult& out);

// For a caller that hands every packet of `out` on (sluice-pcap, tests): counts them as
// forward, reply and pass. The worker counts per TX queue instead, since a queue may refuse.
void count_handed_on(LcoreCounters& counters, const BurstResult& out);

// Frees and counts `n` packets under one reason (e.g. no_snapshot before any state is loaded).
void drop_burst(WorkerState& worker, rte_mbuf** pkts, std::uint16_t n, DropReason reason);

// Housekeeping for idle polls: clears up to `max_buckets` buckets' expired entries and fixes
// the active-flow gauges. Cheap; call it when rx_burst returns nothing.
void expire_flows(WorkerState& worker, std::uint64_t now, std::uint32_t max_buckets);

}  // namespace sluice::pipeline

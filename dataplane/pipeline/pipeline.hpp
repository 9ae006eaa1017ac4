// The per-packet pipeline: parse -> classify -> flow table -> scheduler -> encap / ICMP.
// One function runs a burst; sluice-dataplane workers and sluice-pcap both call it.
//
// Ownership of mbufs: after process_burst() every input mbuf is in exactly one place:
//   out.tx    forwarded (encapsulated) or replies, in input order: the caller transmits them
//   out.pass  non-VIP traffic for the host, in input order: the caller passes or frees them
//   dropped   already freed by process_burst() and counted under one drop reason
// The caller counts tx_packets itself, and tx_full / pass_full when it has to free.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "pipeline/counters.hpp"
#include "pipeline/flow_table.hpp"
#include "pipeline/limits.hpp"
#include "pipeline/planned_burst.hpp"
#include "pipeline/snapshot.hpp"
#include "pipeline/verdict.hpp"
#include "sluice/control/messages.hpp"
#include "sluice/flow_key.hpp"
#include "sluice/net/headers.hpp"
#include "sluice/result.hpp"

struct rte_mbuf;

namespace sluice::pipeline {

// Scheduler state of one lcore (no sharing between lcores).
struct SchedulerState {
  std::array<std::uint32_t, kMaxVips> rr_cursor{};       // round-robin, by VipId
  std::array<std::int64_t, kMaxBackends> wrr_current{};  // smooth WRR current weight, by BackendId
  std::uint64_t rng = 0x9E3779B97F4A7C15ull;             // random: splitmix64 state
};

struct WorkerConfig {
  std::uint32_t lcore_id = 0;
  int socket_id = -1;                              // NUMA node for the memory; -1: any
  std::uint32_t flow_table_entries = 1u << 20;     // per lcore (from config at start-up)
  std::uint64_t ticks_per_second = 1'000'000'000;  // unit of `now` (rte_get_tsc_hz())
  net::MacAddress port_mac{};                      // source MAC of transmitted frames
  std::uint64_t seed = 1;                          // random scheduler seed
};

struct alignas(64) WorkerState {
  LcoreCounters counters;
  FlowTable flows;
  SchedulerState scheduler;
  net::MacAddress port_mac{};
  std::uint64_t ticks_per_second = 1'000'000'000;
  std::uint32_t lcore_id = 0;
  std::uint32_t now_s = 0;      // time of the last burst, whole seconds
  void* flow_memory = nullptr;  // owned (rte_free)
};

struct WorkerStateDeleter {
  void operator()(WorkerState* state) const;
};
using WorkerStatePtr = std::unique_ptr<WorkerState, WorkerStateDeleter>;

// Allocates the state and its flow table from DPDK memory on config.socket_id (EAL must be
// initialised). Call on the control thread at start-up; fails when memory is short.
[[nodiscard]] Result<WorkerStatePtr> create_worker_state(const WorkerConfig& config);

struct BurstResult {
  std::uint16_t tx_count = 0;
  std::uint16_t pass_count = 0;
  std::uint16_t drop_count = 0;
  std::array<rte_mbuf*, kMaxBurst> tx{};
  std::array<rte_mbuf*, kMaxBurst> pass{};
  std::array<PacketVerdict, kMaxBurst> verdicts{};  // verdicts[i] is for pkts[i]
};

// Runs `n` (<= kMaxBurst) packets received by this lcore. `now` is in ticks of
// WorkerState::ticks_per_second (TSC in the dataplane, pcap time in ns for sluice-pcap), so a
// replay is deterministic. No allocation, locks, exceptions or logging.
void process_burst(WorkerState& worker, const Snapshot& snapshot, rte_mbuf** pkts, std::uint16_t n,
                   std::uint64_t now, BurstResult& out);

// The same in two steps (see planned_burst.hpp): pass 1 reads the snapshot and starts fetching
// flow-table lines; pass 2 must run with the same snapshot, still protected from reclamation,
// and before any later burst's pass 2. process_burst() is plan_burst() + finish_burst().
void plan_burst(WorkerState& worker, const Snapshot& snapshot, rte_mbuf** pkts, std::uint16_t n,
                std::uint64_t now, PlannedBurst& planned);
void finish_burst(WorkerState& worker, const Snapshot& snapshot, PlannedBurst& planned,
                  BurstResult& out);

// Frees and counts `n` packets under one reason (e.g. no_snapshot before any state is loaded).
void drop_burst(WorkerState& worker, rte_mbuf** pkts, std::uint16_t n, DropReason reason);

// Housekeeping for idle polls: clears up to `max_buckets` buckets' expired entries and fixes
// the active-flow gauges. Cheap; call it when rx_burst returns nothing.
void expire_flows(WorkerState& worker, std::uint64_t now, std::uint32_t max_buckets);

// "Which backend does this 5-tuple get, and why": flow-table entries of every worker (read
// without locks, best effort), else what the VIP's scheduler would pick for a new flow.
// Runs on the control thread; an entry counts as live against each worker's last burst time.
using Explanation = control::ExplainResult;
[[nodiscard]] Explanation explain(const Snapshot& snapshot,
                                  std::span<const WorkerState* const> workers, const FlowKey& key);

}  // namespace sluice::pipeline

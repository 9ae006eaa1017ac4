// A run-to-completion worker: one per worker lcore, polling its own RX queue on every RX port,
// running the pipeline on each burst and transmitting through its own TX queue on every port.
//
// Loop, software-pipelined by one burst per RX queue: rx_burst(32) on every queue -> pass 2
// (complete_burst) of the bursts classified in the previous iteration, buffering forwarded and
// reply packets for the egress port and pass packets for the host port -> relay the host
// port's packets to the uplink -> on an idle pass expire some flows -> drain the TX buffers
// when the TSC timer fires -> report quiescent (RCU: nothing is held now) -> load the snapshot
// (acquire) and run pass 1 (classify_burst) of the bursts just received. Their flow-table
// lines are fetched while the next iteration receives; a burst waits at most one iteration.
//
// --idle sleep adds one step at the end of an iteration that received nothing (idle.hpp):
// after kSleepAfterEmptyPolls such iterations in a row, drain the TX buffers, go RCU-offline, sleep
// (adaptive, capped), come back online. --idle poll and pause run the same loop without it (pause
// works inside rx_burst, through DPDK's RX callbacks).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include <rte_ethdev.h>

#include "idle.hpp"
#include "pipeline/pipeline.hpp"
#include "tx_path.hpp"

struct rte_rcu_qsbr;

namespace sluice::dataplane {

class SnapshotPublisher;

inline constexpr std::uint16_t kRxBurst = 32;

struct RxQueue {
  std::uint16_t port = 0;
  std::uint16_t queue = 0;
  std::uint16_t egress_port = 0;  // where forwarded packets and replies go
};

struct WorkerSetup {
  unsigned index = 0;  // 0..workers-1: the RCU reader id and this worker's TX queue
  unsigned lcore = 0;
  std::vector<RxQueue> traffic;            // client traffic
  std::vector<std::uint16_t> tx_ports;     // every port this worker may send on
  std::optional<RxQueue> host;             // exception port: egress_port = uplink
  std::optional<std::uint16_t> host_port;  // where pass packets go; none: drop no_host_port
  std::uint64_t drain_ticks = 0;           // TSC ticks between TX drains
  IdleMode idle = IdleMode::poll;
};

class Worker {
 public:
  Worker(WorkerSetup setup, pipeline::WorkerState& state, const SnapshotPublisher& publisher,
         rte_rcu_qsbr* qsbr, const std::atomic<bool>& running);

  // The lcore entry point (rte_eal_remote_launch); `arg` is a Worker*.
  static int launch(void* arg);

  [[nodiscard]] const WorkerSetup& setup() const { return setup_; }

 private:
  template <bool kSleepWhenIdle>
  void run();
  // --idle sleep: one sleep of `duration`, counted in sleeps/slept_ticks.
  void sleep_idle(std::chrono::nanoseconds duration);
  // Traffic queue q: receive a burst; classify it (pass 1) on the snapshot; complete the
  // burst classified in the previous iteration (pass 2) and send its packets.
  bool receive(std::size_t q);
  void classify_received(std::size_t q, const pipeline::Snapshot* snapshot, std::uint64_t now);
  void complete_held(std::size_t q, const pipeline::Snapshot* classified_with);
  bool poll_host(const RxQueue& rx);

  WorkerSetup setup_;
  pipeline::WorkerState& state_;
  const SnapshotPublisher& publisher_;
  rte_rcu_qsbr* qsbr_;
  const std::atomic<bool>& running_;
  struct Received {
    std::array<rte_mbuf*, kRxBurst> packets{};
    std::uint16_t count = 0;
  };
  TxPath tx_;
  std::vector<Received> received_;               // per traffic queue
  std::vector<pipeline::ClassifiedBurst> held_;  // per traffic queue: pass 1 done
  pipeline::BurstResult burst_{};
};

}  // namespace sluice::dataplane

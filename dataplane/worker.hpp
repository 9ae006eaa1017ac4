// A run-to-completion worker: one per worker lcore, polling its own RX queue on every RX port,
// running the pipeline on each burst and transmitting through its own TX queue on every port.
//
// Loop: load the snapshot once (acquire) -> for each RX queue: rx_burst(32), prefetch,
// process_burst, buffer forwarded/reply packets for the egress port and pass packets for the
// host port -> relay the host port's packets to the uplink -> on an idle pass expire some
// flows -> drain the TX buffers when the TSC timer fires -> report quiescent (RCU).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <vector>

#include <rte_ethdev.h>

#include "pipeline/pipeline.hpp"
#include "tx_buffer.hpp"

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
};

class Worker {
 public:
  Worker(WorkerSetup setup, pipeline::WorkerState& state, const SnapshotPublisher& publisher,
         rte_rcu_qsbr* qsbr, const std::atomic<bool>& running);

  // The lcore entry point (rte_eal_remote_launch); `arg` is a Worker*.
  static int launch(void* arg);

  [[nodiscard]] const WorkerSetup& setup() const { return setup_; }

 private:
  void run();
  // Returns true when the queue gave packets.
  bool poll_traffic(const RxQueue& rx, const pipeline::Snapshot* snapshot, std::uint64_t now);
  bool poll_host(const RxQueue& rx);
  void send(std::uint16_t port, rte_mbuf* packet, DropReason if_refused);
  void drain_all();
  void account(const TxResult& r, DropReason if_refused);

  WorkerSetup setup_;
  pipeline::WorkerState& state_;
  const SnapshotPublisher& publisher_;
  rte_rcu_qsbr* qsbr_;
  const std::atomic<bool>& running_;
  std::array<TxBuffer, RTE_MAX_ETHPORTS> tx_{};
  pipeline::BurstResult burst_{};
};

}  // namespace sluice::dataplane

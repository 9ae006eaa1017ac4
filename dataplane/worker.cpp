#include "worker.hpp"

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>

#include "qsbr.hpp"
#include "snapshot_publisher.hpp"

namespace sluice::dataplane {
namespace {

// Buckets of the flow table swept per idle poll: keeps the active-flow gauges honest without
// costing a busy worker anything.
constexpr std::uint32_t kExpireBucketsPerIdlePoll = 64;
constexpr std::uint16_t kPrefetchAhead = 4;

}  // namespace

Worker::Worker(WorkerSetup setup, pipeline::WorkerState& state, const SnapshotPublisher& publisher,
               rte_rcu_qsbr* qsbr, const std::atomic<bool>& running)
    : setup_(std::move(setup)),
      state_(state),
      publisher_(publisher),
      qsbr_(qsbr),
      running_(running) {
  for (std::uint16_t port : setup_.tx_ports) {
    tx_[port].port = port;
    tx_[port].queue = static_cast<std::uint16_t>(setup_.index);
  }
}

int Worker::launch(void* arg) {
  static_cast<Worker*>(arg)->run();
  return 0;
}

void Worker::run() {
  QsbrReader reader(qsbr_, setup_.index);
  std::uint64_t last_drain = rte_rdtsc();
  while (running_.load(std::memory_order_relaxed)) {
    const std::uint64_t now = rte_rdtsc();
    // One snapshot per iteration: every burst below runs on it, and it stays valid until
    // the quiescent report at the bottom.
    const pipeline::Snapshot* snapshot = publisher_.current();
    bool busy = false;
    for (const RxQueue& rx : setup_.traffic)
      busy |= poll_traffic(rx, snapshot, now);
    if (setup_.host) busy |= poll_host(*setup_.host);
    if (!busy) pipeline::expire_flows(state_, now, kExpireBucketsPerIdlePoll);
    if (now - last_drain >= setup_.drain_ticks) {
      drain_all();
      last_drain = now;
    }
    rte_rcu_qsbr_quiescent(qsbr_, setup_.index);
  }
  drain_all();
}

bool Worker::poll_traffic(const RxQueue& rx, const pipeline::Snapshot* snapshot,
                          std::uint64_t now) {
  rte_mbuf* packets[kRxBurst];
  const std::uint16_t n = rte_eth_rx_burst(rx.port, rx.queue, packets, kRxBurst);
  auto& counters = state_.counters;
  ++counters.rx_polls;
  if (n == 0) {
    ++counters.idle_polls;
    return false;
  }
  for (std::uint16_t i = 0; i < n && i < kPrefetchAhead; ++i) {
    rte_prefetch0(rte_pktmbuf_mtod(packets[i], void*));
  }
  if (snapshot == nullptr) {
    pipeline::drop_burst(state_, packets, n, DropReason::no_snapshot);
    return true;
  }
  pipeline::process_burst(state_, *snapshot, packets, n, now, burst_);
  for (std::uint16_t i = 0; i < burst_.tx_count; ++i) {
    send(rx.egress_port, burst_.tx[i], DropReason::tx_full);
  }
  if (burst_.pass_count != 0) {
    if (setup_.host_port) {
      for (std::uint16_t i = 0; i < burst_.pass_count; ++i) {
        send(*setup_.host_port, burst_.pass[i], DropReason::pass_full);
      }
    } else {
      rte_pktmbuf_free_bulk(burst_.pass.data(), burst_.pass_count);
      counters.drops[static_cast<std::size_t>(DropReason::no_host_port)] += burst_.pass_count;
    }
  }
  return true;
}

bool Worker::poll_host(const RxQueue& rx) {
  rte_mbuf* packets[kRxBurst];
  const std::uint16_t n = rte_eth_rx_burst(rx.port, rx.queue, packets, kRxBurst);
  for (std::uint16_t i = 0; i < n; ++i)
    send(rx.egress_port, packets[i], DropReason::tx_full);
  return n != 0;
}

void Worker::send(std::uint16_t port, rte_mbuf* packet, DropReason if_refused) {
  account(tx_enqueue(tx_[port], packet), if_refused);
}

void Worker::account(const TxResult& r, DropReason if_refused) {
  state_.counters.tx_packets += r.sent;
  state_.counters.drops[static_cast<std::size_t>(if_refused)] += r.dropped;
}

void Worker::drain_all() {
  for (std::uint16_t port : setup_.tx_ports) {
    const DropReason reason =
        port == setup_.host_port ? DropReason::pass_full : DropReason::tx_full;
    account(tx_flush(tx_[port]), reason);
  }
}

}  // namespace sluice::dataplane

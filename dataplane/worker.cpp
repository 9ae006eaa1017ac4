#include "worker.hpp"

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>

#include <sys/prctl.h>
#include <time.h>

#include <algorithm>

#include "qsbr.hpp"
#include "snapshot_publisher.hpp"

namespace sluice::dataplane {
namespace {

// Buckets of the flow table swept per idle poll: keeps the active-flow gauges honest without
// costing a busy worker anything.
constexpr std::uint32_t kExpireBucketsPerIdlePoll = 64;

}  // namespace

Worker::Worker(WorkerSetup setup, pipeline::WorkerState& state, const SnapshotPublisher& publisher,
               rte_rcu_qsbr* qsbr, const std::atomic<bool>& running)
    : setup_(std::move(setup)),
      state_(state),
      publisher_(publisher),
      qsbr_(qsbr),
      running_(running),
      tx_(state.counters, setup_.tx_ports, static_cast<std::uint16_t>(setup_.index)),
      received_(setup_.traffic.size()),
      held_(setup_.traffic.size()) {}

int Worker::launch(void* arg) {
  auto* worker = static_cast<Worker*>(arg);
  if (worker->setup_.idle == IdleMode::sleep) {
    // Per thread: only this worker's sleeps become precise.
    prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(kSleepTimerSlack.count()), 0, 0, 0);
    worker->run<true>();
  } else {
    worker->run<false>();
  }
  return 0;
}

template <bool kSleepWhenIdle>
void Worker::run() {
  QsbrReader reader(qsbr_, setup_.index);
  std::uint64_t last_drain = rte_rdtsc();
  // The snapshot the held bursts were classified with: protected until the quiescent report,
  // which comes only after they are completed.
  const pipeline::Snapshot* classified_with = nullptr;
  std::uint64_t previous = last_drain;
  [[maybe_unused]] std::uint32_t empty_iterations = 0;
  [[maybe_unused]] std::chrono::nanoseconds next_sleep = kFirstSleep;
  while (running_.load(std::memory_order_relaxed)) {
    const std::uint64_t now = rte_rdtsc();
    // The loop's own clock, already read: the longest gap costs a subtract and a compare.
    if (now - previous > state_.counters.max_loop_gap_ticks) {
      state_.counters.max_loop_gap_ticks = now - previous;
    }
    previous = now;
    bool busy = false;
    // Receive first: the held bursts' flow-table lines arrive meanwhile.
    for (std::size_t q = 0; q < setup_.traffic.size(); ++q)
      busy |= receive(q);
    for (std::size_t q = 0; q < setup_.traffic.size(); ++q)
      complete_held(q, classified_with);
    if (setup_.host) busy |= poll_host(*setup_.host);
    if (!busy) pipeline::expire_flows(state_, now, kExpireBucketsPerIdlePoll);
    if (now - last_drain >= setup_.drain_ticks) {
      tx_.drain_all();
      last_drain = now;
    }
    // Nothing held here: report, then classify the new bursts on the current snapshot.
    rte_rcu_qsbr_quiescent(qsbr_, setup_.index);
    classified_with = publisher_.current();
    for (std::size_t q = 0; q < setup_.traffic.size(); ++q)
      classify_received(q, classified_with, now);
    if constexpr (kSleepWhenIdle) {
      // Nothing received in this iteration means nothing is held either: all completed above.
      if (busy) {
        empty_iterations = 0;
        next_sleep = kFirstSleep;
      } else if (++empty_iterations >= kSleepAfterEmptyPolls) {
        sleep_idle(next_sleep);
        next_sleep = std::min(next_sleep * 2, kMaxSleep);
        // A chosen sleep is not a loop gap: max_loop_gap_ticks keeps measuring stalls.
        previous = rte_rdtsc();
      }
    }
  }
  for (std::size_t q = 0; q < setup_.traffic.size(); ++q)
    complete_held(q, classified_with);
  tx_.drain_all();
}

void Worker::sleep_idle(std::chrono::nanoseconds duration) {
  // Nothing may wait in a buffer while the worker sleeps.
  tx_.drain_all();
  // Offline: a state swap's rte_rcu_qsbr_synchronize does not wait for a sleeping worker. The
  // snapshot is loaded again after the next quiescent report, never used from before.
  rte_rcu_qsbr_thread_offline(qsbr_, setup_.index);
  const timespec ts{.tv_sec = 0, .tv_nsec = static_cast<long>(duration.count())};
  const std::uint64_t before = rte_rdtsc();
  clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr);  // EINTR: a shorter sleep, harmless
  state_.counters.slept_ticks += rte_rdtsc() - before;
  ++state_.counters.sleeps;
  rte_rcu_qsbr_thread_online(qsbr_, setup_.index);
}

bool Worker::receive(std::size_t q) {
  const RxQueue& rx = setup_.traffic[q];
  Received& r = received_[q];
  r.count = rte_eth_rx_burst(rx.port, rx.queue, r.packets.data(), kRxBurst);
  ++state_.counters.rx_polls;
  if (r.count == 0) {
    ++state_.counters.idle_polls;
    return false;
  }
  return true;
}

void Worker::classify_received(std::size_t q, const pipeline::Snapshot* snapshot,
                               std::uint64_t now) {
  Received& r = received_[q];
  if (r.count == 0) return;
  if (snapshot == nullptr) {
    pipeline::drop_burst(state_, r.packets.data(), r.count, DropReason::no_snapshot);
  } else {
    pipeline::classify_burst(state_, *snapshot, r.packets.data(), r.count, now, held_[q]);
  }
  r.count = 0;
}

void Worker::complete_held(std::size_t q, const pipeline::Snapshot* classified_with) {
  pipeline::ClassifiedBurst& held = held_[q];
  if (held.count == 0) return;
  pipeline::complete_burst(state_, *classified_with, held, burst_);
  const RxQueue& rx = setup_.traffic[q];
  tx_.send_burst(rx.egress_port, burst_);
  if (burst_.pass_count == 0) return;
  if (setup_.host_port) {
    tx_.send(*setup_.host_port, burst_.pass.data(), burst_.pass_count, Departure::pass);
  } else {
    rte_pktmbuf_free_bulk(burst_.pass.data(), burst_.pass_count);
    state_.counters.count_drop(DropReason::no_host_port, burst_.pass_count);
  }
}

bool Worker::poll_host(const RxQueue& rx) {
  rte_mbuf* packets[kRxBurst];
  const std::uint16_t n = rte_eth_rx_burst(rx.port, rx.queue, packets, kRxBurst);
  state_.counters.host_rx_packets += n;
  tx_.send(rx.egress_port, packets, n, Departure::relay);
  return n != 0;
}

}  // namespace sluice::dataplane

// Publishes immutable forwarding snapshots to the workers (RCU, rte_rcu_qsbr):
//   control thread: build a snapshot off the fast path, publish() = release-store the pointer,
//                   rte_rcu_qsbr_synchronize() until every worker has passed a quiescent point,
//                   then free the old snapshot
//   worker:         current() = acquire-load once per loop iteration, use it for that burst,
//                   report quiescent (rte_rcu_qsbr_quiescent) at the end of the iteration
// A worker therefore never sees a freed snapshot, and each burst runs on exactly one
// snapshot: no packet is lost or sent with a half-updated state.
#pragma once

#include <atomic>
#include <memory>

#include "pipeline/snapshot.hpp"

struct rte_rcu_qsbr;

namespace sluice::dataplane {

class SnapshotPublisher {
 public:
  explicit SnapshotPublisher(rte_rcu_qsbr* qsbr) : qsbr_(qsbr) {}
  SnapshotPublisher(const SnapshotPublisher&) = delete;
  SnapshotPublisher& operator=(const SnapshotPublisher&) = delete;
  ~SnapshotPublisher();  // frees the current snapshot: only after the workers have stopped

  // Worker side: nullptr until the first publish().
  [[nodiscard]] const pipeline::Snapshot* current() const {
    return current_.load(std::memory_order_acquire);
  }

  // Control thread only. Returns when no worker can still hold the previous snapshot (which
  // is then freed).
  void publish(std::unique_ptr<const pipeline::Snapshot> next);

 private:
  rte_rcu_qsbr* qsbr_;
  std::atomic<const pipeline::Snapshot*> current_{nullptr};
};

}  // namespace sluice::dataplane

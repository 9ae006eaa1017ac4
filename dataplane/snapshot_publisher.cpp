#include "snapshot_publisher.hpp"

#include <rte_rcu_qsbr.h>

namespace sluice::dataplane {

SnapshotPublisher::~SnapshotPublisher() {
  delete current_.load(std::memory_order_acquire);
}

void SnapshotPublisher::publish(std::unique_ptr<const pipeline::Snapshot> next) {
  const pipeline::Snapshot* old = current_.exchange(next.release(), std::memory_order_acq_rel);
  // Waits for every online worker to report a quiescent state after the exchange; workers
  // that are offline (stopped) hold no reference.
  rte_rcu_qsbr_synchronize(qsbr_, RTE_QSBR_THRID_INVALID);
  delete old;
}

}  // namespace sluice::dataplane

// The worker lcores as one RAII group: their pipeline state (flow tables from DPDK memory on
// each worker's NUMA socket), launch on their lcores, and stop (flag + wait) on stop() or
// destruction, so no worker outlives the snapshot, ports or pool it uses.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "pipeline/worker_state.hpp"
#include "sluice/result.hpp"
#include "worker.hpp"

struct rte_rcu_qsbr;

namespace sluice::dataplane {

class SnapshotPublisher;

class WorkerGroup {
 public:
  // One WorkerState per lcore, from `base` with the lcore's id, socket and seed filled in.
  [[nodiscard]] static Result<std::unique_ptr<WorkerGroup>> create(
      const std::vector<unsigned>& lcores, const pipeline::WorkerConfig& base);
  WorkerGroup(const WorkerGroup&) = delete;
  WorkerGroup& operator=(const WorkerGroup&) = delete;
  ~WorkerGroup();

  [[nodiscard]] std::vector<const pipeline::WorkerState*> states() const;
  [[nodiscard]] const std::vector<unsigned>& lcores() const { return lcores_; }

  // setups[i] runs on lcores()[i] with states()[i].
  [[nodiscard]] Status launch(std::vector<WorkerSetup> setups, const SnapshotPublisher& publisher,
                              rte_rcu_qsbr* qsbr);
  // Stops the loops (each flushes its TX buffers) and waits for every lcore. Idempotent.
  void stop();

 private:
  WorkerGroup() = default;
  std::vector<unsigned> lcores_;
  std::vector<pipeline::WorkerStatePtr> states_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> running_{false};
};

}  // namespace sluice::dataplane

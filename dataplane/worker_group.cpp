#include "worker_group.hpp"

#include <rte_launch.h>
#include <rte_lcore.h>

#include <spdlog/spdlog.h>

namespace sluice::dataplane {

Result<std::unique_ptr<WorkerGroup>> WorkerGroup::create(const std::vector<unsigned>& lcores,
                                                         const pipeline::WorkerConfig& base) {
  std::unique_ptr<WorkerGroup> group(new WorkerGroup());
  group->lcores_ = lcores;
  for (unsigned lcore : lcores) {
    pipeline::WorkerConfig config = base;
    config.lcore_id = lcore;
    config.socket_id = static_cast<int>(rte_lcore_to_socket_id(lcore));
    config.seed = base.seed * (lcore + 1);
    config.worker_count = static_cast<std::uint32_t>(lcores.size());
    auto state = pipeline::create_worker_state(config);
    if (!state) {
      return Error{"worker on lcore " + std::to_string(lcore) + ": " + state.error().message};
    }
    group->states_.push_back(std::move(state.value()));
  }
  return group;
}

WorkerGroup::~WorkerGroup() {
  stop();
}

std::vector<const pipeline::WorkerState*> WorkerGroup::states() const {
  std::vector<const pipeline::WorkerState*> out;
  for (const auto& s : states_)
    out.push_back(s.get());
  return out;
}

Status WorkerGroup::launch(std::vector<WorkerSetup> setups, const SnapshotPublisher& publisher,
                           rte_rcu_qsbr* qsbr) {
  running_.store(true);
  for (std::size_t i = 0; i < setups.size(); ++i) {
    const unsigned lcore = lcores_[i];
    const std::size_t queues = setups[i].traffic.size();
    const bool host = setups[i].host.has_value();
    workers_.push_back(
        std::make_unique<Worker>(std::move(setups[i]), *states_[i], publisher, qsbr, running_));
    if (rte_eal_remote_launch(Worker::launch, workers_.back().get(), lcore) != 0) {
      stop();
      return Error{"cannot launch the worker on lcore " + std::to_string(lcore)};
    }
    spdlog::info("worker {} on lcore {}: {} RX queue(s){}", i, lcore, queues,
                 host ? " + host port" : "");
  }
  return ok_status();
}

void WorkerGroup::stop() {
  if (!running_.exchange(false)) return;
  rte_eal_mp_wait_lcore();
}

}  // namespace sluice::dataplane

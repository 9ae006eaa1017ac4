#include <rte_malloc.h>
#include <rte_random.h>

#include <new>
#include <string>

#include "pipeline/worker_state.hpp"

namespace sluice::pipeline {

void WorkerStateDeleter::operator()(WorkerState* state) const {
  if (state == nullptr) return;
  void* flow_memory = state->flow_memory;
  state->~WorkerState();
  rte_free(flow_memory);
  rte_free(state);
}

Result<WorkerStatePtr> create_worker_state(const WorkerConfig& config) {
  if (config.ticks_per_second == 0) return Error{"ticks_per_second must be positive"};
  void* raw = rte_zmalloc_socket("sluice_worker", sizeof(WorkerState), alignof(WorkerState),
                                 config.socket_id);
  if (raw == nullptr) {
    return Error{"cannot allocate " + std::to_string(sizeof(WorkerState)) +
                 " bytes of worker state on socket " + std::to_string(config.socket_id)};
  }
  WorkerStatePtr state(new (raw) WorkerState{});
  const std::size_t bytes = FlowTable::bytes_for(config.flow_table_entries);
  state->flow_memory =
      rte_zmalloc_socket("sluice_flows", bytes, kFlowTableAlignment, config.socket_id);
  if (state->flow_memory == nullptr) {
    return Error{"cannot allocate " + std::to_string(bytes >> 20) + " MiB for a flow table of " +
                 std::to_string(FlowTable::capacity_for(config.flow_table_entries)) +
                 " entries on socket " + std::to_string(config.socket_id) +
                 " (dataplane.flow_table_entries)"};
  }
  // A secret key for the flow table's second hash, so colliding flows cannot be crafted.
  state->flows = FlowTable(state->flow_memory, config.flow_table_entries, rte_rand() | 1u);
  state->port_mac = config.port_mac;
  state->ticks_per_second = config.ticks_per_second;
  state->lcore_id = config.lcore_id;
  state->worker_count = config.worker_count == 0 ? 1 : config.worker_count;
  state->scheduler.rng = config.seed;
  return state;
}

}  // namespace sluice::pipeline

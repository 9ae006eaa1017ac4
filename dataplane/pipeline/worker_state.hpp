// Everything one worker lcore owns: its counters, flow table and scheduler state. One writer
// (the lcore); the control thread reads the counters and, for explain(), the flow table.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "pipeline/counters.hpp"
#include "pipeline/flow_table.hpp"
#include "pipeline/new_flow_limit.hpp"
#include "pipeline/scheduler.hpp"
#include "sluice/net/headers.hpp"
#include "sluice/result.hpp"

namespace sluice::pipeline {

struct WorkerConfig {
  std::uint32_t lcore_id = 0;
  int socket_id = -1;                              // NUMA node for the memory; -1: any
  std::uint32_t flow_table_entries = 1u << 20;     // per lcore (from config at start-up)
  std::uint64_t ticks_per_second = 1'000'000'000;  // unit of `now` (rte_get_tsc_hz())
  net::MacAddress port_mac{};                      // source MAC of transmitted frames
  std::uint64_t seed = 1;                          // random scheduler seed
  std::uint32_t worker_count = 1;                  // lcores sharing each VIP's new-flow limit
};

struct alignas(64) WorkerState {
  LcoreCounters counters;
  FlowTable flows;
  SchedulerState scheduler;
  net::MacAddress port_mac{};
  std::array<TokenBucket, kMaxVips> new_flow_budget{};  // by VipId (vips[].new_flows_per_s)
  std::uint64_t ticks_per_second = 1'000'000'000;
  std::uint32_t worker_count = 1;
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

}  // namespace sluice::pipeline

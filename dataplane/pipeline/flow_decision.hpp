// The one place where a flow's fate is decided. decide_flow() is pure: it reads the entry the
// flow table holds for the packet's 5-tuple (if any), the snapshot and the scheduler, and says
// what to do; the worker's pass 2 applies the decision (pipeline.cpp) and explain() reports it,
// so `sluicectl explain` says what the worker does.
#pragma once

#include <cstdint>
#include <string_view>

#include "pipeline/flow_table.hpp"
#include "pipeline/scheduler.hpp"
#include "pipeline/snapshot.hpp"

namespace sluice::pipeline {

enum class FlowAction : std::uint8_t {
  hit,             // an entry whose backend keeps its flows: forward there
  reschedule,      // an entry whose backend is gone or down: moved to a new backend
  new_connection,  // a SYN on an entry the client had ACKed or closed: a new connection on a
                   // reused 5-tuple, scheduled like a new flow (DSR: Sluice never sees the
                   // backend's RST, so "established" may be stale)
  new_flow,        // no entry: schedule and insert
  rescue,          // SYN rescue: a SYN retransmission on an `open` entry whose backend keeps
                   // its flows but takes no new ones (weight 0: draining, or taken out), with
                   // the VIP's syn_rescue on: scheduled again like a new flow (the client never
                   // got a SYN-ACK, so no connection moves)
  no_backend,      // a backend is needed and none takes new flows (an entry, if any, is freed)
};

[[nodiscard]] constexpr std::string_view to_string(FlowAction a) {
  switch (a) {
    case FlowAction::hit:
      return "hit";
    case FlowAction::reschedule:
      return "reschedule";
    case FlowAction::new_connection:
      return "new_connection";
    case FlowAction::new_flow:
      return "new_flow";
    case FlowAction::rescue:
      return "rescue";
    case FlowAction::no_backend:
      return "no_backend";
  }
  return "?";
}

struct FlowDecision {
  FlowAction action = FlowAction::no_backend;
  BackendId backend = kNoBackendId;  // kNoBackendId only for no_backend
};

// `entry`: the live flow-table entry of the packet's 5-tuple, or nullptr. `pure_syn`: a TCP
// SYN without ACK. Advances `scheduler` when it schedules (round-robin cursors and the like).
[[nodiscard]] inline FlowDecision decide_flow(const Snapshot& snapshot, const VipEntry& vip,
                                              const FlowBinding* entry, bool pure_syn,
                                              const FlowHashes& hashes, SchedulerState& scheduler) {
  FlowAction needs = FlowAction::new_flow;
  if (entry != nullptr) {
    // A SYN on an `open` entry is the client retransmitting it: it stays, unless its backend
    // takes no new flows and the VIP rescues such SYNs.
    const bool new_connection = pure_syn && entry->state() != FlowState::open;
    if (!new_connection && snapshot.keeps_flows(entry->backend, entry->incarnation, vip.id))
        [[likely]] {
      if (!pure_syn || !vip.syn_rescue || snapshot.backends[entry->backend].weight != 0)
          [[likely]] {
        return FlowDecision{FlowAction::hit, entry->backend};
      }
      needs = FlowAction::rescue;
    } else {
      needs = new_connection ? FlowAction::new_connection : FlowAction::reschedule;
    }
  }
  const BackendId backend = schedule(vip, scheduler, hashes);
  if (backend == kNoBackendId) {
    // Nowhere better to go: a rescue keeps the SYN where it was.
    if (needs == FlowAction::rescue) return FlowDecision{FlowAction::hit, entry->backend};
    return FlowDecision{FlowAction::no_backend, kNoBackendId};
  }
  return FlowDecision{needs, backend};
}

}  // namespace sluice::pipeline

// The control socket's "explain" op: which backend a 5-tuple gets, and why. Runs the same
// flow decision as the workers (flow_decision.hpp) on a copy of their state, so the answer is
// what the worker does with the flow's next packet.
#pragma once

#include <span>

#include "pipeline/snapshot.hpp"
#include "pipeline/worker_state.hpp"
#include "sluice/control/messages.hpp"
#include "sluice/flow_key.hpp"

namespace sluice::pipeline {

// The flow-table entries of every worker (read without locks, best effort; an entry counts as
// live against each worker's last burst time), else what the VIP's scheduler would pick on the
// first worker. `syn`: the packet is a TCP SYN without ACK.
[[nodiscard]] control::ExplainResult explain(const Snapshot& snapshot,
                                             std::span<const WorkerState* const> workers,
                                             const FlowKey& key, bool syn = false);

}  // namespace sluice::pipeline

// The counters' wire form: sums the lcores' counters into the control protocol's Counters
// (docs/config.md, "get_counters"). Control thread only; the hot path never includes this.
#pragma once

#include <span>

#include "pipeline/snapshot.hpp"
#include "pipeline/worker_state.hpp"
#include "sluice/control/messages.hpp"

namespace sluice::pipeline {

// Per VIP and backend of `snapshot` (every configured backend, whatever its state), every drop
// reason by name, one entry per worker. Reads the workers' counters without locks (each value
// is a naturally aligned 64- or 32-bit word, so reads never tear on x86-64).
[[nodiscard]] control::Counters sum_counters(const Snapshot& snapshot,
                                             std::span<const WorkerState* const> workers);

}  // namespace sluice::pipeline

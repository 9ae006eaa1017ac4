// The control socket's "explain" op: which backend a 5-tuple gets, and why.
#include <memory>
#include <string>

#include "pipeline/pipeline.hpp"
#include "pipeline/scheduler.hpp"
#include "sluice/config/names.hpp"
#include "sluice/lb/flow_hash.hpp"
#include "sluice/net/headers.hpp"

namespace sluice::pipeline {
namespace {

// What the entry's TCP state means for the next packets (handle_flow() in pipeline.cpp).
std::string state_note(const FlowEntry& entry) {
  if (entry.key.protocol != net::kIpProtoTcp) return "";
  switch (entry.state) {
    case FlowState::open:
      return "; TCP: not yet ACKed by the client (a SYN is a retransmission and stays)";
    case FlowState::established:
      return "; TCP: established (a new SYN on this 5-tuple is scheduled as a new connection)";
    case FlowState::closing:
      return "; TCP: closing after FIN/RST (shorter expiry; a new SYN is scheduled as a new "
             "connection)";
  }
  return "";
}

}  // namespace

Explanation explain(const Snapshot& snapshot, std::span<const WorkerState* const> workers,
                    const FlowKey& key) {
  Explanation out;
  const std::uint16_t vi = snapshot.classify.lookup(key);
  if (vi == kNoVip) {
    out.reason = "no VIP matches " + key.dst().to_string() + " port " +
                 std::to_string(key.dst_port) + ": the packet would be passed to the host";
    return out;
  }
  const VipEntry& vip = snapshot.vips[vi];
  out.vip = vip.name;
  const FlowHashes hashes{lb::flow_hash_5tuple(key), lb::flow_hash_3tuple(key)};
  out.flow_hash = hashes.five_tuple;

  for (const WorkerState* worker : workers) {
    FlowEntry entry;
    if (!worker->flows.peek(key, hashes.five_tuple, worker->now_s, entry)) continue;
    const BackendSlot* slot = snapshot.backend(entry.backend);
    out.lcore = worker->lcore_id;
    if (slot != nullptr && slot->present && slot->incarnation == entry.incarnation &&
        slot->vip == vip.id) {
      out.source = control::ExplainSource::flow_table;
      out.backend = slot->address.to_string();
      out.reason = "existing flow on lcore " + std::to_string(worker->lcore_id) + " is pinned to " +
                   out.backend + (slot->weight == 0 ? " (drained: it keeps its flows)" : "") +
                   state_note(entry);
      return out;
    }
    out.reason = "existing flow on lcore " + std::to_string(worker->lcore_id) +
                 " points at a backend that is gone; its next packet is rescheduled. ";
    break;
  }

  const std::string scheduler(config::to_string(vip.scheduler));
  if (vip.eligible.empty()) {
    out.reason += "no backend of " + vip.name + " has a weight above 0: new flows are dropped";
    return out;
  }
  BackendId pick = kNoBackendId;
  std::string why;
  switch (vip.scheduler) {
    case config::Scheduler::maglev:
      out.maglev_slot = static_cast<std::uint32_t>(hashes.five_tuple % vip.maglev.size());
      pick = maglev_pick(vip, hashes.five_tuple);
      why = "maglev slot " + std::to_string(*out.maglev_slot) + " of " +
            std::to_string(vip.maglev.size()) + " (same answer on every lcore and host)";
      break;
    case config::Scheduler::source_hash:
      pick = maglev_pick(vip, hashes.three_tuple);
      why = "source-hash of (client, VIP, protocol) into the weighted Maglev table";
      break;
    default:
      if (!workers.empty()) {
        // A copy, so asking does not advance the real cursors.
        auto copy = std::make_unique<SchedulerState>(workers.front()->scheduler);
        pick = schedule(vip, *copy, workers.front()->counters.backends, hashes);
      }
      why = scheduler + ": the next new flow on lcore " +
            (workers.empty() ? std::string("?") : std::to_string(workers.front()->lcore_id)) +
            " would get this backend; the lcore RSS picks and its history decide";
      break;
  }
  if (pick == kNoBackendId) {
    out.reason += "no backend available";
    return out;
  }
  out.source = control::ExplainSource::scheduler;
  out.backend = snapshot.backends[pick].address.to_string();
  out.reason += "new flow: " + why;
  return out;
}

}  // namespace sluice::pipeline

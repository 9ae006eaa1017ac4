#include "pipeline/explain.hpp"

#include <memory>
#include <string>

#include "pipeline/flow_decision.hpp"
#include "sluice/config/names.hpp"
#include "sluice/lb/flow_hash.hpp"
#include "sluice/net/headers.hpp"

namespace sluice::pipeline {
namespace {

// What the entry's TCP state means for the next packets (track_tcp_state() in pipeline.cpp).
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

std::string scheduler_note(const VipEntry& vip, const FlowHashes& hashes, const WorkerState* on,
                           control::ExplainResult& out) {
  switch (vip.scheduler) {
    case config::Scheduler::maglev:
      out.maglev_slot = static_cast<std::uint32_t>(hashes.five_tuple % vip.maglev.size());
      return "maglev slot " + std::to_string(*out.maglev_slot) + " of " +
             std::to_string(vip.maglev.size()) + " (same answer on every lcore and host)";
    case config::Scheduler::source_hash:
      return "source-hash of (client, VIP, protocol) into the weighted Maglev table";
    default:
      return std::string(config::to_string(vip.scheduler)) + ": the next new flow on lcore " +
             (on != nullptr ? std::to_string(on->lcore_id) : std::string("?")) +
             " would get this backend; the lcore RSS picks and its history decide";
  }
}

std::string backend_note(const BackendSlot& slot) {
  switch (slot.state) {
    case config::BackendState::up:
      return "";
    case config::BackendState::draining:
      return " (draining: it keeps its flows)";
    case config::BackendState::down:
      return " (down)";
  }
  return "";
}

}  // namespace

control::ExplainResult explain(const Snapshot& snapshot,
                               std::span<const WorkerState* const> workers, const FlowKey& key,
                               bool syn) {
  control::ExplainResult out;
  const std::uint16_t vi = snapshot.classify.lookup(key);
  if (vi == kNoVip) {
    out.action = "pass";
    out.reason = "no VIP matches " + key.dst().to_string() + " port " +
                 std::to_string(key.dst_port) + ": the packet would be passed to the host";
    return out;
  }
  const VipEntry& vip = snapshot.vips[vi];
  out.vip = vip.name;
  const FlowHashes hashes{lb::flow_hash_5tuple(key), lb::flow_hash_3tuple(key)};
  out.flow_hash = hashes.five_tuple;

  // The worker whose table holds the flow decides; without an entry, the first one would.
  const WorkerState* on = workers.empty() ? nullptr : workers.front();
  FlowEntry entry;
  bool found = false;
  for (const WorkerState* worker : workers) {
    if (worker->flows.peek(key, hashes.five_tuple, worker->now_s, entry)) {
      on = worker;
      found = true;
      break;
    }
  }
  FlowBinding binding{0, entry.backend, entry.incarnation};
  binding.set_state(entry.state);
  // A copy: asking must not advance the real round-robin cursors.
  auto scheduler =
      std::make_unique<SchedulerState>(on != nullptr ? on->scheduler : SchedulerState{});
  const FlowDecision decision =
      decide_flow(snapshot, vip, found ? &binding : nullptr, syn, hashes, *scheduler);
  out.action = std::string(to_string(decision.action));
  if (found) out.lcore = on->lcore_id;
  const std::string where = found ? "existing flow on lcore " + std::to_string(on->lcore_id) : "";

  switch (decision.action) {
    case FlowAction::hit: {
      const BackendSlot& slot = snapshot.backends[decision.backend];
      out.source = control::ExplainSource::flow_table;
      out.backend = slot.address.to_string();
      out.reason = where + " is pinned to " + out.backend + backend_note(slot) + state_note(entry);
      if (entry.second_hop != kNoBackendId) {
        const BackendSlot* hop = snapshot.backend(entry.second_hop);
        if (hop != nullptr && hop->present) {
          out.reason += "; adopted with second hop " + hop->address.to_string() +
                        " (its packets name that previous owner)";
        }
      }
      return out;
    }
    case FlowAction::no_backend:
      out.reason = (found ? where + ": its entry is freed; " : std::string()) + "no backend of " +
                   vip.name + " is up with a weight above 0: the packet is dropped (no_backend)";
      return out;
    case FlowAction::reschedule: {
      const BackendSlot* old = snapshot.backend(entry.backend);
      out.reason = where + " was pinned to " +
                   (old != nullptr && old->present && old->incarnation == entry.incarnation
                        ? old->address.to_string() + backend_note(*old)
                        : std::string("a backend that is gone")) +
                   ": its next packet moves it; ";
      break;
    }
    case FlowAction::rescue: {
      const BackendSlot& old = snapshot.backends[entry.backend];
      out.reason = where + " is still waiting for the SYN-ACK of " + old.address.to_string() +
                   backend_note(old) +
                   ", which takes no new flows: a retransmitted SYN moves it (syn_rescue); ";
      break;
    }
    case FlowAction::new_connection:
      out.reason = where +
                   ": a SYN after the client's ACK or FIN starts a new connection on "
                   "this 5-tuple, scheduled like a new flow; ";
      break;
    case FlowAction::new_flow: {
      out.reason = "new flow: ";
      const BackendId hop = vip.second_hop.empty()
                                ? kNoBackendId
                                : vip.second_hop[hashes.five_tuple % vip.second_hop.size()];
      if (hop != kNoBackendId && !syn && key.protocol == net::kIpProtoTcp) {
        out.reason += "a packet other than a SYN names its slot's previous owner " +
                      snapshot.backends[hop].address.to_string() +
                      " as second hop (second chance); ";
      }
      break;
    }
  }
  out.source = control::ExplainSource::scheduler;
  out.backend = snapshot.backends[decision.backend].address.to_string();
  out.reason += scheduler_note(vip, hashes, on, out);
  return out;
}

}  // namespace sluice::pipeline

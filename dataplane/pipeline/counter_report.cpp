#include "pipeline/counter_report.hpp"

#include <string>

namespace sluice::pipeline {
namespace {

std::uint64_t ticks_to_ns(std::uint64_t ticks, std::uint64_t ticks_per_second) {
  if (ticks_per_second == 0) return 0;
  return static_cast<std::uint64_t>(static_cast<long double>(ticks) * 1e9L /
                                    static_cast<long double>(ticks_per_second));
}

control::LcoreCounters lcore_report(const WorkerState& w) {
  const LcoreCounters& c = w.counters;
  control::LcoreCounters l;
  l.lcore = w.lcore_id;
  l.rx_packets = c.rx_packets;
  l.tx_packets = c.tx_packets;
  l.forward = c.verdicts[static_cast<std::size_t>(Verdict::forward)];
  l.reply = c.verdicts[static_cast<std::size_t>(Verdict::reply)];
  l.pass = c.verdicts[static_cast<std::size_t>(Verdict::pass)];
  l.drop = c.verdicts[static_cast<std::size_t>(Verdict::drop)];
  l.host_rx_packets = c.host_rx_packets;
  l.host_relayed = c.host_relayed;
  l.host_relay_refused = c.host_relay_refused;
  l.rx_polls = c.rx_polls;
  l.idle_polls = c.idle_polls;
  l.busy_polls = c.rx_polls >= c.idle_polls ? c.rx_polls - c.idle_polls : 0;
  l.max_loop_gap_ns = ticks_to_ns(c.max_loop_gap_ticks, w.ticks_per_second);
  l.sleeps = c.sleeps;
  l.slept_ns = ticks_to_ns(c.slept_ticks, w.ticks_per_second);
  return l;
}

void add_events(std::map<std::string, std::uint64_t>& events, const LcoreCounters& c) {
  events["fragments_forwarded"] += c.fragments_forwarded;
  events["ipv4_options_forwarded"] += c.ipv4_options_forwarded;
  events["ipv6_extensions_forwarded"] += c.ipv6_extensions_forwarded;
  events["icmp_echo_replies"] += c.icmp_echo_replies;
  events["icmp_errors_forwarded"] += c.icmp_errors_forwarded;
  events["too_big_sent"] += c.too_big_sent;
  events["flows_rescheduled"] += c.flows_rescheduled;
  events["flows_evicted"] += c.flows_evicted;
  events["flows_evicted_established"] += c.flows_evicted_established;
  events["flows_not_tracked"] += c.flows_not_tracked;
  events["flows_expired"] += c.flows_expired;
  events["second_hop_flows"] += c.second_hop_flows;
  events["second_hop_packets"] += c.second_hop_packets;
  events["flows_rescued"] += c.flows_rescued;
}

}  // namespace

control::Counters sum_counters(const Snapshot& snapshot,
                               std::span<const WorkerState* const> workers) {
  control::Counters out;
  out.generation = snapshot.generation;
  for (const WorkerState* w : workers) {
    out.per_lcore.push_back(lcore_report(*w));
    add_events(out.events, w->counters);
  }

  for (const VipEntry& vip : snapshot.vips) {
    control::VipCounters v;
    v.vip = vip.name;
    for (const WorkerState* w : workers) {
      v.dropped += w->counters.vips[vip.id].dropped;
      v.replied += w->counters.vips[vip.id].replied;
      v.second_hop_flows += w->counters.vips[vip.id].second_hop_flows;
      v.second_hop_packets += w->counters.vips[vip.id].second_hop_packets;
    }
    // The VIP's traffic is its backends' traffic: summed here, never counted twice.
    for (const BackendId id : vip.backends) {
      const BackendSlot& slot = snapshot.backends[id];
      control::BackendCounters b;
      b.address = slot.address.to_string();
      b.state = slot.state;
      for (const WorkerState* w : workers) {
        const BackendCounters& c = w->counters.backends[id];
        b.packets += c.packets;
        b.bytes += c.bytes;
        b.new_flows += c.new_flows;
        b.rescheduled_flows += c.rescheduled_flows;
        b.syns += c.syns;
        b.syn_retransmits += c.syn_retransmits;
        b.handshakes += c.handshakes;
        b.unanswered += c.unanswered;
        b.syn_rescued += c.syn_rescued;
        for (std::size_t k = 0; k < kHandshakeBuckets; ++k)
          b.handshake_ms_buckets[k] += c.handshake_ms_buckets[k];
        b.active_flows += w->scheduler.active_flows[id];
      }
      v.packets += b.packets;
      v.bytes += b.bytes;
      v.new_flows += b.new_flows;
      v.active_flows += b.active_flows;
      v.per_backend.push_back(std::move(b));
    }
    out.per_vip.push_back(std::move(v));
  }

  for (std::size_t r = 0; r < kDropReasonCount; ++r) {
    std::uint64_t total = 0;
    for (const WorkerState* w : workers)
      total += w->counters.drops[r];
    out.drops.emplace(std::string(kDropReasons[r].name), total);
  }
  return out;
}

}  // namespace sluice::pipeline

#include "pipeline/pipeline.hpp"

#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <algorithm>
#include <cstring>

#include "pipeline/encap.hpp"
#include "pipeline/icmp.hpp"
#include "pipeline/scheduler.hpp"
#include "sluice/lb/flow_hash.hpp"
#include "sluice/net/fast_parse.hpp"
#include "sluice/net/headers.hpp"
#include "sluice/net/parse.hpp"

namespace sluice::pipeline {
namespace {

using net::L3Kind;
using net::ParsedPacket;

constexpr std::uint16_t kPrefetchAhead = 3;

std::span<std::byte> frame_of(rte_mbuf* m) {
  return {rte_pktmbuf_mtod(m, std::byte*), m->data_len};
}

// Everything one burst needs besides the packets.
struct Burst {
  WorkerState& worker;
  const Snapshot& snapshot;
  BurstResult& out;
  std::uint32_t now_s;
};

void decrement(std::uint64_t& gauge) {
  if (gauge != 0) --gauge;
}

bool is_icmp(const ParsedPacket& p) {
  return p.key.protocol == (p.l3 == L3Kind::ipv4 ? net::kIpProtoIcmp : net::kIpProtoIcmpv6);
}

// Router/neighbour discovery (133..137) and MLD (130..132, 143) belong to the host's stack.
bool is_icmpv6_host_control(const ParsedPacket& p) {
  const std::uint8_t t = p.icmp.type;
  return p.l3 == L3Kind::ipv6 && ((t >= 130 && t <= 137) || t == 143);
}

bool dont_fragment(std::span<const std::byte> frame, const PacketPlan& w) {
  if (w.l3 == L3Kind::ipv6) return true;  // IPv6 routers never fragment
  return (std::to_integer<std::uint8_t>(frame[w.l3_offset + 6]) & 0x40) != 0;
}

// ---- verdict emission -------------------------------------------------------------------

void emit_drop(Burst& b, rte_mbuf* m, std::uint16_t i, DropReason reason) {
  rte_pktmbuf_free(m);
  b.worker.counters.count_drop(reason);
  ++b.worker.counters.verdicts[static_cast<std::size_t>(Verdict::drop)];
  ++b.out.drop_count;
  PacketVerdict& v = b.out.verdicts[i];
  v.verdict = Verdict::drop;
  v.has_reason = true;
  v.reason = reason;
}

void emit_pass(Burst& b, rte_mbuf* m, std::uint16_t i) {
  b.out.pass[b.out.pass_count++] = m;
  ++b.worker.counters.verdicts[static_cast<std::size_t>(Verdict::pass)];
  b.out.verdicts[i].verdict = Verdict::pass;
}

void emit_tx(Burst& b, rte_mbuf* m, std::uint16_t i, Verdict verdict) {
  b.out.tx[b.out.tx_count++] = m;
  ++b.worker.counters.verdicts[static_cast<std::size_t>(verdict)];
  b.out.verdicts[i].verdict = verdict;
}

// Cuts Ethernet padding (and anything else) after the IP datagram.
void trim_to_datagram(rte_mbuf* m, std::uint16_t l3_offset, std::uint16_t l3_length) {
  const std::uint32_t want = std::uint32_t{l3_offset} + l3_length;
  if (m->pkt_len > want) (void)rte_pktmbuf_trim(m, static_cast<std::uint16_t>(m->pkt_len - want));
}

// ---- replies ----------------------------------------------------------------------------

void reply_too_big(Burst& b, rte_mbuf* m, std::uint16_t i, const PacketPlan& w, std::uint32_t mtu) {
  const AddressFamily family = w.l3 == L3Kind::ipv4 ? AddressFamily::v4 : AddressFamily::v6;
  const std::size_t quote = std::min<std::size_t>(w.packet.l3_length, too_big_quote_limit(family));
  const std::size_t l2 = w.l3_offset;
  std::byte l2_header[32];
  std::memcpy(l2_header, rte_pktmbuf_mtod(m, const std::byte*), l2);
  // The addresses must be read before the new headers overwrite them.
  const FlowKey key = w.key();
  (void)rte_pktmbuf_trim(m, static_cast<std::uint16_t>(m->pkt_len - (l2 + quote)));
  (void)rte_pktmbuf_adj(m, static_cast<std::uint16_t>(l2));
  const std::uint16_t grow = static_cast<std::uint16_t>(l2 + too_big_header_size(family));
  if (rte_pktmbuf_prepend(m, grow) == nullptr) {
    emit_drop(b, m, i, DropReason::no_headroom);
    return;
  }
  write_too_big(frame_of(m), std::span<const std::byte>(l2_header, l2),
                TooBigParams{family, key.dst_addr.data(), key.src_addr.data(), mtu,
                             b.snapshot.settings.outer_ttl});
  b.worker.counters.count_drop(DropReason::too_big);
  ++b.worker.counters.too_big_sent;
  PacketVerdict& v = b.out.verdicts[i];
  v.has_reason = true;
  v.reason = DropReason::too_big;
  emit_tx(b, m, i, Verdict::reply);
}

void reply_echo(Burst& b, rte_mbuf* m, std::uint16_t i, const PacketPlan& w) {
  if (w.has_ipv4_options || w.has_ipv6_extensions) {
    emit_drop(b, m, i, DropReason::icmp_unsupported);
    return;
  }
  // Pass 1 kept only the summary; an echo request is rare enough to parse again in full.
  const net::ParseResult parsed = net::parse(frame_of(m));
  const ParsedPacket& p = parsed.packet;
  trim_to_datagram(m, p.l3_offset, p.l3_length);
  write_echo_reply(frame_of(m), p, b.snapshot.settings.outer_ttl);
  ++b.worker.counters.icmp_echo_replies;
  b.out.verdicts[i].vip = b.snapshot.vips[w.vip].id;
  emit_tx(b, m, i, Verdict::reply);
}

// ---- forwarding -------------------------------------------------------------------------

// The frame becomes room for `header` bytes + the IP datagram: the Ethernet header and any
// padding after the datagram are cut, the room is taken from the headroom. One segment only
// (pass 1 drops the others). Null when the headroom is too small.
std::byte* reframe_for_encap(rte_mbuf* m, const PacketPlan& w, std::size_t header) {
  const std::size_t start = std::size_t{m->data_off} + w.l3_offset;
  if (start < header) return nullptr;
  const auto length = static_cast<std::uint16_t>(header + w.packet.l3_length);
  m->data_off = static_cast<std::uint16_t>(start - header);
  m->data_len = length;
  m->pkt_len = length;
  return rte_pktmbuf_mtod(m, std::byte*);
}

// Encapsulates towards `backend` (or answers too-big). `icmp_error`: never answer an ICMP
// error with another one (RFC 1122 3.2.2).
void forward(Burst& b, rte_mbuf* m, std::uint16_t i, const PacketPlan& w, BackendId backend,
             std::uint32_t encap_hash, bool icmp_error) {
  const EncapTemplate& encap = b.snapshot.backends[backend].encap;
  const std::size_t overhead = encap.overhead();
  const std::uint32_t mtu = b.snapshot.settings.mtu;
  PacketVerdict& v = b.out.verdicts[i];
  v.backend = backend;

  if (w.packet.l3_length + overhead > mtu) {
    if (icmp_error || !dont_fragment(frame_of(m), w)) {
      emit_drop(b, m, i, DropReason::too_big_no_df);
    } else {
      reply_too_big(b, m, i, w, static_cast<std::uint32_t>(mtu - overhead));
    }
    return;
  }

  const std::uint32_t bytes = m->pkt_len;
  std::byte* frame = reframe_for_encap(m, w, encap.size);
  if (frame == nullptr) {
    emit_drop(b, m, i, DropReason::no_headroom);
    return;
  }
  write_encap(std::span<std::byte>(frame, m->data_len), encap, b.worker.port_mac, encap_hash);

  ObjectCounters& bc = b.worker.counters.backends[backend];
  ++bc.packets;
  bc.bytes += bytes;
  if (w.has_ipv4_options) ++b.worker.counters.ipv4_options_forwarded;
  if (w.has_ipv6_extensions) ++b.worker.counters.ipv6_extensions_forwarded;
  emit_tx(b, m, i, Verdict::forward);
}

std::uint32_t flow_timeout(const config::DataplaneSettings& s, const FlowKey& key,
                           FlowState state) {
  if (state == FlowState::closing) return s.flow_closed_timeout_s;
  return key.protocol == net::kIpProtoTcp ? s.flow_idle_timeout_s : s.udp_idle_timeout_s;
}

// Points the entry at `backend` and moves the active-flow gauges from its old backend/VIP.
void rebind(LcoreCounters& c, const Snapshot& snap, FlowRef ref, BackendId backend, VipId vip) {
  FlowBinding& e = *ref.binding;
  if (e.backend != backend || ref.cold->vip != vip) {
    if (e.backend != kNoBackendId) decrement(c.backends[e.backend].active_flows);
    if (ref.cold->vip != kNoVipId) decrement(c.vips[ref.cold->vip].active_flows);
    ++c.backends[backend].active_flows;
    ++c.vips[vip].active_flows;
  }
  e.backend = backend;
  e.incarnation = snap.backends[backend].incarnation;
  ref.cold->vip = vip;
}

// The entry's backend is gone, or no backend takes the flow: frees the entry.
void unbind(LcoreCounters& c, FlowRef ref) {
  if (ref.binding->backend != kNoBackendId)
    decrement(c.backends[ref.binding->backend].active_flows);
  if (ref.cold->vip != kNoVipId) decrement(c.vips[ref.cold->vip].active_flows);
  FlowTable::erase(ref);
}

void handle_flow(Burst& b, rte_mbuf* m, std::uint16_t i, const PacketPlan& w) {
  const Snapshot& snap = b.snapshot;
  const VipEntry& vip = snap.vips[w.vip];
  LcoreCounters& c = b.worker.counters;
  FlowTable& flows = b.worker.flows;
  const std::uint32_t hash = w.hashes.five_tuple;
  const bool tcp = w.key().protocol == net::kIpProtoTcp;
  const std::uint8_t flags = w.packet.tcp_flags;
  const bool pure_syn = tcp && (flags & (net::kTcpSyn | net::kTcpAck)) == net::kTcpSyn;

  FlowRef ref = flows.find(w.key(), hash, b.now_s);
  BackendId backend = kNoBackendId;
  // A SYN on an entry that is closing, or whose connection the client had ACKed, opens a new
  // connection (DSR: a backend's RST never passes here, so "established" may be stale).
  const bool new_connection = pure_syn && ref && ref.binding->state() != FlowState::open;
  if (ref && !new_connection) {
    // The common case: an existing flow whose backend is still in the snapshot.
    const FlowBinding& e = *ref.binding;
    const BackendSlot* slot = snap.backend(e.backend);
    if (slot != nullptr && slot->present && slot->incarnation == e.incarnation &&
        slot->vip == vip.id) [[likely]] {
      backend = e.backend;
    } else {
      // Its backend is gone: move the flow to a live one.
      backend = schedule(vip, b.worker.scheduler, c.backends, w.hashes);
      if (backend == kNoBackendId) {
        unbind(c, ref);
        emit_drop(b, m, i, DropReason::no_backend);
        return;
      }
      ++c.flows_rescheduled;
      ++c.backends[backend].new_flows;
      // Always moves the gauges (the id may have been recycled to the same number).
      unbind(c, ref);
      ref.binding->backend = kNoBackendId;
      ref.cold->vip = kNoVipId;
      rebind(c, snap, ref, backend, vip.id);
    }
  } else if (ref) {
    // A new connection reusing the 5-tuple of an earlier one: scheduled like any new flow, so
    // drains and weight changes apply to it (a SYN retransmission stays sticky above).
    backend = schedule(vip, b.worker.scheduler, c.backends, w.hashes);
    if (backend == kNoBackendId) {
      unbind(c, ref);
      emit_drop(b, m, i, DropReason::no_backend);
      return;
    }
    ++c.vips[vip.id].new_flows;
    ++c.backends[backend].new_flows;
    rebind(c, snap, ref, backend, vip.id);
  } else {
    backend = schedule(vip, b.worker.scheduler, c.backends, w.hashes);
    if (backend == kNoBackendId) {
      emit_drop(b, m, i, DropReason::no_backend);
      return;
    }
    Displaced displaced;
    ref = flows.insert(w.key(), hash, 0, displaced);
    if (displaced.any) {
      if (displaced.backend != kNoBackendId) decrement(c.backends[displaced.backend].active_flows);
      if (displaced.vip != kNoVipId) decrement(c.vips[displaced.vip].active_flows);
      if (displaced.deadline < b.now_s) {
        ++c.flows_expired;
      } else {
        ++c.flows_evicted;
      }
    }
    ++c.vips[vip.id].new_flows;
    ++c.backends[backend].new_flows;
    rebind(c, snap, ref, backend, vip.id);
  }

  FlowBinding& e = *ref.binding;
  if (tcp) {
    if ((flags & (net::kTcpFin | net::kTcpRst)) != 0) {
      e.set_state(FlowState::closing);
    } else if (pure_syn) {
      e.set_state(FlowState::open);  // a new connection reusing the 5-tuple
    } else if ((flags & net::kTcpAck) != 0 && e.state() == FlowState::open) {
      e.set_state(FlowState::established);
    }
  }
  *ref.deadline =
      std::max<std::uint32_t>(1, b.now_s + flow_timeout(snap.settings, w.key(), e.state()));
  forward(b, m, i, w, backend, hash, false);
}

void handle_fragment(Burst& b, rte_mbuf* m, std::uint16_t i, const PacketPlan& w) {
  const VipEntry& vip = b.snapshot.vips[w.vip];
  if (vip.fragments == config::FragmentPolicy::drop) {
    emit_drop(b, m, i, DropReason::fragment_unsupported);
    return;
  }
  // Every fragment of a datagram has the same 3-tuple, so they all reach one backend.
  const BackendId backend = maglev_pick(vip, w.hashes.three_tuple);
  if (backend == kNoBackendId) {
    emit_drop(b, m, i, DropReason::no_backend);
    return;
  }
  ++b.worker.counters.fragments_forwarded;
  forward(b, m, i, w, backend, w.hashes.three_tuple, false);
}

void handle_icmp_error(Burst& b, rte_mbuf* m, std::uint16_t i, const PacketPlan& w) {
  const VipEntry& vip = b.snapshot.vips[w.vip];
  LcoreCounters& c = b.worker.counters;
  BackendId backend = kNoBackendId;
  if (FlowRef ref = b.worker.flows.find(w.key(), w.hashes.five_tuple, b.now_s)) {
    const BackendSlot* slot = b.snapshot.backend(ref.binding->backend);
    if (slot != nullptr && slot->present && slot->incarnation == ref.binding->incarnation &&
        slot->vip == vip.id) {
      backend = ref.binding->backend;
    }
  }
  if (backend == kNoBackendId) backend = schedule(vip, b.worker.scheduler, c.backends, w.hashes);
  if (backend == kNoBackendId) {
    emit_drop(b, m, i, DropReason::no_backend);
    return;
  }
  ++c.icmp_errors_forwarded;
  forward(b, m, i, w, backend, w.hashes.five_tuple, true);
}

FlowKey reversed(const FlowKey& k) {
  FlowKey r = k;
  r.src_addr = k.dst_addr;
  r.dst_addr = k.src_addr;
  r.src_port = k.dst_port;
  r.dst_port = k.src_port;
  return r;
}

// A TCP/UDP packet (fast or full parse) with its key in w.packet.key: classify, hash and
// start fetching its flow-table lines.
void plan_flow(const Snapshot& snap, const WorkerState& worker, PacketPlan& w) {
  const FlowKey& key = w.key();
  w.vip =
      key.family == AddressFamily::v4 ? snap.classify.lookup_v4(key) : snap.classify.lookup(key);
  if (w.vip == kNoVip) return;
  w.plan = Plan::flow;
  w.hashes.five_tuple = lb::flow_hash_5tuple(key);
  if (snap.vips[w.vip].scheduler == config::Scheduler::source_hash) {
    w.hashes.three_tuple = lb::flow_hash_3tuple(key);
  }
  worker.flows.prefetch(w.hashes.five_tuple);
}

// Pass 1 for what fast_parse() does not take: VLAN tags, IPv4 options, IPv6 extension
// headers, fragments, ICMP, other protocols, and every malformed frame.
void plan_full_parse(const Snapshot& snap, const WorkerState& worker,
                     std::span<const std::byte> frame, PacketPlan& w) {
  const net::ParseResult result = net::parse(frame);
  if (!result.ok()) {
    w.plan = Plan::drop;
    w.reason = *result.drop;
    return;
  }
  const ParsedPacket& p = result.packet;
  if (p.l3 == L3Kind::other) return;
  w.l3 = p.l3;
  w.l3_offset = p.l3_offset;
  w.packet.l3_length = p.l3_length;
  w.packet.tcp_flags = p.tcp_flags;
  w.has_ipv4_options = p.has_ipv4_options;
  w.has_ipv6_extensions = p.has_ipv6_extensions;
  w.packet.key = p.key;

  if (p.fragment != net::FragmentKind::none) {
    w.vip = snap.classify.lookup_fragment(p.key);
    if (w.vip == kNoVip) {
      if (snap.classify.is_vip_address(p.key)) {
        w.plan = Plan::drop;  // a VIP address, but no VIP (or several) for its protocol
        w.reason = DropReason::fragment_unsupported;
      }
      return;
    }
    w.plan = Plan::fragment;
    w.hashes.three_tuple = lb::flow_hash_3tuple(p.key);
    return;
  }

  if (is_icmp(p)) {
    if (is_icmpv6_host_control(p) || !snap.classify.is_vip_address(p.key)) return;
    if (p.icmp.is_echo_request) {
      w.plan = Plan::echo;
      w.vip = 0;
      // Any VIP on the address answers; count it under the first one found.
      for (std::uint16_t v = 0; v < snap.vips.size(); ++v) {
        const auto& a = snap.vips[v].key.address;
        if (a.family == p.key.family && a.bytes == p.key.dst_addr) {
          w.vip = v;
          break;
        }
      }
      return;
    }
    if (!p.icmp.is_error) {
      w.plan = Plan::drop;
      w.reason = DropReason::icmp_unsupported;
      return;
    }
    // The quoted packet went VIP -> client; the flow it belongs to is client -> VIP.
    w.packet.key = reversed(p.icmp.embedded);
    w.vip = snap.classify.lookup(w.key());
    if (w.vip == kNoVip) {
      w.plan = Plan::drop;
      w.reason = DropReason::icmp_error_no_flow;
      return;
    }
    w.plan = Plan::icmp_error;
    w.hashes.five_tuple = lb::flow_hash_5tuple(w.key());
    w.hashes.three_tuple = lb::flow_hash_3tuple(w.key());
    worker.flows.prefetch(w.hashes.five_tuple);
    return;
  }
  plan_flow(snap, worker, w);
}

// Pass 1: decide what kind of packet this is; hash and prefetch for flows.
void plan(const Snapshot& snap, const WorkerState& worker, rte_mbuf* m, PacketPlan& w) {
  if (m->nb_segs != 1) {
    w.plan = Plan::drop;
    w.reason = DropReason::segmented_frame;
    return;
  }
  const std::span<const std::byte> frame = frame_of(m);
  if (net::fast_parse(frame, w.packet) == net::FastParse::parsed) [[likely]] {
    w.l3 = w.packet.key.family == AddressFamily::v4 ? L3Kind::ipv4 : L3Kind::ipv6;
    w.l3_offset = net::kFastL3Offset;
    plan_flow(snap, worker, w);
    return;
  }
  plan_full_parse(snap, worker, frame, w);
}

}  // namespace

void plan_burst(WorkerState& worker, const Snapshot& snapshot, rte_mbuf** pkts, std::uint16_t n,
                std::uint64_t now, PlannedBurst& planned) {
  n = std::min(n, kMaxBurst);
  planned.count = n;
  planned.now_s = static_cast<std::uint32_t>(now / worker.ticks_per_second);
  worker.counters.rx_packets += n;
  for (std::uint16_t i = 0; i < n && i < kPrefetchAhead; ++i) {
    rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
  }
  for (std::uint16_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + kPrefetchAhead], void*));
    rte_mbuf* m = pkts[i];
    planned.packets[i] = m;
    PacketPlan& w = planned.plans[i];
    w.reset();
    plan(snapshot, worker, m, w);
    // Encapsulation writes the cache line before the frame: start fetching it now.
    if (w.plan == Plan::flow) rte_prefetch0(rte_pktmbuf_mtod_offset(m, char*, -64));
  }
}

void finish_burst(WorkerState& worker, const Snapshot& snapshot, PlannedBurst& planned,
                  BurstResult& out) {
  const std::uint16_t n = planned.count;
  const PacketPlan* work = planned.plans.data();
  rte_mbuf** pkts = planned.packets.data();
  planned.count = 0;
  out.tx_count = 0;
  out.pass_count = 0;
  out.drop_count = 0;
  worker.now_s = planned.now_s;
  Burst b{worker, snapshot, out, planned.now_s};
  for (std::uint16_t i = 0; i < n; ++i)
    out.verdicts[i] = PacketVerdict{};

  // Make sure the flow-table lines are on their way: loads, not prefetches (see
  // FlowTable::touch); they overlap each other and the lines are used in the next pass.
  std::uint32_t touched = 0;
  for (std::uint16_t i = 0; i < n; ++i) {
    if (work[i].plan == Plan::flow || work[i].plan == Plan::icmp_error) {
      touched += worker.flows.touch(work[i].hashes.five_tuple);
    }
  }
  asm volatile("" : : "r"(touched));

  for (std::uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    const PacketPlan& w = work[i];
    if (w.plan == Plan::flow || w.plan == Plan::fragment || w.plan == Plan::icmp_error) {
      const VipEntry& vip = snapshot.vips[w.vip];
      ObjectCounters& vc = worker.counters.vips[vip.id];
      ++vc.packets;
      vc.bytes += m->pkt_len;
      out.verdicts[i].vip = vip.id;
    }
    switch (w.plan) {
      case Plan::drop:
        emit_drop(b, m, i, w.reason);
        break;
      case Plan::pass:
        emit_pass(b, m, i);
        break;
      case Plan::flow:
        handle_flow(b, m, i, w);
        break;
      case Plan::fragment:
        handle_fragment(b, m, i, w);
        break;
      case Plan::echo:
        reply_echo(b, m, i, w);
        break;
      case Plan::icmp_error:
        handle_icmp_error(b, m, i, w);
        break;
    }
  }
}

void process_burst(WorkerState& worker, const Snapshot& snapshot, rte_mbuf** pkts, std::uint16_t n,
                   std::uint64_t now, BurstResult& out) {
  PlannedBurst planned;
  plan_burst(worker, snapshot, pkts, n, now, planned);
  finish_burst(worker, snapshot, planned, out);
}

void drop_burst(WorkerState& worker, rte_mbuf** pkts, std::uint16_t n, DropReason reason) {
  worker.counters.rx_packets += n;
  worker.counters.drops[static_cast<std::size_t>(reason)] += n;
  worker.counters.verdicts[static_cast<std::size_t>(Verdict::drop)] += n;
  rte_pktmbuf_free_bulk(pkts, n);
}

void expire_flows(WorkerState& worker, std::uint64_t now, std::uint32_t max_buckets) {
  const auto now_s = static_cast<std::uint32_t>(now / worker.ticks_per_second);
  LcoreCounters& c = worker.counters;
  c.flows_expired += worker.flows.expire(now_s, max_buckets, [&c](const FlowEntry& e) {
    if (e.backend != kNoBackendId) decrement(c.backends[e.backend].active_flows);
    if (e.vip != kNoVipId) decrement(c.vips[e.vip].active_flows);
  });
}

}  // namespace sluice::pipeline

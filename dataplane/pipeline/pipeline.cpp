#include "pipeline/pipeline.hpp"

#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <algorithm>
#include <cassert>
#include <cstring>

#include "pipeline/encap.hpp"
#include "pipeline/flow_decision.hpp"
#include "pipeline/icmp.hpp"
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

// Everything pass 2 of one burst needs besides the packets.
struct Burst {
  WorkerState& worker;
  const Snapshot& snapshot;
  BurstResult& out;
  std::uint32_t now_s;
  std::uint64_t now_ticks;
  // clock_ms(), computed on first use in the burst (a division).
  std::uint16_t now_ms = 0;
  bool have_ms = false;
};

bool is_icmp(const ParsedPacket& p) {
  return p.key.protocol == (p.l3 == L3Kind::ipv4 ? net::kIpProtoIcmp : net::kIpProtoIcmpv6);
}

// Router/neighbour discovery (133..137) and MLD (130..132, 143) belong to the host's stack.
bool is_icmpv6_host_control(const ParsedPacket& p) {
  const std::uint8_t t = p.icmp.type;
  return p.l3 == L3Kind::ipv6 && ((t >= 130 && t <= 137) || t == 143);
}

bool dont_fragment(std::span<const std::byte> frame, const ClassifiedPacket& pkt) {
  if (pkt.l3 == L3Kind::ipv6) return true;  // IPv6 routers never fragment
  return (std::to_integer<std::uint8_t>(frame[pkt.l3_offset + 6]) & 0x40) != 0;
}

// ---- fates --------------------------------------------------------------------------------
// Drops are counted here, at their fate. Forwards, replies and passes are counted by whoever
// hands them on (count_handed_on, or the worker's TX queues), because a full queue may still
// turn them into drops.

void emit_drop(Burst& b, rte_mbuf* m, std::uint16_t i, DropReason reason) {
  rte_pktmbuf_free(m);
  b.worker.counters.count_drop(reason);
  ++b.out.drop_count;
  PacketVerdict& v = b.out.verdicts[i];
  v.verdict = Verdict::drop;
  v.has_reason = true;
  v.reason = reason;
  if (v.vip != kNoVipId) ++b.worker.counters.vips[v.vip].dropped;
}

void emit_pass(Burst& b, rte_mbuf* m, std::uint16_t i) {
  b.out.pass[b.out.pass_count++] = m;
  b.out.verdicts[i].verdict = Verdict::pass;
}

void emit_tx(Burst& b, rte_mbuf* m, std::uint16_t i, Verdict verdict) {
  b.out.tx_verdict[b.out.tx_count] = verdict;
  b.out.tx[b.out.tx_count++] = m;
  b.out.verdicts[i].verdict = verdict;
}

void emit_reply(Burst& b, rte_mbuf* m, std::uint16_t i, ReplyKind kind) {
  PacketVerdict& v = b.out.verdicts[i];
  v.reply = kind;
  if (v.vip != kNoVipId) ++b.worker.counters.vips[v.vip].replied;
  emit_tx(b, m, i, Verdict::reply);
}

// Cuts Ethernet padding (and anything else) after the IP datagram.
void trim_to_datagram(rte_mbuf* m, std::uint16_t l3_offset, std::uint16_t l3_length) {
  const std::uint32_t want = std::uint32_t{l3_offset} + l3_length;
  if (m->pkt_len > want) (void)rte_pktmbuf_trim(m, static_cast<std::uint16_t>(m->pkt_len - want));
}

// ---- replies ------------------------------------------------------------------------------

void reply_too_big(Burst& b, rte_mbuf* m, std::uint16_t i, const ClassifiedPacket& pkt,
                   std::uint32_t mtu) {
  const AddressFamily family = pkt.l3 == L3Kind::ipv4 ? AddressFamily::v4 : AddressFamily::v6;
  const std::size_t quote =
      std::min<std::size_t>(pkt.headers.l3_length, too_big_quote_limit(family));
  const std::size_t l2 = pkt.l3_offset;
  std::byte l2_header[32];
  std::memcpy(l2_header, rte_pktmbuf_mtod(m, const std::byte*), l2);
  // The addresses must be read before the new headers overwrite them.
  const FlowKey key = pkt.key();
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
  ++b.worker.counters.too_big_sent;
  emit_reply(b, m, i, ReplyKind::too_big);
}

void reply_echo(Burst& b, rte_mbuf* m, std::uint16_t i, const ClassifiedPacket& pkt) {
  b.out.verdicts[i].vip = b.snapshot.vips[pkt.vip].id;
  if (pkt.has_ipv4_options || pkt.has_ipv6_extensions) {
    emit_drop(b, m, i, DropReason::icmp_unsupported);
    return;
  }
  // Pass 1 kept only the summary; an echo request is rare enough to parse again in full.
  const net::ParseResult parsed = net::parse(frame_of(m));
  const ParsedPacket& p = parsed.packet;
  trim_to_datagram(m, p.l3_offset, p.l3_length);
  write_echo_reply(frame_of(m), p, b.snapshot.settings.outer_ttl);
  ++b.worker.counters.icmp_echo_replies;
  emit_reply(b, m, i, ReplyKind::echo);
}

// ---- forwarding ---------------------------------------------------------------------------

// The frame becomes room for `header` bytes + the IP datagram: the Ethernet header and any
// padding after the datagram are cut, the room is taken from the headroom. One segment only
// (pass 1 drops the others). Null when the headroom is too small.
std::byte* reframe_for_encap(rte_mbuf* m, const ClassifiedPacket& pkt, std::size_t header) {
  const std::size_t start = std::size_t{m->data_off} + pkt.l3_offset;
  if (start < header) return nullptr;
  const auto length = static_cast<std::uint16_t>(header + pkt.headers.l3_length);
  m->data_off = static_cast<std::uint16_t>(start - header);
  m->data_len = length;
  m->pkt_len = length;
  return rte_pktmbuf_mtod(m, std::byte*);
}

// Encapsulates towards `backend` (or answers too-big). `icmp_error`: never answer an ICMP
// error with another one (RFC 1122 3.2.2). `syn`: a pure SYN (counted in `syns` once sent).
// `second_hop` (kNoBackendId: none): the previous owner named in the GUE header (second chance).
void forward(Burst& b, rte_mbuf* m, std::uint16_t i, const ClassifiedPacket& pkt, BackendId backend,
             std::uint32_t encap_hash, bool icmp_error, bool syn = false,
             BackendId second_hop = kNoBackendId) {
  const EncapTemplate& encap = b.snapshot.backends[backend].encap;
  const IpAddress* hop =
      second_hop != kNoBackendId ? &b.snapshot.backends[second_hop].address : nullptr;
  const std::size_t hop_size = hop != nullptr ? second_hop_size(hop->family) : 0;
  const std::size_t overhead = encap.overhead() + hop_size;
  const std::uint32_t mtu = b.snapshot.settings.mtu;
  PacketVerdict& v = b.out.verdicts[i];
  v.backend = backend;

  if (pkt.headers.l3_length + overhead > mtu) {
    if (icmp_error || !dont_fragment(frame_of(m), pkt)) {
      emit_drop(b, m, i, DropReason::too_big_no_df);
    } else {
      reply_too_big(b, m, i, pkt, static_cast<std::uint32_t>(mtu - overhead));
    }
    return;
  }

  const std::uint32_t bytes = m->pkt_len;
  std::byte* frame = reframe_for_encap(m, pkt, encap.size + hop_size);
  if (frame == nullptr) {
    emit_drop(b, m, i, DropReason::no_headroom);
    return;
  }
  write_encap(std::span<std::byte>(frame, m->data_len), encap, b.worker.port_mac, encap_hash, hop);
  if (hop != nullptr) {
    v.second_hop = second_hop;
    ++b.worker.counters.second_hop_packets;
    ++b.worker.counters.vips[v.vip].second_hop_packets;
  }

  BackendCounters& bc = b.worker.counters.backends[backend];
  ++bc.packets;
  bc.bytes += bytes;
  bc.syns += syn ? 1u : 0u;
  if (pkt.has_ipv4_options) ++b.worker.counters.ipv4_options_forwarded;
  if (pkt.has_ipv6_extensions) ++b.worker.counters.ipv6_extensions_forwarded;
  emit_tx(b, m, i, Verdict::forward);
}

// ---- flow bookkeeping ---------------------------------------------------------------------
// An entry's backend and the active-flow gauges change only here, together.

void release(SchedulerState& scheduler, BackendId backend) {
  if (backend == kNoBackendId) return;
  assert(scheduler.active_flows[backend] > 0);
  --scheduler.active_flows[backend];
}

// Pins the entry to `backend` of `vip`, moving its active-flow count from its old backend.
void bind(WorkerState& worker, const Snapshot& snap, FlowRef ref, BackendId backend, VipId vip) {
  FlowBinding& e = *ref.binding;
  release(worker.scheduler, e.backend);
  ++worker.scheduler.active_flows[backend];
  e.backend = backend;
  e.incarnation = snap.backends[backend].incarnation;
  e.set_second_hop(false);
  ref.cold->vip = vip;
}

// Second chance: the previous owner a TCP packet that is no SYN names when it opens an entry
// (this host never saw its flow) in a slot that changed owner; kNoBackendId otherwise.
BackendId second_hop_for_new_flow(const VipEntry& vip, const ClassifiedPacket& pkt, bool pure_syn) {
  if (vip.second_hop.empty() || pure_syn || pkt.key().protocol != net::kIpProtoTcp) {
    return kNoBackendId;
  }
  return vip.second_hop[pkt.hashes.five_tuple % vip.second_hop.size()];
}

// The hop an adopted flow keeps naming, while that backend still keeps flows.
BackendId kept_second_hop(const Snapshot& snap, FlowRef ref, VipId vip) {
  if (!ref.binding->has_second_hop()) [[likely]] {
    return kNoBackendId;
  }
  const FlowColdEntry& cold = *ref.cold;
  return snap.keeps_flows(cold.second_hop, cold.second_hop_incarnation, vip) ? cold.second_hop
                                                                             : kNoBackendId;
}

// The worker's clock in milliseconds, modulo 65536 (FlowColdEntry::opened_ms).
std::uint16_t clock_ms(Burst& b) {
  if (!b.have_ms) [[unlikely]] {
    const auto ms = static_cast<unsigned __int128>(b.now_ticks) * 1000u / b.worker.ticks_per_second;
    b.now_ms = static_cast<std::uint16_t>(ms);
    b.have_ms = true;
  }
  return b.now_ms;
}

// An open TCP entry that leaves the table (expired or evicted) without the client's ACK.
void count_unanswered(LcoreCounters& c, FlowState state, std::uint8_t protocol, BackendId backend) {
  if (state == FlowState::open && protocol == net::kIpProtoTcp && backend != kNoBackendId) {
    ++c.backends[backend].unanswered;
  }
}

// Carries out `decision` on the flow table; returns the flow's entry, empty for no_backend and
// for a SYN whose bucket holds established entries only (it is forwarded without an entry).
FlowRef apply_flow(Burst& b, const ClassifiedPacket& pkt, FlowRef found, const FlowDecision& d,
                   VipId vip, bool pure_syn) {
  WorkerState& w = b.worker;
  LcoreCounters& c = w.counters;
  switch (d.action) {
    case FlowAction::hit:
      return found;
    case FlowAction::reschedule:
      ++c.flows_rescheduled;
      ++c.backends[d.backend].rescheduled_flows;
      bind(w, b.snapshot, found, d.backend, vip);
      return found;
    case FlowAction::rescue:
      // The SYN leaves a backend that takes no new flows; the entry keeps its opening time,
      // so the new backend's handshake time includes the client's wait.
      ++c.flows_rescued;
      ++c.backends[found.binding->backend].syn_rescued;
      ++c.backends[d.backend].new_flows;
      bind(w, b.snapshot, found, d.backend, vip);
      return found;
    case FlowAction::new_connection:
      ++c.backends[d.backend].new_flows;
      bind(w, b.snapshot, found, d.backend, vip);
      found.cold->opened_ms = clock_ms(b);
      return found;
    case FlowAction::new_flow: {
      ++c.backends[d.backend].new_flows;
      Displaced displaced;
      const FlowRef ref =
          w.flows.insert(pkt.key(), pkt.hashes.five_tuple, 0, b.now_s,
                         pure_syn ? Eviction::spare_established : Eviction::any, displaced);
      if (!ref) {
        ++c.flows_not_tracked;
        return ref;
      }
      if (displaced.any) {
        release(w.scheduler, displaced.backend);
        count_unanswered(c, displaced.state, displaced.protocol, displaced.backend);
        if (displaced.deadline < b.now_s) {
          ++c.flows_expired;
        } else if (displaced.state == FlowState::established) {
          ++c.flows_evicted_established;
        } else {
          ++c.flows_evicted;
        }
      }
      bind(w, b.snapshot, ref, d.backend, vip);
      ref.cold->opened_ms = clock_ms(b);
      return ref;
    }
    case FlowAction::no_backend:
      if (found) {
        release(w.scheduler, found.binding->backend);
        FlowTable::erase(found);
      }
      return FlowRef{};
  }
  return FlowRef{};
}

// Progress as the client's packets show it. TCP: open until the client's first ACK, closing
// after FIN or RST. UDP: open for the first packet, established from the second (a spoofed
// one-packet flow stays open, so it is evicted before a flow the client keeps using).
// True when a TCP entry turns established (the client's first ACK).
bool track_state(FlowBinding& e, const ClassifiedPacket& pkt, bool pure_syn, bool fresh) {
  if (pkt.key().protocol != net::kIpProtoTcp) {
    if (!fresh) e.set_state(FlowState::established);
    return false;
  }
  const std::uint8_t flags = pkt.headers.tcp_flags;
  if ((flags & (net::kTcpFin | net::kTcpRst)) != 0) {
    e.set_state(FlowState::closing);
  } else if (pure_syn) {
    e.set_state(FlowState::open);  // a new connection, or a SYN retransmission
  } else if ((flags & net::kTcpAck) != 0 && e.state() == FlowState::open) {
    e.set_state(FlowState::established);
    return true;
  }
  return false;
}

// The handshake of an entry that stayed on its backend: the client's SYN to its first ACK.
// Reads the entry's cold part, once per flow.
void count_handshake(Burst& b, FlowRef ref) {
  BackendCounters& bc = b.worker.counters.backends[ref.binding->backend];
  const auto ms = static_cast<std::uint16_t>(clock_ms(b) - ref.cold->opened_ms);
  ++bc.handshakes;
  ++bc.handshake_ms_buckets[handshake_bucket(ms)];
}

std::uint32_t flow_timeout(const config::DataplaneSettings& s, const FlowKey& key,
                           FlowState state) {
  if (state == FlowState::closing) return s.flow_closed_timeout_s;
  if (key.protocol != net::kIpProtoTcp) return s.udp_idle_timeout_s;
  return state == FlowState::open ? s.flow_open_timeout_s : s.flow_idle_timeout_s;
}

bool is_pure_syn(const ClassifiedPacket& pkt) {
  return pkt.key().protocol == net::kIpProtoTcp &&
         (pkt.headers.tcp_flags & (net::kTcpSyn | net::kTcpAck)) == net::kTcpSyn;
}

void handle_flow(Burst& b, rte_mbuf* m, std::uint16_t i, const ClassifiedPacket& pkt) {
  const VipEntry& vip = b.snapshot.vips[pkt.vip];
  const bool pure_syn = is_pure_syn(pkt);
  const FlowRef found = b.worker.flows.find(pkt.key(), pkt.hashes.five_tuple, b.now_s);
  if (pure_syn && found && found.binding->state() == FlowState::open) {
    ++b.worker.counters.backends[found.binding->backend].syn_retransmits;  // still waiting
  }
  const FlowDecision decision =
      decide_flow(b.snapshot, vip, found.binding, pure_syn, pkt.hashes, b.worker.scheduler);
  if (decision.action == FlowAction::no_backend) {
    (void)apply_flow(b, pkt, found, decision, vip.id, pure_syn);  // frees the entry, if any
    emit_drop(b, m, i, DropReason::no_backend);
    return;
  }
  const bool opens =
      decision.action == FlowAction::new_flow || decision.action == FlowAction::new_connection;
  if (opens && vip.new_flows_per_s != 0 &&
      !take_token(b.worker.new_flow_budget[vip.id], vip.new_flows_per_s, b.worker.worker_count,
                  b.worker.ticks_per_second, b.now_ticks)) {
    emit_drop(b, m, i, DropReason::new_flow_limit);  // the entry, if any, stays as it was
    return;
  }
  const FlowRef ref = apply_flow(b, pkt, found, decision, vip.id, pure_syn);
  BackendId hop = kNoBackendId;
  if (decision.action == FlowAction::new_flow) {
    hop = second_hop_for_new_flow(vip, pkt, pure_syn);
    if (hop != kNoBackendId) {
      ++b.worker.counters.second_hop_flows;
      ++b.worker.counters.vips[vip.id].second_hop_flows;
      if (ref) {
        ref.binding->set_second_hop(true);
        ref.cold->second_hop = hop;
        ref.cold->second_hop_incarnation = b.snapshot.backends[hop].incarnation;
      }
    }
  } else if (decision.action == FlowAction::hit) {
    hop = kept_second_hop(b.snapshot, ref, vip.id);
  }
  if (ref) {
    const bool handshake =
        track_state(*ref.binding, pkt, pure_syn, decision.action == FlowAction::new_flow);
    // Only an entry a SYN opened on this backend: not a flow adopted by its first ACK (new_flow)
    // nor one moved by it (reschedule).
    if (handshake && decision.action == FlowAction::hit) [[unlikely]] {
      count_handshake(b, ref);
    }
    *ref.deadline = std::max<std::uint32_t>(
        1, b.now_s + flow_timeout(b.snapshot.settings, pkt.key(), ref.binding->state()));
  }
  forward(b, m, i, pkt, decision.backend, pkt.hashes.five_tuple, false, pure_syn, hop);
}

void handle_fragment(Burst& b, rte_mbuf* m, std::uint16_t i, const ClassifiedPacket& pkt) {
  const VipEntry& vip = b.snapshot.vips[pkt.vip];
  if (vip.fragments == config::FragmentPolicy::drop) {
    emit_drop(b, m, i, DropReason::fragment_unsupported);
    return;
  }
  // Every fragment of a datagram has the same 3-tuple, so they all reach one backend.
  const BackendId backend = maglev_pick(vip, pkt.hashes.three_tuple);
  if (backend == kNoBackendId) {
    emit_drop(b, m, i, DropReason::no_backend);
    return;
  }
  ++b.worker.counters.fragments_forwarded;
  forward(b, m, i, pkt, backend, pkt.hashes.three_tuple, false);
}

// An ICMP error about a flow goes where the flow goes; it never creates or moves an entry.
void handle_icmp_error(Burst& b, rte_mbuf* m, std::uint16_t i, const ClassifiedPacket& pkt) {
  const VipEntry& vip = b.snapshot.vips[pkt.vip];
  const FlowRef found = b.worker.flows.find(pkt.key(), pkt.hashes.five_tuple, b.now_s);
  const FlowDecision decision =
      decide_flow(b.snapshot, vip, found.binding, false, pkt.hashes, b.worker.scheduler);
  if (decision.action == FlowAction::no_backend) {
    emit_drop(b, m, i, DropReason::no_backend);
    return;
  }
  ++b.worker.counters.icmp_errors_forwarded;
  forward(b, m, i, pkt, decision.backend, pkt.hashes.five_tuple, true);
}

FlowKey reversed(const FlowKey& k) {
  FlowKey r = k;
  r.src_addr = k.dst_addr;
  r.dst_addr = k.src_addr;
  r.src_port = k.dst_port;
  r.dst_port = k.src_port;
  return r;
}

// ---- pass 1 -------------------------------------------------------------------------------

// A TCP/UDP packet (fast or full parse) with its key in pkt.headers.key: find its VIP, hash
// and start fetching its flow-table lines.
void classify_flow(const Snapshot& snap, const WorkerState& worker, ClassifiedPacket& pkt) {
  const FlowKey& key = pkt.key();
  pkt.vip =
      key.family == AddressFamily::v4 ? snap.classify.lookup_v4(key) : snap.classify.lookup(key);
  if (pkt.vip == kNoVip) return;
  pkt.kind = PacketClass::flow;
  pkt.hashes.five_tuple = lb::flow_hash_5tuple(key);
  if (snap.vips[pkt.vip].scheduler == config::Scheduler::source_hash) {
    pkt.hashes.three_tuple = lb::flow_hash_3tuple(key);
  }
  worker.flows.prefetch(pkt.hashes.five_tuple);
}

// What fast_parse() does not take: VLAN tags, IPv4 options, IPv6 extension headers,
// fragments, ICMP, other protocols, and every malformed frame.
void classify_slow_path(const Snapshot& snap, const WorkerState& worker,
                        std::span<const std::byte> frame, ClassifiedPacket& pkt) {
  const net::ParseResult result = net::parse(frame);
  if (!result.ok()) {
    pkt.kind = PacketClass::drop;
    pkt.reason = *result.drop;
    return;
  }
  const ParsedPacket& p = result.packet;
  if (p.l3 == L3Kind::other) return;
  pkt.l3 = p.l3;
  pkt.l3_offset = p.l3_offset;
  pkt.headers.l3_length = p.l3_length;
  pkt.headers.tcp_flags = p.tcp_flags;
  pkt.has_ipv4_options = p.has_ipv4_options;
  pkt.has_ipv6_extensions = p.has_ipv6_extensions;
  pkt.headers.key = p.key;

  if (p.fragment != net::FragmentKind::none) {
    // Like an unfragmented packet: to the host unless a VIP takes its protocol on the address.
    const std::uint16_t vip = snap.classify.lookup_fragment(p.key);
    if (vip == kNoVip) return;
    if (vip == kAmbiguousFragmentVip) {
      pkt.kind = PacketClass::drop;  // several VIPs of its protocol: no port to choose by
      pkt.reason = DropReason::fragment_unsupported;
      return;
    }
    pkt.vip = vip;
    pkt.kind = PacketClass::fragment;
    pkt.hashes.three_tuple = lb::flow_hash_3tuple(p.key);
    return;
  }

  if (is_icmp(p)) {
    if (is_icmpv6_host_control(p) || !snap.classify.is_vip_address(p.key)) return;
    if (p.icmp.is_echo_request) {
      pkt.kind = PacketClass::echo;
      pkt.vip = 0;
      // Any VIP on the address answers; count it under the first one found.
      for (std::uint16_t v = 0; v < snap.vips.size(); ++v) {
        const auto& a = snap.vips[v].key.address;
        if (a.family == p.key.family && a.bytes == p.key.dst_addr) {
          pkt.vip = v;
          break;
        }
      }
      return;
    }
    if (!p.icmp.is_error) {
      pkt.kind = PacketClass::drop;
      pkt.reason = DropReason::icmp_unsupported;
      return;
    }
    // The quoted packet went VIP -> client; the flow it belongs to is client -> VIP.
    pkt.headers.key = reversed(p.icmp.embedded);
    pkt.vip = snap.classify.lookup(pkt.key());
    if (pkt.vip == kNoVip) {
      pkt.kind = PacketClass::drop;
      pkt.reason = DropReason::icmp_error_no_flow;
      return;
    }
    pkt.kind = PacketClass::icmp_error;
    pkt.hashes.five_tuple = lb::flow_hash_5tuple(pkt.key());
    pkt.hashes.three_tuple = lb::flow_hash_3tuple(pkt.key());
    worker.flows.prefetch(pkt.hashes.five_tuple);
    return;
  }
  classify_flow(snap, worker, pkt);
}

void classify_packet(const Snapshot& snap, const WorkerState& worker, rte_mbuf* m,
                     ClassifiedPacket& pkt) {
  if (m->nb_segs != 1) {
    pkt.kind = PacketClass::drop;
    pkt.reason = DropReason::segmented_frame;
    return;
  }
  const std::span<const std::byte> frame = frame_of(m);
  if (net::fast_parse(frame, pkt.headers) == net::FastParse::parsed) [[likely]] {
    pkt.l3 = pkt.headers.key.family == AddressFamily::v4 ? L3Kind::ipv4 : L3Kind::ipv6;
    pkt.l3_offset = net::kFastL3Offset;
    classify_flow(snap, worker, pkt);
    return;
  }
  classify_slow_path(snap, worker, frame, pkt);
}

}  // namespace

void classify_burst(WorkerState& worker, const Snapshot& snapshot, rte_mbuf** pkts, std::uint16_t n,
                    std::uint64_t now, ClassifiedBurst& classified) {
  n = std::min(n, kMaxBurst);
  classified.count = n;
  classified.now = now;
  classified.now_s = static_cast<std::uint32_t>(now / worker.ticks_per_second);
  worker.counters.rx_packets += n;
  for (std::uint16_t i = 0; i < n && i < kPrefetchAhead; ++i) {
    rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
  }
  for (std::uint16_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + kPrefetchAhead], void*));
    rte_mbuf* m = pkts[i];
    classified.mbufs[i] = m;
    ClassifiedPacket& pkt = classified.packets[i];
    pkt.reset();
    classify_packet(snapshot, worker, m, pkt);
    // Encapsulation writes the cache line before the frame: start fetching it now.
    if (pkt.kind == PacketClass::flow) rte_prefetch0(rte_pktmbuf_mtod_offset(m, char*, -64));
  }
}

void complete_burst(WorkerState& worker, const Snapshot& snapshot, ClassifiedBurst& classified,
                    BurstResult& out) {
  const std::uint16_t n = classified.count;
  const ClassifiedPacket* packets = classified.packets.data();
  rte_mbuf** mbufs = classified.mbufs.data();
  classified.count = 0;
  out.tx_count = 0;
  out.pass_count = 0;
  out.drop_count = 0;
  worker.now_s = classified.now_s;
  Burst b{worker, snapshot, out, classified.now_s, classified.now, 0, false};
  for (std::uint16_t i = 0; i < n; ++i)
    out.verdicts[i] = PacketVerdict{};

  // Make sure the flow-table lines are on their way: loads, not prefetches (see
  // FlowTable::touch); they overlap each other and the lines are used in the next pass.
  std::uint32_t touched = 0;
  for (std::uint16_t i = 0; i < n; ++i) {
    if (packets[i].kind == PacketClass::flow || packets[i].kind == PacketClass::icmp_error) {
      touched += worker.flows.touch(packets[i].hashes.five_tuple);
    }
  }
  asm volatile("" : : "r"(touched));
  // An adopted flow's packets read its entry's cold part for the hop, a miss each: fetch those
  // lines for the whole burst at once. Only on an lcore that ever adopted one.
  if (worker.counters.second_hop_flows != 0) {
    for (std::uint16_t i = 0; i < n; ++i) {
      if (packets[i].kind == PacketClass::flow) {
        worker.flows.prefetch_second_hop(packets[i].hashes.five_tuple);
      }
    }
  }

  for (std::uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = mbufs[i];
    const ClassifiedPacket& pkt = packets[i];
    switch (pkt.kind) {
      case PacketClass::drop:
        emit_drop(b, m, i, pkt.reason);
        break;
      case PacketClass::pass:
        emit_pass(b, m, i);
        break;
      case PacketClass::flow:
        out.verdicts[i].vip = snapshot.vips[pkt.vip].id;
        handle_flow(b, m, i, pkt);
        break;
      case PacketClass::fragment:
        out.verdicts[i].vip = snapshot.vips[pkt.vip].id;
        handle_fragment(b, m, i, pkt);
        break;
      case PacketClass::echo:
        reply_echo(b, m, i, pkt);
        break;
      case PacketClass::icmp_error:
        out.verdicts[i].vip = snapshot.vips[pkt.vip].id;
        handle_icmp_error(b, m, i, pkt);
        break;
    }
  }
}

void process_burst(WorkerState& worker, const Snapshot& snapshot, rte_mbuf** pkts, std::uint16_t n,
                   std::uint64_t now, BurstResult& out) {
  ClassifiedBurst classified;
  classify_burst(worker, snapshot, pkts, n, now, classified);
  complete_burst(worker, snapshot, classified, out);
}

void count_handed_on(LcoreCounters& counters, const BurstResult& out) {
  for (std::uint16_t t = 0; t < out.tx_count; ++t)
    counters.count_verdict(out.tx_verdict[t]);
  counters.count_verdict(Verdict::pass, out.pass_count);
}

void drop_burst(WorkerState& worker, rte_mbuf** pkts, std::uint16_t n, DropReason reason) {
  worker.counters.rx_packets += n;
  worker.counters.count_drop(reason, n);
  rte_pktmbuf_free_bulk(pkts, n);
}

void expire_flows(WorkerState& worker, std::uint64_t now, std::uint32_t max_buckets) {
  const auto now_s = static_cast<std::uint32_t>(now / worker.ticks_per_second);
  SchedulerState& scheduler = worker.scheduler;
  LcoreCounters& counters = worker.counters;
  worker.counters.flows_expired +=
      worker.flows.expire(now_s, max_buckets, [&scheduler, &counters](const FlowEntry& e) {
        release(scheduler, e.backend);
        count_unanswered(counters, e.state, e.key.protocol, e.backend);
      });
}

}  // namespace sluice::pipeline

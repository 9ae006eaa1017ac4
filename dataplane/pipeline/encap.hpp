// Encapsulation towards a backend: Ethernet + outer IPv4/IPv6 [+ UDP + GUE] in front of the
// client's IP datagram, which is never modified.
//
//   ipip  IPv4 in IPv4 (proto 4), IPv6 in IPv6 (41), IPv4 in IPv6 (4), IPv6 in IPv4 (41)
//   gue   outer UDP (dst = settings.gue_port, src = 0x8000 | low 15 bits of the flow hash)
//         + GUE variant 0 header {version 0, hlen 0, protocol 4|41}
// Outer fields: TTL / hop limit = settings.outer_ttl; ToS / traffic class copied from the inner
// packet (ECN included, RFC 6040 normal mode); IPv4 outer DF copied from an IPv4 inner packet
// and set for an IPv6 one; IPv4 id copied from an IPv4 inner packet (0 otherwise); IPv6 flow
// label = low 20 bits of the flow hash. UDP checksum: computed for an IPv6 outer header
// (mandatory), 0 for IPv4 (RFC 768 allows it; the inner packet carries its own checksums).
// The protocol fields name the VIP's family: a VIP's packets (ICMP errors and fragments
// included) always have its family.
//
// Second chance (gue only, docs/second-chance.md): a packet that names its flow's previous
// owner carries it as GUE private data after the 4-byte GUE header (hlen 2 for an IPv4 hop,
// 5 for IPv6): 0x53 'S', type 0x01 (IPv4) | 0x02 (IPv6), flags 0 (0x80 = used, set by the
// backend that sends it on), 0, then the address. Packets without a hop are unchanged.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "sluice/config/model.hpp"
#include "sluice/ip_address.hpp"
#include "sluice/net/checksum.hpp"
#include "sluice/net/headers.hpp"

namespace sluice::pipeline {

inline constexpr std::size_t kEthernetHeaderSize = 14;

// Bytes the outer IP [+ UDP + GUE] headers add to the inner datagram (the L3 MTU cost).
[[nodiscard]] constexpr std::size_t encap_overhead(config::Encap encap, AddressFamily outer) {
  const std::size_t ip = outer == AddressFamily::v4 ? 20 : 40;
  return encap == config::Encap::gue ? ip + 8 + 4 : ip;
}

// Ethernet + outer headers in front of the inner datagram.
[[nodiscard]] constexpr std::size_t encap_header_size(config::Encap encap, AddressFamily outer) {
  return kEthernetHeaderSize + encap_overhead(encap, outer);
}

// GUE private data naming a second hop (docs/second-chance.md).
inline constexpr std::uint8_t kSecondHopMagic = 0x53;  // 'S'
inline constexpr std::uint8_t kSecondHopTypeV4 = 0x01;
inline constexpr std::uint8_t kSecondHopTypeV6 = 0x02;
inline constexpr std::uint8_t kSecondHopUsed = 0x80;

// Bytes a second hop of `family` adds after the GUE header (0 for none).
[[nodiscard]] constexpr std::size_t second_hop_size(AddressFamily family) {
  return family == AddressFamily::v4 ? 8 : 20;
}

// The GUE source port for a flow hash.
[[nodiscard]] constexpr std::uint16_t gue_source_port(std::uint32_t flow_hash) {
  return static_cast<std::uint16_t>(0x8000u | (flow_hash & 0x7FFFu));
}

// Everything of the headers that is the same for every packet of one backend, built when the
// snapshot is built; per packet only the fields that follow the inner packet are patched in.
struct EncapTemplate {
  // Ethernet (source MAC left zero: it is the worker's port) + outer IP [+ UDP + GUE].
  std::array<std::uint8_t, 80> bytes{};
  std::uint8_t size = 0;  // header bytes in use
  config::Encap encap = config::Encap::ipip;
  AddressFamily outer_family = AddressFamily::v4;
  // IPv4 outer: RFC 1071 sum of the header's constant words (ToS, length, id and flags zero).
  std::uint32_t ipv4_partial_sum = 0;

  [[nodiscard]] std::size_t overhead() const { return size - kEthernetHeaderSize; }
};

struct EncapTemplateParams {
  config::Encap encap = config::Encap::ipip;
  AddressFamily inner_family = AddressFamily::v4;  // the VIP's family
  IpAddress outer_src;                             // the tunnel source of the backend's family
  IpAddress outer_dst;                             // the backend
  net::MacAddress dst_mac{};
  std::uint8_t ttl = 64;
  std::uint16_t gue_port = 6080;
};

// Control thread (snapshot build).
[[nodiscard]] inline EncapTemplate make_encap_template(const EncapTemplateParams& p) {
  using namespace net;
  EncapTemplate t;
  t.encap = p.encap;
  t.outer_family = p.outer_dst.family;
  t.size = static_cast<std::uint8_t>(encap_header_size(p.encap, t.outer_family));
  const bool gue = p.encap == config::Encap::gue;
  const std::uint8_t inner_protocol =
      p.inner_family == AddressFamily::v4 ? kIpProtoIpip : kIpProtoIpv6;
  const std::uint8_t protocol = gue ? kIpProtoUdp : inner_protocol;
  std::uint8_t* b = t.bytes.data();
  std::memcpy(b, p.dst_mac.data(), 6);
  std::uint8_t* ip = b + kEthernetHeaderSize;
  if (t.outer_family == AddressFamily::v4) {
    store_be16(b + 12, kEtherTypeIpv4);
    ip[0] = 0x45;
    ip[8] = p.ttl;
    ip[9] = protocol;
    std::memcpy(ip + 12, p.outer_src.bytes.data(), 4);
    std::memcpy(ip + 16, p.outer_dst.bytes.data(), 4);
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i < 20; i += 2)
      sum += load_be16(ip + i);
    t.ipv4_partial_sum = sum;
  } else {
    store_be16(b + 12, kEtherTypeIpv6);
    ip[0] = 0x60;
    ip[6] = protocol;
    ip[7] = p.ttl;
    std::memcpy(ip + 8, p.outer_src.bytes.data(), 16);
    std::memcpy(ip + 24, p.outer_dst.bytes.data(), 16);
  }
  if (gue) {
    std::uint8_t* udp = ip + (t.outer_family == AddressFamily::v4 ? 20 : 40);
    store_be16(udp + 2, p.gue_port);
    udp[8] = 0;  // GUE variant 0: version 0, C 0, hlen 0
    udp[9] = inner_protocol;
  }
  return t;
}

namespace encap_detail {

// Copies exactly t.size bytes in 16-byte pieces, the last one overlapping its predecessor
// (every size is >= 34), so nothing after the header is touched.
inline void copy_template(std::uint8_t* to, const EncapTemplate& t) {
  const std::size_t size = t.size;
  for (std::size_t i = 0; i + 16 < size; i += 16)
    std::memcpy(to + i, t.bytes.data() + i, 16);
  std::memcpy(to + size - 16, t.bytes.data() + size - 16, 16);
}

using namespace net;

struct InnerInfo {
  std::uint8_t tos;
  bool dont_fragment;
  std::uint16_t ipv4_id;
};

inline InnerInfo inspect_inner(std::span<const std::byte> inner) {
  const auto* b = reinterpret_cast<const std::uint8_t*>(inner.data());
  if ((b[0] >> 4) == 4) {
    return InnerInfo{b[1], (b[6] & 0x40) != 0, load_be16(b + 4)};
  }
  const std::uint8_t tclass = static_cast<std::uint8_t>(((b[0] & 0x0F) << 4) | (b[1] >> 4));
  return InnerInfo{tclass, true, 0};
}

}  // namespace encap_detail

// `frame`: room for t.size header bytes [+ second_hop_size() of the hop] followed by the inner
// IP datagram. `second_hop` (gue only; the outer header's family): the previous owner to
// name, or nullptr. Inline: once per forwarded packet.
inline void write_encap(std::span<std::byte> frame, const EncapTemplate& t,
                        const net::MacAddress& src_mac, std::uint32_t flow_hash,
                        const IpAddress* second_hop = nullptr) {
  using namespace net;
  using namespace encap_detail;
  auto* b = reinterpret_cast<std::uint8_t*>(frame.data());
  const std::size_t hop_size = second_hop != nullptr ? second_hop_size(second_hop->family) : 0;
  const InnerInfo info = inspect_inner(frame.subspan(t.size + hop_size));
  copy_template(b, t);
  if (hop_size != 0) {
    std::uint8_t* gue = b + t.size - 4;
    gue[0] = static_cast<std::uint8_t>(hop_size / 4);  // version 0, C 0, hlen
    std::uint8_t* hop = b + t.size;
    hop[0] = kSecondHopMagic;
    hop[1] = second_hop->is_v4() ? kSecondHopTypeV4 : kSecondHopTypeV6;
    hop[2] = 0;
    hop[3] = 0;
    std::memcpy(hop + 4, second_hop->bytes.data(), hop_size - 4);
  }
  std::memcpy(b + 6, src_mac.data(), 6);
  std::uint8_t* ip = b + kEthernetHeaderSize;
  const std::size_t l3_length = frame.size() - kEthernetHeaderSize;  // outer datagram
  std::size_t outer_ip = 20;
  if (t.outer_family == AddressFamily::v4) {
    const std::uint16_t flags = info.dont_fragment ? 0x4000 : 0;
    ip[1] = info.tos;
    store_be16(ip + 2, static_cast<std::uint16_t>(l3_length));
    store_be16(ip + 4, info.ipv4_id);
    store_be16(ip + 6, flags);
    store_be16(ip + 10,
               checksum_finish(t.ipv4_partial_sum + info.tos +
                               static_cast<std::uint32_t>(l3_length) + info.ipv4_id + flags));
  } else {
    outer_ip = 40;
    store_be32(ip, (6u << 28) | (std::uint32_t{info.tos} << 20) | (flow_hash & 0xFFFFF));
    store_be16(ip + 4, static_cast<std::uint16_t>(l3_length - 40));
  }
  if (t.encap != config::Encap::gue) return;
  std::uint8_t* udp = ip + outer_ip;
  const std::size_t udp_length = l3_length - outer_ip;
  store_be16(udp, gue_source_port(flow_hash));
  store_be16(udp + 4, static_cast<std::uint16_t>(udp_length));
  if (t.outer_family == AddressFamily::v6) {
    // The pseudo-header's addresses: the outer IPv6 header just written.
    const auto& src = *reinterpret_cast<const std::uint8_t(*)[16]>(ip + 8);
    const auto& dst = *reinterpret_cast<const std::uint8_t(*)[16]>(ip + 24);
    const std::uint16_t sum = l4_checksum_v6(
        src, dst, kIpProtoUdp, frame.subspan(kEthernetHeaderSize + outer_ip, udp_length));
    store_be16(udp + 6, sum == 0 ? 0xFFFF : sum);
  }
}

}  // namespace sluice::pipeline

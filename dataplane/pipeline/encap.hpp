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
#pragma once

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

struct EncapParams {
  config::Encap encap = config::Encap::ipip;
  AddressFamily outer_family = AddressFamily::v4;
  const std::uint8_t* outer_src = nullptr;  // 4 or 16 bytes, by outer_family
  const std::uint8_t* outer_dst = nullptr;
  net::MacAddress dst_mac{};
  net::MacAddress src_mac{};
  std::uint8_t ttl = 64;
  std::uint16_t gue_port = 6080;
  std::uint32_t flow_hash = 0;
};

// Bytes the outer IP [+ UDP + GUE] headers add to the inner datagram (the L3 MTU cost).
[[nodiscard]] constexpr std::size_t encap_overhead(config::Encap encap, AddressFamily outer) {
  const std::size_t ip = outer == AddressFamily::v4 ? 20 : 40;
  return encap == config::Encap::gue ? ip + 8 + 4 : ip;
}

// Ethernet + outer headers in front of the inner datagram.
[[nodiscard]] constexpr std::size_t encap_header_size(config::Encap encap, AddressFamily outer) {
  return kEthernetHeaderSize + encap_overhead(encap, outer);
}

// The GUE source port for a flow hash.
[[nodiscard]] constexpr std::uint16_t gue_source_port(std::uint32_t flow_hash) {
  return static_cast<std::uint16_t>(0x8000u | (flow_hash & 0x7FFFu));
}

namespace encap_detail {

using namespace net;

struct InnerInfo {
  std::uint8_t protocol;  // 4 (IPv4) or 41 (IPv6): what the outer header carries
  std::uint8_t tos;
  bool dont_fragment;
  std::uint16_t ipv4_id;
};

inline InnerInfo inspect_inner(std::span<const std::byte> inner) {
  const auto* b = reinterpret_cast<const std::uint8_t*>(inner.data());
  if ((b[0] >> 4) == 4) {
    return InnerInfo{kIpProtoIpip, b[1], (b[6] & 0x40) != 0, load_be16(b + 4)};
  }
  const std::uint8_t tclass = static_cast<std::uint8_t>(((b[0] & 0x0F) << 4) | (b[1] >> 4));
  return InnerInfo{kIpProtoIpv6, tclass, true, 0};
}

// RFC 1071 sum of an address's 16-bit words.
inline std::uint32_t address_sum_v4(const std::uint8_t* a) {
  return load_be16(a) + load_be16(a + 2);
}

}  // namespace encap_detail

// Inline: once per forwarded packet, and most of its branches fold for a known VIP.
inline void write_encap_headers(std::span<std::byte> frame, const EncapParams& p) {
  using namespace net;
  using namespace encap_detail;
  const std::size_t header = encap_header_size(p.encap, p.outer_family);
  const std::span<std::byte> inner = frame.subspan(header);
  const InnerInfo info = inspect_inner(inner);
  const bool gue = p.encap == config::Encap::gue;
  const std::size_t outer_ip = p.outer_family == AddressFamily::v4 ? 20 : 40;
  const std::size_t l3_length = frame.size() - kEthernetHeaderSize;  // outer datagram
  const std::uint8_t protocol = gue ? kIpProtoUdp : info.protocol;

  auto* eth = mutable_header_at<EthernetHeader>(frame, 0);
  eth->dst = p.dst_mac;
  eth->src = p.src_mac;
  eth->ethertype.set(p.outer_family == AddressFamily::v4 ? kEtherTypeIpv4 : kEtherTypeIpv6);

  if (p.outer_family == AddressFamily::v4) {
    auto* ip = mutable_header_at<Ipv4Header>(frame, kEthernetHeaderSize);
    auto* raw = reinterpret_cast<std::uint8_t*>(ip);
    raw[0] = 0x45;
    raw[1] = info.tos;
    store_be16(raw + 2, static_cast<std::uint16_t>(l3_length));
    store_be16(raw + 4, info.ipv4_id);
    store_be16(raw + 6, info.dont_fragment ? 0x4000 : 0);
    raw[8] = p.ttl;
    raw[9] = protocol;
    std::memcpy(raw + 12, p.outer_src, 4);
    std::memcpy(raw + 16, p.outer_dst, 4);
    // The checksum from the field values, not by reading the header back: a wide load over
    // the bytes just stored cannot be forwarded from the store buffer and stalls.
    const std::uint32_t sum = (0x4500u | info.tos) + static_cast<std::uint32_t>(l3_length) +
                              info.ipv4_id + (info.dont_fragment ? 0x4000u : 0u) +
                              ((std::uint32_t{p.ttl} << 8) | protocol) +
                              address_sum_v4(p.outer_src) + address_sum_v4(p.outer_dst);
    store_be16(raw + 10, checksum_finish(sum));
  } else {
    auto* raw = reinterpret_cast<std::uint8_t*>(frame.data() + kEthernetHeaderSize);
    store_be32(raw, (6u << 28) | (std::uint32_t{info.tos} << 20) | (p.flow_hash & 0xFFFFF));
    store_be16(raw + 4, static_cast<std::uint16_t>(l3_length - 40));
    raw[6] = protocol;
    raw[7] = p.ttl;
    std::memcpy(raw + 8, p.outer_src, 16);
    std::memcpy(raw + 24, p.outer_dst, 16);
  }

  if (!gue) return;
  const std::size_t udp_offset = kEthernetHeaderSize + outer_ip;
  auto* udp = reinterpret_cast<std::uint8_t*>(frame.data() + udp_offset);
  const std::size_t udp_length = frame.size() - udp_offset;
  store_be16(udp, gue_source_port(p.flow_hash));
  store_be16(udp + 2, p.gue_port);
  store_be16(udp + 4, static_cast<std::uint16_t>(udp_length));
  store_be16(udp + 6, 0);
  std::uint8_t* gue_header = udp + 8;
  gue_header[0] = 0;  // version 0, C 0, hlen 0
  gue_header[1] = info.protocol;
  store_be16(gue_header + 2, 0);
  if (p.outer_family == AddressFamily::v6) {
    const auto& src = *reinterpret_cast<const std::uint8_t(*)[16]>(p.outer_src);
    const auto& dst = *reinterpret_cast<const std::uint8_t(*)[16]>(p.outer_dst);
    std::uint16_t sum = l4_checksum_v6(src, dst, kIpProtoUdp, frame.subspan(udp_offset));
    store_be16(udp + 6, sum == 0 ? 0xFFFF : sum);
  }
}

}  // namespace sluice::pipeline

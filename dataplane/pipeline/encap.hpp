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
#include <span>

#include "sluice/config/model.hpp"
#include "sluice/ip_address.hpp"
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

// `frame` = encap_header_size() bytes to fill, followed by the whole inner IP datagram.
void write_encap_headers(std::span<std::byte> frame, const EncapParams& params);

// The GUE source port for a flow hash.
[[nodiscard]] constexpr std::uint16_t gue_source_port(std::uint32_t flow_hash) {
  return static_cast<std::uint16_t>(0x8000u | (flow_hash & 0x7FFFu));
}

}  // namespace sluice::pipeline

// ICMP the dataplane originates: echo replies for VIPs and "fragmentation needed" /
// "packet too big" for clients whose packets would not fit once encapsulated. Pure functions
// over frame bytes, rewritten in place (the request's mbuf becomes the reply).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "sluice/ip_address.hpp"
#include "sluice/net/parse.hpp"

namespace sluice::pipeline {

// ICMP errors quote as much of the offending datagram as fits in a minimum-MTU packet:
// 576 bytes for ICMPv4 (RFC 1812 4.3.2.3), 1280 for ICMPv6 (RFC 4443 2.4).
inline constexpr std::size_t kIcmpv4ErrorMaxLength = 576;
inline constexpr std::size_t kIcmpv6ErrorMaxLength = 1280;

// IP + ICMP header bytes of a too-big message.
[[nodiscard]] constexpr std::size_t too_big_header_size(AddressFamily family) {
  return family == AddressFamily::v4 ? 20 + 8 : 40 + 8;
}
[[nodiscard]] constexpr std::size_t too_big_quote_limit(AddressFamily family) {
  return family == AddressFamily::v4 ? kIcmpv4ErrorMaxLength - 28 : kIcmpv6ErrorMaxLength - 48;
}

// Turns an echo request (frame trimmed to l3_offset + l3_length, no IPv4 options or IPv6
// extension headers) into the echo reply: MACs and addresses swapped, TTL/hop limit = ttl,
// type echo reply, checksums recomputed. VLAN tag kept.
void write_echo_reply(std::span<std::byte> frame, const net::ParsedPacket& request,
                      std::uint8_t ttl);

struct TooBigParams {
  AddressFamily family = AddressFamily::v4;
  const std::uint8_t* src = nullptr;  // the VIP (the address the client sent to)
  const std::uint8_t* dst = nullptr;  // the client
  std::uint32_t mtu = 0;              // largest datagram the client may send
  std::uint8_t ttl = 64;
};

// `frame` = [l2_header.size() bytes][too_big_header_size()][quoted datagram]. Writes the
// request's L2 header with MACs swapped, then IPv4 + ICMP type 3 code 4 (next-hop MTU), or
// IPv6 + ICMPv6 type 2 (MTU), with lengths and checksums.
void write_too_big(std::span<std::byte> frame, std::span<const std::byte> l2_header,
                   const TooBigParams& params);

}  // namespace sluice::pipeline

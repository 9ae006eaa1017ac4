// The common case of parse(), inline, for the per-packet hot path: an untagged Ethernet frame
// carrying an IPv4 datagram without options or an IPv6 datagram without extension headers,
// not a fragment, with a complete TCP or UDP header. For such a frame it yields exactly what
// parse() yields (key, offsets, length, TCP flags); for anything else, malformed frames
// included, it answers `needs_full_parse` and the caller runs parse(), which also names the
// drop reason. tests/unit/net/test_fast_parse.cpp and the fuzzer hold it to that.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "sluice/flow_key.hpp"
#include "sluice/net/byte_order.hpp"
#include "sluice/net/headers.hpp"

namespace sluice::net {

enum class FastParse : std::uint8_t { parsed, needs_full_parse };

// What the forwarding path needs from a fast-parsed frame (the L3 header is at offset 14).
struct FastPacket {
  FlowKey key;
  std::uint16_t l3_length = 0;  // IP datagram length from the header
  std::uint8_t tcp_flags = 0;   // TCP only
};

inline constexpr std::uint16_t kFastL3Offset = 14;

namespace detail {

inline void store_v4_address(std::uint8_t* to, const std::uint8_t* from) {
  std::uint32_t address;
  std::memcpy(&address, from, sizeof address);
  // In memory: bytes 0..3 the address, 4..7 zero.
  const std::uint64_t low = std::endian::native == std::endian::little
                                ? std::uint64_t{address}
                                : std::uint64_t{address} << 32;
  const std::uint64_t high = 0;
  std::memcpy(to, &low, sizeof low);
  std::memcpy(to + 8, &high, sizeof high);
}

// TCP or UDP header checks of parse_l4() for a whole (unfragmented) datagram; `l4` is the
// frame offset of the L4 header and `available` the datagram bytes from there.
[[nodiscard]] inline FastParse fast_l4(const std::uint8_t* l4, std::size_t available,
                                       FastPacket& out) {
  if (out.key.protocol == kIpProtoTcp) {
    if (available < 20) return FastParse::needs_full_parse;
    const std::size_t header = static_cast<std::size_t>(l4[12] >> 4) * 4;
    if (header < 20 || header > available) return FastParse::needs_full_parse;
    out.tcp_flags = l4[13];
  } else if (out.key.protocol == kIpProtoUdp) {
    if (available < 8) return FastParse::needs_full_parse;
    const std::size_t length = load_be16(l4 + 4);
    if (length < 8 || length > available) return FastParse::needs_full_parse;
    out.tcp_flags = 0;
  } else {
    return FastParse::needs_full_parse;
  }
  out.key.src_port = load_be16(l4);
  out.key.dst_port = load_be16(l4 + 2);
  return FastParse::parsed;
}

}  // namespace detail

[[nodiscard]] inline FastParse fast_parse(std::span<const std::byte> frame, FastPacket& out) {
  const auto* b = reinterpret_cast<const std::uint8_t*>(frame.data());
  const std::size_t size = frame.size();
  if (size < kFastL3Offset + 20 || size > 65535) return FastParse::needs_full_parse;
  const std::uint16_t ethertype = load_be16(b + 12);
  const std::uint8_t* ip = b + kFastL3Offset;
  const std::size_t available = size - kFastL3Offset;
  FlowKey& key = out.key;

  if (ethertype == kEtherTypeIpv4) {
    // Version 4, IHL 5 (no options); not a fragment (MF clear, offset 0).
    if (ip[0] != 0x45 || (load_be16(ip + 6) & 0x3FFF) != 0) return FastParse::needs_full_parse;
    const std::size_t total = load_be16(ip + 2);
    if (total < 20 || total > available) return FastParse::needs_full_parse;
    // Each address as two 8-byte stores (the IPv4 address zero-extended): the flow hash reads
    // them back as 8-byte words while they may still be in the store buffer, and a load that
    // spans two stores cannot be forwarded from it (a stall on every packet).
    detail::store_v4_address(key.src_addr.data(), ip + 12);
    detail::store_v4_address(key.dst_addr.data(), ip + 16);
    key.protocol = ip[9];
    key.family = AddressFamily::v4;
    key.reserved[0] = key.reserved[1] = 0;
    out.l3_length = static_cast<std::uint16_t>(total);
    return detail::fast_l4(ip + 20, total - 20, out);
  }
  if (ethertype == kEtherTypeIpv6) {
    if (available < 40 || (ip[0] >> 4) != 6) return FastParse::needs_full_parse;
    const std::size_t total = 40 + std::size_t{load_be16(ip + 4)};
    if (total > available) return FastParse::needs_full_parse;
    key.family = AddressFamily::v6;
    std::memcpy(key.src_addr.data(), ip + 8, 16);
    std::memcpy(key.dst_addr.data(), ip + 24, 16);
    key.protocol = ip[6];  // anything but TCP/UDP (extension headers too) takes the full path
    key.reserved[0] = key.reserved[1] = 0;
    out.l3_length = static_cast<std::uint16_t>(total);
    return detail::fast_l4(ip + 40, total - 40, out);
  }
  return FastParse::needs_full_parse;
}

}  // namespace sluice::net

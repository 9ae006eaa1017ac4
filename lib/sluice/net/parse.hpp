// Packet parsing: a pure function over the bytes of one Ethernet frame. It honours IHL, every
// length field and the IPv6 extension-header chain, never reads past the span, and returns
// either a parsed view or exactly one drop reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "sluice/drop_reason.hpp"
#include "sluice/flow_key.hpp"

namespace sluice::net {

enum class L3Kind : std::uint8_t {
  other,  // not IP (ARP, LLDP, ...): not ours, goes to the host
  ipv4,
  ipv6,
};

enum class FragmentKind : std::uint8_t {
  none,
  first,      // offset 0, more-fragments set: L4 header present
  non_first,  // offset > 0: no L4 header, ports unknown
};

// ICMPv4 / ICMPv6 details. For error messages, `embedded` is the 5-tuple of the quoted packet
// exactly as it was originally sent (its src is the original sender), so a router's
// frag-needed about a backend->client packet names the VIP as `embedded.src`.
struct IcmpInfo {
  std::uint8_t type = 0;
  std::uint8_t code = 0;
  bool is_echo_request = false;
  bool is_error = false;  // destination unreachable, packet too big, time exceeded, parameter problem
  std::uint16_t echo_identifier = 0;
  std::uint16_t embedded_offset = 0;  // frame offset of the quoted IP header (errors only)
  std::uint32_t mtu = 0;              // next-hop MTU (frag-needed) or MTU (packet too big)
  FlowKey embedded;                   // errors only

  friend bool operator==(const IcmpInfo&, const IcmpInfo&) = default;
};

struct ParsedPacket {
  std::uint16_t l3_offset = 0;       // frame offset of the IP header (after Ethernet [+ 802.1Q])
  std::uint16_t l4_offset = 0;       // after IPv4 options / IPv6 extension headers
  std::uint16_t payload_offset = 0;  // after the L4 header (TCP options included)
  std::uint16_t l3_length = 0;       // IP datagram length from the header (v6: 40 + payload length)
  std::uint16_t ethertype = 0;       // the L3 ethertype, after any 802.1Q tag
  std::uint16_t vlan_tci = 0;
  bool has_vlan = false;
  L3Kind l3 = L3Kind::other;
  FragmentKind fragment = FragmentKind::none;
  bool has_ipv4_options = false;
  bool has_ipv6_extensions = false;  // any extension header other than a lone fragment header
  std::uint8_t ttl = 0;              // IPv4 TTL / IPv6 hop limit
  std::uint8_t tos = 0;              // IPv4 ToS / IPv6 traffic class
  std::uint8_t tcp_flags = 0;        // TCP only
  std::uint32_t fragment_id = 0;     // IPv4 16-bit id or IPv6 32-bit identification
  FlowKey key;                       // protocol = upper-layer protocol; ports 0 when absent
  IcmpInfo icmp;                     // valid when key.protocol is ICMP or ICMPv6
  std::uint16_t payload_length = 0;  // bytes from payload_offset: UDP by its length field,
                                     // others to the end of the IP datagram (never padding)

  friend bool operator==(const ParsedPacket&, const ParsedPacket&) = default;
};

struct ParseResult {
  std::optional<DropReason> drop;  // set: malformed, drop for this reason; `packet` is unspecified
  ParsedPacket packet;
  [[nodiscard]] bool ok() const { return !drop.has_value(); }
};

// The parser follows at most this many IPv6 extension headers (ipv6_ext_chain_too_long beyond).
inline constexpr int kMaxIpv6ExtensionHeaders = 8;

[[nodiscard]] ParseResult parse(std::span<const std::byte> frame);

}  // namespace sluice::net

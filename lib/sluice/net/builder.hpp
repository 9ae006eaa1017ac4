// A packet builder for tests and tools: describe a frame with designated initialisers and get
// its bytes, with every length and checksum computed. Each computed field has an override to
// make malformed packets.
//
//   auto frame = build_frame({
//       .ip = Ipv4Spec{.dst = address("198.18.0.10")},
//       .l4 = TcpSpec{.dst_port = 443, .flags = kTcpSyn},
//       .payload = bytes_of("hello"),
//   });
//
// Not for the data path: it allocates freely. Every member has an explicit default initialiser
// so that GCC 12's -Wmissing-field-initializers accepts partial designated initialisers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "sluice/ip_address.hpp"
#include "sluice/net/headers.hpp"

namespace sluice::net {

using ByteBuffer = std::vector<std::byte>;

// An address literal such as "198.18.0.1" or "2001:db8::1"; aborts on a typo (test input).
[[nodiscard]] IpAddress address(std::string_view text);

[[nodiscard]] ByteBuffer bytes_of(std::string_view text);
[[nodiscard]] ByteBuffer concat(std::span<const std::byte> a, std::span<const std::byte> b);

struct EthernetSpec {
  MacAddress dst = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
  MacAddress src = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
  // Trivially destructible on purpose: GCC 12 at -O3 reports a false -Wmaybe-uninitialized for
  // an omitted first member that owns memory.
  std::optional<std::uint16_t> vlan_tci{};         // an 802.1Q tag
  std::optional<std::uint16_t> second_vlan_tci{};  // a second, inner tag (QinQ)
  std::uint16_t vlan_tpid = kEtherTypeVlan;        // TPID written before each tag
  std::optional<std::uint16_t> ethertype{};        // default: from the IP spec (ARP without one)
};

struct Ipv4Spec {
  IpAddress src = address("198.18.0.1");
  IpAddress dst = address("198.18.0.2");
  std::uint8_t tos = 0;
  std::uint8_t ttl = 64;
  std::uint16_t id = 0;
  bool dont_fragment = false;
  bool more_fragments = false;
  std::uint32_t fragment_offset = 0;  // bytes, a multiple of 8
  ByteBuffer options{};               // zero-padded to a multiple of 4
  // Overrides: unset means the correct value.
  std::optional<std::uint8_t> version{};
  std::optional<std::uint8_t> ihl{};
  std::optional<std::uint8_t> protocol{};
  std::optional<std::uint16_t> total_length{};
  std::optional<std::uint16_t> checksum{};
};

struct Ipv6Extension {
  std::uint8_t type = kIpProtoDestinationOptions;  // hop-by-hop, routing, dest options, fragment
  std::size_t length = 8;                          // bytes, a multiple of 8 (fragment: 8)
  std::uint8_t routing_type = 0;
  std::uint8_t segments_left = 0;
  std::uint32_t fragment_offset = 0;  // bytes, a multiple of 8
  bool more_fragments = false;
  std::uint32_t identification = 0;
  std::optional<std::uint8_t> length_field{};  // override of the 8-byte-units length
  std::optional<std::uint8_t> next_header{};   // override of this header's next-header field
};

[[nodiscard]] Ipv6Extension hop_by_hop(std::size_t length = 8);
[[nodiscard]] Ipv6Extension routing_header(std::size_t length = 8, std::uint8_t segments_left = 0);
[[nodiscard]] Ipv6Extension destination_options(std::size_t length = 8);
[[nodiscard]] Ipv6Extension fragment_header(std::uint32_t offset, bool more_fragments,
                                            std::uint32_t identification);

struct Ipv6Spec {
  IpAddress src = address("2001:db8::1");
  IpAddress dst = address("2001:db8::2");
  std::uint8_t traffic_class = 0;
  std::uint32_t flow_label = 0;
  std::uint8_t hop_limit = 64;
  std::vector<Ipv6Extension> extensions{};  // in wire order
  // Overrides.
  std::optional<std::uint8_t> version{};
  std::optional<std::uint8_t> next_header{};  // of the fixed header
  std::optional<std::uint16_t> payload_length{};
};

// No IP header: the frame carries `payload` under EthernetSpec::ethertype.
using NoIp = std::monostate;
using IpSpec = std::variant<Ipv4Spec, Ipv6Spec, NoIp>;

struct TcpSpec {
  std::uint16_t src_port = 40000;
  std::uint16_t dst_port = 80;
  std::uint32_t seq = 1;
  std::uint32_t ack = 0;
  std::uint8_t flags = kTcpSyn;
  std::uint16_t window = 65535;
  ByteBuffer options{};  // zero-padded to a multiple of 4
  // Overrides.
  std::optional<std::uint8_t> data_offset{};
  std::optional<std::uint16_t> checksum{};
};

struct UdpSpec {
  std::uint16_t src_port = 40000;
  std::uint16_t dst_port = 53;
  // Overrides.
  std::optional<std::uint16_t> length{};
  std::optional<std::uint16_t> checksum{};
};

// ICMPv4 or ICMPv6, chosen by the IP spec.
struct IcmpSpec {
  std::optional<std::uint8_t> type{};  // default: echo request of the IP family
  std::uint8_t code = 0;
  std::uint32_t rest = 0;  // echo id(16) seq(16), next-hop MTU, packet-too-big MTU, pointer
  ByteBuffer quoted{};     // errors: the offending packet, see quote(); sent before the payload
  std::optional<std::uint16_t> checksum{};
};

// No L4 header is written (non-first fragments, protocols the builder does not know).
struct RawL4 {
  std::uint8_t protocol = kIpProtoTcp;
};

using L4Spec = std::variant<TcpSpec, UdpSpec, IcmpSpec, RawL4>;

[[nodiscard]] IcmpSpec icmp_echo_request(std::uint16_t identifier, std::uint16_t sequence);
[[nodiscard]] IcmpSpec icmp_echo_reply(std::uint16_t identifier, std::uint16_t sequence,
                                       bool v6 = false);
[[nodiscard]] IcmpSpec icmp_error(std::uint8_t type, std::uint8_t code, ByteBuffer quoted,
                                  std::uint32_t rest = 0);
[[nodiscard]] IcmpSpec icmp_frag_needed(std::uint16_t next_hop_mtu, ByteBuffer quoted);
[[nodiscard]] IcmpSpec icmp6_packet_too_big(std::uint32_t mtu, ByteBuffer quoted);

// An IP datagram without Ethernet: quoted packets, inner packets of tunnels.
struct PacketSpec {
  IpSpec ip{};
  L4Spec l4{};
  ByteBuffer payload{};
};

struct FrameSpec {
  EthernetSpec ethernet{};
  IpSpec ip{};
  L4Spec l4{};
  ByteBuffer payload{};
  std::size_t padding = 0;                   // zero bytes after the IP datagram (Ethernet padding)
  std::optional<std::size_t> truncate_to{};  // cut the finished frame to this many bytes
};

[[nodiscard]] ByteBuffer build_packet(const PacketSpec& spec);
[[nodiscard]] ByteBuffer build_frame(const FrameSpec& spec);

// What an ICMP error quotes: the packet's IP header(s) and the first `l4_bytes` bytes after.
[[nodiscard]] ByteBuffer quote(const PacketSpec& offending, std::size_t l4_bytes = 8);

// A GUE variant 0 header followed by `extension_words` zero 32-bit words.
[[nodiscard]] ByteBuffer gue_header(std::uint8_t protocol, std::uint8_t extension_words = 0,
                                    bool control = false, std::uint16_t flags = 0,
                                    std::uint8_t version = 0);

}  // namespace sluice::net

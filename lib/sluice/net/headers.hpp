// Wire layouts of the headers Sluice reads and writes. Every field is a byte or a Be16/Be32, so
// each struct has alignment 1 and no padding (checked below): lay a pointer over frame bytes
// with header_at() to read or write in place, or value-initialise one (`Ipv4Header h{};`), fill
// it with the setters and copy it into a buffer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "sluice/net/byte_order.hpp"

namespace sluice::net {

using MacAddress = std::array<std::uint8_t, 6>;

// EtherTypes.
inline constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr std::uint16_t kEtherTypeArp = 0x0806;
inline constexpr std::uint16_t kEtherTypeVlan = 0x8100;  // 802.1Q C-tag
inline constexpr std::uint16_t kEtherTypeQinQ = 0x88A8;  // 802.1ad S-tag
inline constexpr std::uint16_t kEtherTypeIpv6 = 0x86DD;

// IP protocol / IPv6 next-header numbers.
inline constexpr std::uint8_t kIpProtoHopByHop = 0;
inline constexpr std::uint8_t kIpProtoIcmp = 1;
inline constexpr std::uint8_t kIpProtoIpip = 4;  // IPv4 in IP
inline constexpr std::uint8_t kIpProtoTcp = 6;
inline constexpr std::uint8_t kIpProtoUdp = 17;
inline constexpr std::uint8_t kIpProtoIpv6 = 41;  // IPv6 in IP
inline constexpr std::uint8_t kIpProtoRouting = 43;
inline constexpr std::uint8_t kIpProtoFragment = 44;
inline constexpr std::uint8_t kIpProtoIcmpv6 = 58;
inline constexpr std::uint8_t kIpProtoNoNextHeader = 59;
inline constexpr std::uint8_t kIpProtoDestinationOptions = 60;

// ICMPv4 types and codes.
inline constexpr std::uint8_t kIcmpEchoReply = 0;
inline constexpr std::uint8_t kIcmpDestUnreachable = 3;
inline constexpr std::uint8_t kIcmpCodeFragNeeded = 4;
inline constexpr std::uint8_t kIcmpEchoRequest = 8;
inline constexpr std::uint8_t kIcmpTimeExceeded = 11;
inline constexpr std::uint8_t kIcmpParamProblem = 12;

// ICMPv6 types.
inline constexpr std::uint8_t kIcmp6DestUnreachable = 1;
inline constexpr std::uint8_t kIcmp6PacketTooBig = 2;
inline constexpr std::uint8_t kIcmp6TimeExceeded = 3;
inline constexpr std::uint8_t kIcmp6ParamProblem = 4;
inline constexpr std::uint8_t kIcmp6EchoRequest = 128;
inline constexpr std::uint8_t kIcmp6EchoReply = 129;

// TCP flags (the byte at offset 13).
inline constexpr std::uint8_t kTcpFin = 0x01;
inline constexpr std::uint8_t kTcpSyn = 0x02;
inline constexpr std::uint8_t kTcpRst = 0x04;
inline constexpr std::uint8_t kTcpPsh = 0x08;
inline constexpr std::uint8_t kTcpAck = 0x10;
inline constexpr std::uint8_t kTcpUrg = 0x20;
inline constexpr std::uint8_t kTcpEce = 0x40;
inline constexpr std::uint8_t kTcpCwr = 0x80;

struct EthernetHeader {
  MacAddress dst{};
  MacAddress src{};
  Be16 ethertype;  // kEtherTypeVlan when an 802.1Q tag follows
};

// The 4 bytes that follow an EthernetHeader whose ethertype is a VLAN TPID.
struct VlanTag {
  Be16 tci;        // PCP(3) DEI(1) VID(12)
  Be16 ethertype;  // of the payload

  [[nodiscard]] constexpr std::uint16_t vlan_id() const { return tci.get() & 0x0FFF; }
};

struct Ipv4Header {
  std::uint8_t version_ihl = 0;  // version(4) IHL(4), IHL in 32-bit words
  std::uint8_t tos = 0;
  Be16 total_length;  // header + payload, bytes
  Be16 id;
  Be16 flags_fragment;  // reserved(1) DF(1) MF(1) offset(13), offset in 8-byte units
  std::uint8_t ttl = 0;
  std::uint8_t protocol = 0;
  Be16 checksum;
  std::uint8_t src[4] = {};
  std::uint8_t dst[4] = {};

  static constexpr std::uint16_t kDontFragment = 0x4000;
  static constexpr std::uint16_t kMoreFragments = 0x2000;
  static constexpr std::uint16_t kOffsetMask = 0x1FFF;

  [[nodiscard]] constexpr std::uint8_t version() const { return version_ihl >> 4; }
  [[nodiscard]] constexpr std::uint8_t ihl() const { return version_ihl & 0x0F; }
  [[nodiscard]] constexpr std::size_t header_length() const { return std::size_t{ihl()} * 4; }
  [[nodiscard]] constexpr bool dont_fragment() const {
    return (flags_fragment.get() & kDontFragment) != 0;
  }
  [[nodiscard]] constexpr bool more_fragments() const {
    return (flags_fragment.get() & kMoreFragments) != 0;
  }
  [[nodiscard]] constexpr std::uint32_t fragment_offset_bytes() const {
    return std::uint32_t{static_cast<std::uint16_t>(flags_fragment.get() & kOffsetMask)} * 8;
  }
  [[nodiscard]] constexpr bool is_fragment() const {
    return more_fragments() || fragment_offset_bytes() != 0;
  }

  constexpr void set_version_ihl(std::uint8_t version, std::uint8_t ihl_words) {
    version_ihl = static_cast<std::uint8_t>((version << 4) | (ihl_words & 0x0F));
  }
  // offset_bytes must be a multiple of 8.
  constexpr void set_fragment(bool dont_fragment, bool more_fragments, std::uint32_t offset_bytes) {
    flags_fragment.set(static_cast<std::uint16_t>((dont_fragment ? kDontFragment : 0) |
                                                  (more_fragments ? kMoreFragments : 0) |
                                                  ((offset_bytes / 8) & kOffsetMask)));
  }
};

struct Ipv6Header {
  Be32 version_class_flow;  // version(4) traffic class(8) flow label(20)
  Be16 payload_length;      // bytes after this 40-byte header, extension headers included
  std::uint8_t next_header = 0;
  std::uint8_t hop_limit = 0;
  std::uint8_t src[16] = {};
  std::uint8_t dst[16] = {};

  [[nodiscard]] constexpr std::uint8_t version() const {
    return static_cast<std::uint8_t>(version_class_flow.get() >> 28);
  }
  [[nodiscard]] constexpr std::uint8_t traffic_class() const {
    return static_cast<std::uint8_t>(version_class_flow.get() >> 20);
  }
  [[nodiscard]] constexpr std::uint32_t flow_label() const {
    return version_class_flow.get() & 0x000FFFFF;
  }
  constexpr void set_version_class_flow(std::uint8_t version, std::uint8_t traffic_class,
                                        std::uint32_t flow_label) {
    version_class_flow.set((std::uint32_t{version} << 28) | (std::uint32_t{traffic_class} << 20) |
                           (flow_label & 0x000FFFFF));
  }
};

// Hop-by-hop and destination options headers share this layout; the options fill the rest.
struct Ipv6OptionsHeader {
  std::uint8_t next_header = 0;
  std::uint8_t length = 0;  // in 8-byte units, not counting the first 8 bytes
  std::uint8_t options[6] = {};

  [[nodiscard]] constexpr std::size_t header_length() const {
    return (std::size_t{length} + 1) * 8;
  }
};

struct Ipv6RoutingHeader {
  std::uint8_t next_header = 0;
  std::uint8_t length = 0;  // in 8-byte units, not counting the first 8 bytes
  std::uint8_t routing_type = 0;
  std::uint8_t segments_left = 0;
  std::uint8_t type_specific[4] = {};

  [[nodiscard]] constexpr std::size_t header_length() const {
    return (std::size_t{length} + 1) * 8;
  }
};

struct Ipv6FragmentHeader {
  std::uint8_t next_header = 0;
  std::uint8_t reserved = 0;
  Be16 offset_flags;  // offset(13) in 8-byte units, reserved(2), M(1)
  Be32 identification;

  static constexpr std::uint16_t kMoreFragments = 0x0001;

  [[nodiscard]] constexpr std::uint32_t fragment_offset_bytes() const {
    return offset_flags.get() & 0xFFF8;  // offset field << 3 == bytes
  }
  [[nodiscard]] constexpr bool more_fragments() const {
    return (offset_flags.get() & kMoreFragments) != 0;
  }
  // offset_bytes must be a multiple of 8.
  constexpr void set_fragment(std::uint32_t offset_bytes, bool more_fragments) {
    offset_flags.set(static_cast<std::uint16_t>((offset_bytes & 0xFFF8) |
                                                (more_fragments ? kMoreFragments : 0)));
  }
};

struct TcpHeader {
  Be16 src_port;
  Be16 dst_port;
  Be32 seq;
  Be32 ack;
  std::uint8_t data_offset_reserved = 0;  // data offset(4) in 32-bit words, reserved(4)
  std::uint8_t flags = 0;                 // kTcp* bits
  Be16 window;
  Be16 checksum;
  Be16 urgent_pointer;

  [[nodiscard]] constexpr std::uint8_t data_offset() const { return data_offset_reserved >> 4; }
  [[nodiscard]] constexpr std::size_t header_length() const {
    return std::size_t{data_offset()} * 4;
  }
  constexpr void set_data_offset(std::uint8_t words) {
    data_offset_reserved = static_cast<std::uint8_t>(words << 4);
  }
};

struct UdpHeader {
  Be16 src_port;
  Be16 dst_port;
  Be16 length;  // header + payload, bytes
  Be16 checksum;
};

// ICMPv4 and ICMPv6 share the first 8 bytes. `rest` holds, by type: echo identifier(16) and
// sequence(16); frag-needed unused(16) and next-hop MTU(16); packet-too-big MTU(32);
// parameter-problem pointer. Error messages quote the offending packet right after.
struct IcmpHeader {
  std::uint8_t type = 0;
  std::uint8_t code = 0;
  Be16 checksum;
  Be32 rest;

  [[nodiscard]] constexpr std::uint16_t echo_identifier() const {
    return static_cast<std::uint16_t>(rest.get() >> 16);
  }
  [[nodiscard]] constexpr std::uint16_t echo_sequence() const {
    return static_cast<std::uint16_t>(rest.get());
  }
  [[nodiscard]] constexpr std::uint16_t next_hop_mtu() const {  // ICMPv4 frag-needed
    return static_cast<std::uint16_t>(rest.get());
  }
  [[nodiscard]] constexpr std::uint32_t mtu() const { return rest.get(); }  // ICMPv6 PTB
  constexpr void set_echo(std::uint16_t identifier, std::uint16_t sequence) {
    rest.set((std::uint32_t{identifier} << 16) | sequence);
  }
};
using Icmpv6Header = IcmpHeader;

// GUE (draft-ietf-intarea-gue) variant 0 header, carried in a UDP payload. Variant 1 has no
// GUE header at all: the UDP payload starts with an IPv4 or IPv6 header (whose first two bits,
// 01, double as the GUE version).
struct GueHeader {
  std::uint8_t version_control_hlen = 0;  // version(2) C(1) hlen(5), hlen in 32-bit words
  std::uint8_t protocol = 0;              // inner IP protocol; control type when C is set
  Be16 flags;

  [[nodiscard]] constexpr std::uint8_t version() const { return version_control_hlen >> 6; }
  [[nodiscard]] constexpr bool control() const { return (version_control_hlen & 0x20) != 0; }
  [[nodiscard]] constexpr std::uint8_t hlen() const { return version_control_hlen & 0x1F; }
  // Base header plus the optional extension fields that hlen counts.
  [[nodiscard]] constexpr std::size_t header_length() const {
    return sizeof(GueHeader) + std::size_t{hlen()} * 4;
  }
  constexpr void set_version_control_hlen(std::uint8_t version, bool control,
                                          std::uint8_t hlen_words) {
    version_control_hlen =
        static_cast<std::uint8_t>((version << 6) | (control ? 0x20 : 0) | (hlen_words & 0x1F));
  }
};

// Lays a header over frame bytes at `offset`, or nullptr when it would run past the end.
// Distinct names keep a call with a std::vector argument unambiguous.
template <typename Header>
[[nodiscard]] const Header* header_at(std::span<const std::byte> bytes, std::size_t offset) {
  if (offset > bytes.size() || bytes.size() - offset < sizeof(Header)) return nullptr;
  return reinterpret_cast<const Header*>(bytes.data() + offset);
}
template <typename Header>
[[nodiscard]] Header* mutable_header_at(std::span<std::byte> bytes, std::size_t offset) {
  if (offset > bytes.size() || bytes.size() - offset < sizeof(Header)) return nullptr;
  return reinterpret_cast<Header*>(bytes.data() + offset);
}

// The layouts are the wire format: no padding, alignment 1, trivially copyable.
template <typename Header, std::size_t kSize>
inline constexpr bool kIsWireLayout =
    sizeof(Header) == kSize && alignof(Header) == 1 &&
    std::is_trivially_copyable_v<Header>&& std::is_standard_layout_v<Header>;

static_assert(kIsWireLayout<EthernetHeader, 14>);
static_assert(offsetof(EthernetHeader, src) == 6 && offsetof(EthernetHeader, ethertype) == 12);
static_assert(kIsWireLayout<VlanTag, 4>);
static_assert(offsetof(VlanTag, ethertype) == 2);

static_assert(kIsWireLayout<Ipv4Header, 20>);
static_assert(offsetof(Ipv4Header, total_length) == 2 && offsetof(Ipv4Header, id) == 4);
static_assert(offsetof(Ipv4Header, flags_fragment) == 6 && offsetof(Ipv4Header, ttl) == 8);
static_assert(offsetof(Ipv4Header, protocol) == 9 && offsetof(Ipv4Header, checksum) == 10);
static_assert(offsetof(Ipv4Header, src) == 12 && offsetof(Ipv4Header, dst) == 16);

static_assert(kIsWireLayout<Ipv6Header, 40>);
static_assert(offsetof(Ipv6Header, payload_length) == 4 && offsetof(Ipv6Header, next_header) == 6);
static_assert(offsetof(Ipv6Header, hop_limit) == 7 && offsetof(Ipv6Header, src) == 8);
static_assert(offsetof(Ipv6Header, dst) == 24);
static_assert(kIsWireLayout<Ipv6OptionsHeader, 8>);
static_assert(offsetof(Ipv6OptionsHeader, length) == 1);
static_assert(kIsWireLayout<Ipv6RoutingHeader, 8>);
static_assert(offsetof(Ipv6RoutingHeader, segments_left) == 3);
static_assert(kIsWireLayout<Ipv6FragmentHeader, 8>);
static_assert(offsetof(Ipv6FragmentHeader, offset_flags) == 2);
static_assert(offsetof(Ipv6FragmentHeader, identification) == 4);

static_assert(kIsWireLayout<TcpHeader, 20>);
static_assert(offsetof(TcpHeader, seq) == 4 && offsetof(TcpHeader, ack) == 8);
static_assert(offsetof(TcpHeader, data_offset_reserved) == 12 && offsetof(TcpHeader, flags) == 13);
static_assert(offsetof(TcpHeader, window) == 14 && offsetof(TcpHeader, checksum) == 16);
static_assert(offsetof(TcpHeader, urgent_pointer) == 18);
static_assert(kIsWireLayout<UdpHeader, 8>);
static_assert(offsetof(UdpHeader, length) == 4 && offsetof(UdpHeader, checksum) == 6);
static_assert(kIsWireLayout<IcmpHeader, 8>);
static_assert(offsetof(IcmpHeader, checksum) == 2 && offsetof(IcmpHeader, rest) == 4);
static_assert(kIsWireLayout<GueHeader, 4>);
static_assert(offsetof(GueHeader, protocol) == 1 && offsetof(GueHeader, flags) == 2);

}  // namespace sluice::net

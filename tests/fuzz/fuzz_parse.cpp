// libFuzzer target for the frame parser and the GUE parser. Beyond "no crash, no out-of-bounds
// read" (ASan, UBSan), it aborts when a parsed view breaks what callers rely on: offsets inside
// the frame and in order, a 5-tuple that matches the bytes, results independent of padding.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>

#include "sluice/net/fast_parse.hpp"
#include "sluice/net/headers.hpp"
#include "sluice/net/parse.hpp"

namespace sluice::net {
namespace {

#define FUZZ_CHECK(condition)                                                                  \
  do {                                                                                         \
    if (!(condition)) {                                                                        \
      std::fprintf(stderr, "invariant failed at %s:%d: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                            \
    }                                                                                          \
  } while (false)

void check_icmp(const ParsedPacket& p, std::size_t end) {
  const bool is_icmp = p.key.protocol == (p.l3 == L3Kind::ipv4 ? kIpProtoIcmp : kIpProtoIcmpv6);
  if (!is_icmp || p.fragment == FragmentKind::non_first) {
    FUZZ_CHECK(p.icmp == IcmpInfo{});
    return;
  }
  const IcmpInfo& icmp = p.icmp;
  FUZZ_CHECK(p.payload_offset == p.l4_offset + sizeof(IcmpHeader));
  FUZZ_CHECK(!(icmp.is_echo_request && icmp.is_error));
  if (icmp.is_echo_request) {
    FUZZ_CHECK(icmp.type == (p.l3 == L3Kind::ipv4 ? kIcmpEchoRequest : kIcmp6EchoRequest));
  }
  if (!icmp.is_error) {
    FUZZ_CHECK(icmp.embedded == FlowKey{} && icmp.embedded_offset == 0 && icmp.mtu == 0);
    return;
  }
  const std::size_t min_quote = p.l3 == L3Kind::ipv4 ? sizeof(Ipv4Header) : sizeof(Ipv6Header);
  FUZZ_CHECK(icmp.embedded_offset == p.payload_offset);
  FUZZ_CHECK(icmp.embedded_offset + min_quote <= end);
  FUZZ_CHECK(icmp.embedded.family == p.key.family);
  FUZZ_CHECK(icmp.embedded.reserved[0] == 0 && icmp.embedded.reserved[1] == 0);
  const bool embedded_ports =
      icmp.embedded.protocol == kIpProtoTcp || icmp.embedded.protocol == kIpProtoUdp;
  if (!embedded_ports) FUZZ_CHECK(icmp.embedded.src_port == 0 && icmp.embedded.dst_port == 0);
}

void check_ip(std::span<const std::byte> frame, const ParsedPacket& p) {
  const std::size_t l3 = p.l3_offset;
  const std::size_t end = l3 + p.l3_length;
  const bool v4 = p.l3 == L3Kind::ipv4;
  FUZZ_CHECK(end <= frame.size());
  FUZZ_CHECK(p.key.family == (v4 ? AddressFamily::v4 : AddressFamily::v6));
  FUZZ_CHECK(p.ethertype == (v4 ? kEtherTypeIpv4 : kEtherTypeIpv6));
  FUZZ_CHECK(std::to_integer<int>(frame[l3]) >> 4 == (v4 ? 4 : 6));
  FUZZ_CHECK(p.key.reserved[0] == 0 && p.key.reserved[1] == 0);

  // Offsets in order and inside the IP datagram.
  const std::size_t min_header = v4 ? sizeof(Ipv4Header) : sizeof(Ipv6Header);
  FUZZ_CHECK(p.l3_length >= min_header);
  FUZZ_CHECK(l3 + min_header <= p.l4_offset);
  FUZZ_CHECK(p.l4_offset <= p.payload_offset);
  FUZZ_CHECK(std::size_t{p.payload_offset} + p.payload_length <= end);
  if (v4) {
    FUZZ_CHECK(p.l4_offset - l3 <= 60 && (p.l4_offset - l3) % 4 == 0);
    FUZZ_CHECK(p.has_ipv4_options == (p.l4_offset - l3 > 20));
    FUZZ_CHECK(!p.has_ipv6_extensions);
    FUZZ_CHECK(std::memcmp(p.key.src_addr.data(), &frame[l3 + 12], 4) == 0);
    FUZZ_CHECK(std::memcmp(p.key.dst_addr.data(), &frame[l3 + 16], 4) == 0);
  } else {
    FUZZ_CHECK((p.l4_offset - l3) % 8 == 0);
    FUZZ_CHECK(!p.has_ipv4_options);
    FUZZ_CHECK(!p.has_ipv6_extensions || p.l4_offset - l3 > sizeof(Ipv6Header));
    FUZZ_CHECK(std::memcmp(p.key.src_addr.data(), &frame[l3 + 8], 16) == 0);
    FUZZ_CHECK(std::memcmp(p.key.dst_addr.data(), &frame[l3 + 24], 16) == 0);
  }

  const bool has_ports = p.key.protocol == kIpProtoTcp || p.key.protocol == kIpProtoUdp;
  if (p.fragment == FragmentKind::non_first || !has_ports) {
    FUZZ_CHECK(p.key.src_port == 0 && p.key.dst_port == 0);
  }
  if (p.fragment == FragmentKind::non_first) FUZZ_CHECK(p.payload_offset == p.l4_offset);
  if (p.key.protocol != kIpProtoTcp || p.fragment == FragmentKind::non_first) {
    FUZZ_CHECK(p.tcp_flags == 0);
  }
  if (p.fragment != FragmentKind::non_first && p.key.protocol == kIpProtoTcp) {
    FUZZ_CHECK(p.payload_offset - p.l4_offset >= 20 && p.payload_offset - p.l4_offset <= 60);
    FUZZ_CHECK(p.key.src_port == load_be16(&frame[p.l4_offset]));
    FUZZ_CHECK(p.key.dst_port == load_be16(&frame[p.l4_offset + 2]));
  }
  if (p.fragment != FragmentKind::non_first && p.key.protocol == kIpProtoUdp) {
    FUZZ_CHECK(p.payload_offset - p.l4_offset == sizeof(UdpHeader));
  } else {
    FUZZ_CHECK(std::size_t{p.payload_offset} + p.payload_length == end);  // no length field
  }
  check_icmp(p, end);
}

// The hot path's fast_parse() takes a frame only when parse() reads it the same way.
void check_fast_path(std::span<const std::byte> frame, const ParseResult& full) {
  FastPacket fast;
  if (fast_parse(frame, fast) != FastParse::parsed) return;
  FUZZ_CHECK(full.ok());
  const ParsedPacket& p = full.packet;
  FUZZ_CHECK(p.l3_offset == kFastL3Offset && p.l3_length == fast.l3_length);
  FUZZ_CHECK(p.key == fast.key && p.tcp_flags == fast.tcp_flags);
  FUZZ_CHECK(p.fragment == FragmentKind::none && !p.has_ipv4_options && !p.has_ipv6_extensions);
}

void check(std::span<const std::byte> frame) {
  const ParseResult result = parse(frame);
  check_fast_path(frame, result);
  if (!result.ok()) {
    FUZZ_CHECK(*result.drop < DropReason::no_backend);  // only the parser's own reasons
    FUZZ_CHECK(!parse(frame).ok() && *parse(frame).drop == *result.drop);
    return;
  }
  const ParsedPacket& p = result.packet;
  FUZZ_CHECK(frame.size() >= sizeof(EthernetHeader));
  FUZZ_CHECK(p.l3_offset == sizeof(EthernetHeader) + (p.has_vlan ? sizeof(VlanTag) : 0));
  FUZZ_CHECK(p.l3_offset <= frame.size());
  FUZZ_CHECK(p.ethertype != kEtherTypeVlan && p.ethertype != kEtherTypeQinQ);
  FUZZ_CHECK(parse(frame).packet == p);  // deterministic

  if (p.l3 == L3Kind::other) {
    FUZZ_CHECK(p.l4_offset == p.l3_offset && p.payload_offset == p.l3_offset);
    FUZZ_CHECK(p.l3_length == 0 && p.payload_length == 0);
    FUZZ_CHECK(p.key == FlowKey{} && p.icmp == IcmpInfo{});
    return;
  }
  check_ip(frame, p);

  // Bytes after the IP datagram (Ethernet padding) never change the result.
  const ParseResult unpadded = parse(frame.first(std::size_t{p.l3_offset} + p.l3_length));
  FUZZ_CHECK(unpadded.ok() && unpadded.packet == p);
}

}  // namespace
}  // namespace sluice::net

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sluice::net::check(std::span(reinterpret_cast<const std::byte*>(data), size));
  return 0;
}

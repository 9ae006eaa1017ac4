// The builder writes the same bytes as scapy 2.5 for the same packets (hex captured once with
// /usr/bin/python3 and scapy, pinned here), and its overrides land in the right fields.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "sluice/net/builder.hpp"

namespace sluice::net {
namespace {

std::string hex(const ByteBuffer& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::byte b : bytes) {
    out += kDigits[std::to_integer<int>(b) >> 4];
    out += kDigits[std::to_integer<int>(b) & 0xF];
  }
  return out;
}

// Ether(dst="02:00:00:00:00:02", src="02:00:00:00:00:01")/IP(src="198.18.0.1",
// dst="198.18.0.10", id=0, flags=0)/TCP(sport=40000, dport=443, seq=1, flags="S",
// window=65535)/b"hello"
TEST(Builder, TcpV4MatchesScapy) {
  const auto frame = build_frame({
      .ip = Ipv4Spec{.dst = address("198.18.0.10")},
      .l4 = TcpSpec{.src_port = 40000, .dst_port = 443, .seq = 1, .flags = kTcpSyn},
      .payload = bytes_of("hello"),
  });
  EXPECT_EQ(hex(frame),
            "02000000000202000000000108004500002d000000004006ee9bc6120001c612000a9c4001bb00000001"
            "000000005002ffff41df000068656c6c6f");
}

// .../IPv6(src="2001:db8::1", dst="2001:db8::2")/UDP(sport=40000, dport=53)/b"hello"
TEST(Builder, UdpV6MatchesScapy) {
  const auto frame = build_frame({.ip = Ipv6Spec{}, .l4 = UdpSpec{}, .payload = bytes_of("hello")});
  EXPECT_EQ(hex(frame),
            "02000000000202000000000186dd60000000000d114020010db800000000000000000000000120010db8"
            "0000000000000000000000029c400035000dc41768656c6c6f");
}

// .../IP(src="198.18.0.1", dst="198.18.0.2", id=0, flags=0)/ICMP(type=8, id=0x1234, seq=7)/b"ping"
TEST(Builder, IcmpEchoV4MatchesScapy) {
  const auto frame = build_frame({.l4 = icmp_echo_request(0x1234, 7), .payload = bytes_of("ping")});
  EXPECT_EQ(hex(frame),
            "020000000002020000000001080045000020000000004001eeb5c6120001c6120002080006f412340007"
            "70696e67");
}

// .../IPv6(...)/ICMPv6EchoRequest(id=0x1234, seq=7)/b"ping"
TEST(Builder, IcmpEchoV6MatchesScapy) {
  const auto frame = build_frame(
      {.ip = Ipv6Spec{}, .l4 = icmp_echo_request(0x1234, 7), .payload = bytes_of("ping")});
  EXPECT_EQ(hex(frame),
            "02000000000202000000000186dd60000000000c3a4020010db800000000000000000000000120010db8"
            "000000000000000000000002800033381234000770696e67");
}

// .../Dot1Q(vlan=100)/IP(..., id=0, flags=0)/UDP(sport=40000, dport=53)/b"x"
TEST(Builder, VlanUdpV4MatchesScapy) {
  const auto frame = build_frame(
      {.ethernet = {.vlan_tci = 100}, .ip = Ipv4Spec{}, .l4 = UdpSpec{}, .payload = bytes_of("x")});
  EXPECT_EQ(hex(frame),
            "0200000000020200000000018100006408004500001d000000004011eea8c6120001c61200029c400035"
            "00095f3e78");
}

// .../IPv6(...)/IPv6ExtHdrHopByHop()/IPv6ExtHdrDestOpt()/TCP(sport=40000, dport=80, seq=1,
// flags="S", window=65535)
TEST(Builder, Ipv6ExtensionChainMatchesScapy) {
  const auto frame = build_frame(
      {.ip = Ipv6Spec{.extensions = {hop_by_hop(), destination_options()}}, .l4 = TcpSpec{}});
  EXPECT_EQ(hex(frame),
            "02000000000202000000000186dd600000000024004020010db800000000000000000000000120010db8"
            "0000000000000000000000023c0001040000000006000104000000009c40005000000001000000005002"
            "ffffb7dc0000");
}

TEST(Builder, OverridesLandInTheirFields) {
  const auto frame = build_frame({
      .ip =
          Ipv4Spec{
              .version = 7, .ihl = 9, .protocol = 99, .total_length = 0x0102, .checksum = 0xCAFE},
      .l4 = TcpSpec{.data_offset = 3, .checksum = 0xBEEF},
      .padding = 3,
  });
  ASSERT_EQ(frame.size(), 14u + 20 + 20 + 3);
  EXPECT_EQ(frame[14], std::byte{0x79});
  EXPECT_EQ(load_be16(&frame[16]), 0x0102);
  EXPECT_EQ(frame[23], std::byte{99});
  EXPECT_EQ(load_be16(&frame[24]), 0xCAFE);
  EXPECT_EQ(frame[34 + 12], std::byte{0x30});
  EXPECT_EQ(load_be16(&frame[34 + 16]), 0xBEEF);
  EXPECT_EQ(frame.back(), std::byte{0});

  const auto v6 = build_frame({.ip = Ipv6Spec{.extensions = {Ipv6Extension{.type = kIpProtoRouting,
                                                                           .length = 16,
                                                                           .routing_type = 4,
                                                                           .segments_left = 1,
                                                                           .length_field = 9,
                                                                           .next_header = 200}},
                                              .version = 5,
                                              .next_header = 43,
                                              .payload_length = 3},
                               .l4 = UdpSpec{.length = 1, .checksum = 0}});
  EXPECT_EQ(v6[14], std::byte{0x50});
  EXPECT_EQ(load_be16(&v6[18]), 3);
  EXPECT_EQ(v6[20], std::byte{43});
  EXPECT_EQ(v6[54], std::byte{200});
  EXPECT_EQ(v6[55], std::byte{9});
  EXPECT_EQ(v6[56], std::byte{4});
  EXPECT_EQ(v6[57], std::byte{1});
  EXPECT_EQ(load_be16(&v6[70 + 4]), 1);
  EXPECT_EQ(load_be16(&v6[70 + 6]), 0);
  EXPECT_EQ(v6.size(), 14u + 40 + 16 + 8);

  EXPECT_EQ(build_frame({.truncate_to = 5}).size(), 5u);
}

TEST(Builder, QuoteKeepsHeadersAndEightL4Bytes) {
  const PacketSpec packet{
      .ip = Ipv6Spec{.extensions = {hop_by_hop(16)}}, .l4 = TcpSpec{}, .payload = ByteBuffer(100)};
  const ByteBuffer quoted = quote(packet);
  ASSERT_EQ(quoted.size(), 40u + 16 + 8);
  const ByteBuffer whole = build_packet(packet);
  EXPECT_TRUE(std::equal(quoted.begin(), quoted.end(), whole.begin()));
  EXPECT_EQ(quote({.ip = Ipv4Spec{.options = ByteBuffer(5)}, .l4 = UdpSpec{}}, 4).size(), 28u + 4);
}

TEST(Builder, GueHeaderBits) {
  EXPECT_EQ(hex(gue_header(kIpProtoIpv6)), "00290000");
  EXPECT_EQ(hex(gue_header(kIpProtoIpip, 2, true, 0x8000)), "220480000000000000000000");
}

}  // namespace
}  // namespace sluice::net

// parse() on well-formed frames: exact offsets, 5-tuples, flags and ICMP details.
#include <gtest/gtest.h>

#include "sluice/net/builder.hpp"
#include "sluice/net/parse.hpp"

namespace sluice::net {
namespace {

const IpAddress kClient4 = address("198.18.0.1");
const IpAddress kVip4 = address("198.18.0.10");
const IpAddress kRouter4 = address("198.18.1.1");
const IpAddress kClient6 = address("2001:db8::1");
const IpAddress kVip6 = address("2001:db8::10");
const IpAddress kRouter6 = address("2001:db8:1::1");

ParsedPacket parse_ok(const ByteBuffer& frame) {
  const ParseResult result = parse(frame);
  EXPECT_TRUE(result.ok()) << "dropped: " << name_of(*result.drop);
  return result.packet;
}

void expect_key(const FlowKey& key, const IpAddress& src, std::uint16_t src_port,
                const IpAddress& dst, std::uint16_t dst_port, std::uint8_t protocol) {
  EXPECT_EQ(key.src(), src);
  EXPECT_EQ(key.dst(), dst);
  EXPECT_EQ(key.src_port, src_port);
  EXPECT_EQ(key.dst_port, dst_port);
  EXPECT_EQ(key.protocol, protocol);
  EXPECT_EQ(key.family, src.family);
  EXPECT_EQ(key.reserved[0], 0);
  EXPECT_EQ(key.reserved[1], 0);
}

TEST(ParseIpv4, TcpSynGivesOffsetsTupleAndFlags) {
  const auto frame = build_frame({
      .ip = Ipv4Spec{.src = kClient4, .dst = kVip4, .tos = 0x10, .ttl = 61, .id = 0x1234},
      .l4 = TcpSpec{.src_port = 40001, .dst_port = 443, .flags = kTcpSyn},
      .payload = bytes_of("hello"),
  });
  const ParsedPacket p = parse_ok(frame);
  EXPECT_EQ(p.l3, L3Kind::ipv4);
  EXPECT_EQ(p.ethertype, kEtherTypeIpv4);
  EXPECT_FALSE(p.has_vlan);
  EXPECT_EQ(p.l3_offset, 14);
  EXPECT_EQ(p.l4_offset, 34);
  EXPECT_EQ(p.payload_offset, 54);
  EXPECT_EQ(p.payload_length, 5);
  EXPECT_EQ(p.l3_length, 45);
  EXPECT_EQ(p.ttl, 61);
  EXPECT_EQ(p.tos, 0x10);
  EXPECT_EQ(p.fragment, FragmentKind::none);
  EXPECT_EQ(p.fragment_id, 0x1234u);
  EXPECT_FALSE(p.has_ipv4_options);
  EXPECT_EQ(p.tcp_flags, kTcpSyn);
  expect_key(p.key, kClient4, 40001, kVip4, 443, kIpProtoTcp);
}

TEST(ParseIpv4, TcpFlagsAndOptionsAreHonoured) {
  const ByteBuffer mss_sack_ts(12, std::byte{1});  // 12 option bytes: data offset 8
  const std::uint8_t flags = kTcpFin | kTcpPsh | kTcpAck | kTcpUrg | kTcpEce | kTcpCwr;
  const auto frame = build_frame({
      .l4 = TcpSpec{.flags = flags, .options = mss_sack_ts},
      .payload = bytes_of("abc"),
  });
  const ParsedPacket p = parse_ok(frame);
  EXPECT_EQ(p.tcp_flags, flags);
  EXPECT_EQ(p.l4_offset, 34);
  EXPECT_EQ(p.payload_offset, 34 + 32);
  EXPECT_EQ(p.payload_length, 3);

  const auto rst = build_frame({.l4 = TcpSpec{.flags = kTcpRst | kTcpAck}});
  EXPECT_EQ(parse_ok(rst).tcp_flags, kTcpRst | kTcpAck);
}

TEST(ParseIpv4, OptionsMoveL4AndAreFlagged) {
  const ByteBuffer router_alert = {std::byte{0x94}, std::byte{0x04}, std::byte{0}, std::byte{0}};
  ByteBuffer long_options(40, std::byte{1});  // IHL 15: 40 bytes of NOPs
  const auto frame = build_frame({
      .ip = Ipv4Spec{.src = kClient4, .dst = kVip4, .options = router_alert},
      .l4 = UdpSpec{.src_port = 5000, .dst_port = 53},
      .payload = bytes_of("q"),
  });
  const ParsedPacket p = parse_ok(frame);
  EXPECT_TRUE(p.has_ipv4_options);
  EXPECT_EQ(p.l4_offset, 38);
  EXPECT_EQ(p.payload_offset, 46);
  EXPECT_EQ(p.payload_length, 1);
  EXPECT_EQ(p.l3_length, 24 + 8 + 1);
  expect_key(p.key, kClient4, 5000, kVip4, 53, kIpProtoUdp);

  const auto widest = build_frame({.ip = Ipv4Spec{.options = long_options}, .l4 = TcpSpec{}});
  const ParsedPacket w = parse_ok(widest);
  EXPECT_EQ(w.l4_offset, 14 + 60);
  EXPECT_EQ(w.payload_offset, 14 + 60 + 20);
}

TEST(ParseL2, VlanTagIsSkippedAndReported) {
  const auto frame = build_frame({
      .ethernet = {.vlan_tci = 0xA064},  // PCP 5, VID 100
      .ip = Ipv4Spec{.src = kClient4, .dst = kVip4},
      .l4 = TcpSpec{.src_port = 1, .dst_port = 2},
  });
  const ParsedPacket p = parse_ok(frame);
  EXPECT_TRUE(p.has_vlan);
  EXPECT_EQ(p.vlan_tci, 0xA064);
  EXPECT_EQ(p.ethertype, kEtherTypeIpv4);
  EXPECT_EQ(p.l3_offset, 18);
  EXPECT_EQ(p.l4_offset, 38);
  EXPECT_EQ(p.payload_offset, 58);
  expect_key(p.key, kClient4, 1, kVip4, 2, kIpProtoTcp);
}

TEST(ParseL2, SingleServiceTagIsAccepted) {
  const auto frame = build_frame({
      .ethernet = {.vlan_tci = 7, .vlan_tpid = kEtherTypeQinQ},
      .ip = Ipv6Spec{},
      .l4 = UdpSpec{},
  });
  const ParsedPacket p = parse_ok(frame);
  EXPECT_TRUE(p.has_vlan);
  EXPECT_EQ(p.vlan_tci, 7);
  EXPECT_EQ(p.l3, L3Kind::ipv6);
  EXPECT_EQ(p.l4_offset, 18 + 40);
}

TEST(ParseL2, NonIpIsOkAndNotOurs) {
  const auto arp = build_frame({.ip = NoIp{}, .payload = ByteBuffer(28, std::byte{0})});
  const ParsedPacket p = parse_ok(arp);
  EXPECT_EQ(p.l3, L3Kind::other);
  EXPECT_EQ(p.ethertype, kEtherTypeArp);
  EXPECT_EQ(p.l3_offset, 14);

  const auto tagged_lldp =
      build_frame({.ethernet = {.vlan_tci = 5, .ethertype = 0x88CC}, .ip = NoIp{}, .payload = {}});
  const ParsedPacket q = parse_ok(tagged_lldp);
  EXPECT_EQ(q.l3, L3Kind::other);
  EXPECT_EQ(q.ethertype, 0x88CC);
  EXPECT_EQ(q.l3_offset, 18);
  EXPECT_TRUE(q.has_vlan);
}

TEST(ParseIpv4, EthernetPaddingIsIgnored) {
  const FrameSpec spec{
      .ip = Ipv4Spec{.src = kClient4, .dst = kVip4},
      .l4 = UdpSpec{.src_port = 9, .dst_port = 53},
      .payload = bytes_of("x"),
  };
  FrameSpec padded = spec;
  padded.padding = 60 - (14 + 20 + 8 + 1);
  const auto frame = build_frame(padded);
  ASSERT_EQ(frame.size(), 60u);
  const ParsedPacket p = parse_ok(frame);
  EXPECT_EQ(p.l3_length, 29);
  EXPECT_EQ(p.payload_length, 1);
  EXPECT_EQ(p, parse_ok(build_frame(spec)));  // identical to the unpadded frame

  FrameSpec tcp = spec;  // TCP has no length field: its payload ends with the IP datagram
  tcp.l4 = TcpSpec{};
  tcp.payload = {};
  tcp.padding = 6;
  const ParsedPacket t = parse_ok(build_frame(tcp));
  EXPECT_EQ(t.payload_offset, 54);
  EXPECT_EQ(t.payload_length, 0);
}

TEST(ParseIpv4, UdpLengthShorterThanIpPayloadBoundsThePayload) {
  const auto frame = build_frame({
      .l4 = UdpSpec{.length = 10},
      .payload = bytes_of("abcdef"),
  });
  const ParsedPacket p = parse_ok(frame);
  EXPECT_EQ(p.payload_offset, 42);
  EXPECT_EQ(p.payload_length, 2);
}

TEST(ParseIpv4, FirstFragmentHasPorts) {
  const auto frame = build_frame({
      .ip = Ipv4Spec{.src = kClient4, .dst = kVip4, .id = 777, .more_fragments = true},
      .l4 = UdpSpec{.src_port = 4000, .dst_port = 53, .length = 3000},  // whole datagram
      .payload = ByteBuffer(1472, std::byte{0x61}),
  });
  const ParsedPacket p = parse_ok(frame);
  EXPECT_EQ(p.fragment, FragmentKind::first);
  EXPECT_EQ(p.fragment_id, 777u);
  EXPECT_EQ(p.payload_length, 1472);
  expect_key(p.key, kClient4, 4000, kVip4, 53, kIpProtoUdp);
}

TEST(ParseIpv4, NonFirstFragmentHasNoL4) {
  const auto frame = build_frame({
      .ip = Ipv4Spec{.src = kClient4, .dst = kVip4, .id = 777, .fragment_offset = 1480},
      .l4 = RawL4{.protocol = kIpProtoTcp},
      .payload = ByteBuffer(100, std::byte{0xFF}),  // would read as ports 0xFFFF
  });
  const ParsedPacket p = parse_ok(frame);
  EXPECT_EQ(p.fragment, FragmentKind::non_first);
  EXPECT_EQ(p.fragment_id, 777u);
  EXPECT_EQ(p.l4_offset, 34);
  EXPECT_EQ(p.payload_offset, 34);
  EXPECT_EQ(p.payload_length, 100);
  EXPECT_EQ(p.tcp_flags, 0);
  expect_key(p.key, kClient4, 0, kVip4, 0, kIpProtoTcp);

  // A middle fragment (MF set) of a TCP datagram: payload a multiple of 8.
  const auto middle = build_frame({
      .ip = Ipv4Spec{.more_fragments = true, .fragment_offset = 8 * 185},
      .l4 = RawL4{.protocol = kIpProtoTcp},
      .payload = ByteBuffer(1480, std::byte{0}),
  });
  EXPECT_EQ(parse_ok(middle).fragment, FragmentKind::non_first);
}

TEST(ParseIpv4, UnknownProtocolHasNoPorts) {
  const auto frame = build_frame({
      .ip = Ipv4Spec{.src = kClient4, .dst = kVip4},
      .l4 = RawL4{.protocol = 47},  // GRE
      .payload = ByteBuffer(16, std::byte{0xAB}),
  });
  const ParsedPacket p = parse_ok(frame);
  EXPECT_EQ(p.l4_offset, 34);
  EXPECT_EQ(p.payload_offset, 34);
  EXPECT_EQ(p.payload_length, 16);
  expect_key(p.key, kClient4, 0, kVip4, 0, 47);
}

TEST(ParseIpv6, UdpGivesOffsetsAndTuple) {
  const auto frame = build_frame({
      .ip = Ipv6Spec{.src = kClient6, .dst = kVip6, .traffic_class = 0xB8, .hop_limit = 9},
      .l4 = UdpSpec{.src_port = 5353, .dst_port = 53},
      .payload = bytes_of("hello"),
  });
  const ParsedPacket p = parse_ok(frame);
  EXPECT_EQ(p.l3, L3Kind::ipv6);
  EXPECT_EQ(p.ethertype, kEtherTypeIpv6);
  EXPECT_EQ(p.l3_offset, 14);
  EXPECT_EQ(p.l4_offset, 54);
  EXPECT_EQ(p.payload_offset, 62);
  EXPECT_EQ(p.payload_length, 5);
  EXPECT_EQ(p.l3_length, 40 + 8 + 5);
  EXPECT_EQ(p.ttl, 9);
  EXPECT_EQ(p.tos, 0xB8);
  EXPECT_FALSE(p.has_ipv6_extensions);
  EXPECT_EQ(p.fragment, FragmentKind::none);
  expect_key(p.key, kClient6, 5353, kVip6, 53, kIpProtoUdp);
}

TEST(ParseIpv6, ExtensionChainIsFollowedByLength) {
  const auto frame = build_frame({
      .ip = Ipv6Spec{.src = kClient6,
                     .dst = kVip6,
                     .extensions = {hop_by_hop(8), routing_header(24, 0), destination_options(16)}},
      .l4 = TcpSpec{.src_port = 40000, .dst_port = 80, .flags = kTcpSyn | kTcpEce | kTcpCwr},
      .padding = 10,
  });
  const ParsedPacket p = parse_ok(frame);
  EXPECT_TRUE(p.has_ipv6_extensions);
  EXPECT_EQ(p.l4_offset, 14 + 40 + 8 + 24 + 16);
  EXPECT_EQ(p.payload_offset, p.l4_offset + 20);
  EXPECT_EQ(p.l3_length, 40 + 48 + 20);
  EXPECT_EQ(p.tcp_flags, kTcpSyn | kTcpEce | kTcpCwr);
  expect_key(p.key, kClient6, 40000, kVip6, 80, kIpProtoTcp);
}

TEST(ParseIpv6, LongestAllowedChainIsAccepted) {
  std::vector<Ipv6Extension> chain = {hop_by_hop()};
  while (chain.size() < static_cast<std::size_t>(kMaxIpv6ExtensionHeaders)) {
    chain.push_back(destination_options());
  }
  const auto frame = build_frame({.ip = Ipv6Spec{.extensions = chain}, .l4 = UdpSpec{}});
  const ParsedPacket p = parse_ok(frame);
  EXPECT_EQ(p.l4_offset, 14 + 40 + 8 * kMaxIpv6ExtensionHeaders);
  EXPECT_EQ(p.key.protocol, kIpProtoUdp);
}

TEST(ParseIpv6, LoneFirstFragmentHeader) {
  const auto frame = build_frame({
      .ip =
          Ipv6Spec{
              .src = kClient6, .dst = kVip6, .extensions = {fragment_header(0, true, 0xABCDEF01)}},
      .l4 = UdpSpec{.src_port = 7, .dst_port = 53, .length = 4000},
      .payload = ByteBuffer(1224, std::byte{0}),
  });
  const ParsedPacket p = parse_ok(frame);
  EXPECT_EQ(p.fragment, FragmentKind::first);
  EXPECT_EQ(p.fragment_id, 0xABCDEF01u);
  EXPECT_FALSE(p.has_ipv6_extensions);  // a lone fragment header does not count
  EXPECT_EQ(p.l4_offset, 14 + 40 + 8);
  expect_key(p.key, kClient6, 7, kVip6, 53, kIpProtoUdp);
}

TEST(ParseIpv6, NonFirstFragmentStopsTheChain) {
  const auto frame = build_frame({
      .ip = Ipv6Spec{.src = kClient6,
                     .dst = kVip6,
                     .extensions = {hop_by_hop(), fragment_header(1232, false, 42)}},
      .l4 = RawL4{.protocol = kIpProtoTcp},
      .payload = ByteBuffer(13, std::byte{0xFF}),
  });
  const ParsedPacket p = parse_ok(frame);
  EXPECT_EQ(p.fragment, FragmentKind::non_first);
  EXPECT_EQ(p.fragment_id, 42u);
  EXPECT_TRUE(p.has_ipv6_extensions);
  EXPECT_EQ(p.l4_offset, 14 + 40 + 16);
  EXPECT_EQ(p.payload_offset, p.l4_offset);
  EXPECT_EQ(p.payload_length, 13);
  expect_key(p.key, kClient6, 0, kVip6, 0, kIpProtoTcp);
}

TEST(ParseIpv6, AtomicFragmentIsNotAFragment) {
  const auto frame = build_frame({
      .ip = Ipv6Spec{.extensions = {fragment_header(0, false, 5)}},
      .l4 = TcpSpec{.src_port = 1000, .dst_port = 22},
  });
  const ParsedPacket p = parse_ok(frame);
  EXPECT_EQ(p.fragment, FragmentKind::none);
  EXPECT_EQ(p.key.src_port, 1000);
  EXPECT_EQ(p.key.dst_port, 22);
}

TEST(ParseIpv6, NoNextHeaderEndsTheChain) {
  const auto frame = build_frame({
      .ip = Ipv6Spec{.extensions = {destination_options()}},
      .l4 = RawL4{.protocol = kIpProtoNoNextHeader},
  });
  const ParsedPacket p = parse_ok(frame);
  EXPECT_EQ(p.key.protocol, kIpProtoNoNextHeader);
  EXPECT_EQ(p.l4_offset, 14 + 48);
  EXPECT_EQ(p.payload_length, 0);
}

TEST(ParseIcmp, EchoRequestAndReplyV4) {
  const auto request = build_frame({
      .ip = Ipv4Spec{.src = kClient4, .dst = kVip4},
      .l4 = icmp_echo_request(0x1234, 7),
      .payload = bytes_of("ping"),
  });
  const ParsedPacket p = parse_ok(request);
  EXPECT_EQ(p.icmp.type, kIcmpEchoRequest);
  EXPECT_TRUE(p.icmp.is_echo_request);
  EXPECT_FALSE(p.icmp.is_error);
  EXPECT_EQ(p.icmp.echo_identifier, 0x1234);
  EXPECT_EQ(p.payload_offset, 42);
  EXPECT_EQ(p.payload_length, 4);
  expect_key(p.key, kClient4, 0, kVip4, 0, kIpProtoIcmp);

  const ParsedPacket r = parse_ok(build_frame({.l4 = icmp_echo_reply(0x4321, 1)}));
  EXPECT_EQ(r.icmp.type, kIcmpEchoReply);
  EXPECT_FALSE(r.icmp.is_echo_request);
  EXPECT_EQ(r.icmp.echo_identifier, 0x4321);
}

TEST(ParseIcmp, EchoRequestV6) {
  const auto frame = build_frame({
      .ip = Ipv6Spec{.src = kClient6, .dst = kVip6},
      .l4 = icmp_echo_request(99, 1),
  });
  const ParsedPacket p = parse_ok(frame);
  EXPECT_EQ(p.icmp.type, kIcmp6EchoRequest);
  EXPECT_TRUE(p.icmp.is_echo_request);
  EXPECT_EQ(p.icmp.echo_identifier, 99);
  expect_key(p.key, kClient6, 0, kVip6, 0, kIpProtoIcmpv6);
}

TEST(ParseIcmp, FragNeededNamesTheVipFlowAndMtu) {
  // A router could not forward a backend->client reply (sent from the VIP, DSR) of 1500 bytes.
  const PacketSpec reply{
      .ip = Ipv4Spec{.src = kVip4, .dst = kClient4, .dont_fragment = true},
      .l4 = TcpSpec{.src_port = 443, .dst_port = 40001, .flags = kTcpAck},
      .payload = ByteBuffer(1460, std::byte{0}),
  };
  const auto frame = build_frame({
      .ip = Ipv4Spec{.src = kRouter4, .dst = kVip4},
      .l4 = icmp_frag_needed(1400, quote(reply)),
  });
  const ParsedPacket p = parse_ok(frame);
  EXPECT_TRUE(p.icmp.is_error);
  EXPECT_FALSE(p.icmp.is_echo_request);
  EXPECT_EQ(p.icmp.type, kIcmpDestUnreachable);
  EXPECT_EQ(p.icmp.code, kIcmpCodeFragNeeded);
  EXPECT_EQ(p.icmp.mtu, 1400u);
  EXPECT_EQ(p.icmp.embedded_offset, 14 + 20 + 8);
  expect_key(p.key, kRouter4, 0, kVip4, 0, kIpProtoIcmp);
  expect_key(p.icmp.embedded, kVip4, 443, kClient4, 40001, kIpProtoTcp);
}

TEST(ParseIcmp, OtherV4ErrorsCarryTheEmbeddedTupleButNoMtu) {
  const PacketSpec udp{.ip = Ipv4Spec{.src = kVip4, .dst = kClient4},
                       .l4 = UdpSpec{.src_port = 53, .dst_port = 3333}};
  const std::pair<std::uint8_t, std::uint8_t> errors[] = {
      {kIcmpDestUnreachable, 3}, {kIcmpTimeExceeded, 0}, {kIcmpParamProblem, 0}};
  for (const auto& [type, code] : errors) {
    const auto frame = build_frame({.l4 = icmp_error(type, code, quote(udp), 0xFFFFFFFF)});
    const ParsedPacket p = parse_ok(frame);
    EXPECT_TRUE(p.icmp.is_error) << int{type};
    EXPECT_EQ(p.icmp.mtu, 0u) << int{type};
    expect_key(p.icmp.embedded, kVip4, 53, kClient4, 3333, kIpProtoUdp);
  }
  // Not errors: redirect, router advertisement.
  for (std::uint8_t type : {5, 9}) {
    const ParsedPacket p = parse_ok(build_frame({.l4 = icmp_error(type, 0, quote(udp))}));
    EXPECT_FALSE(p.icmp.is_error) << int{type};
    EXPECT_EQ(p.icmp.embedded, FlowKey{});
  }
}

TEST(ParseIcmp, QuotedPacketWithOptionsAndFullLengthFields) {
  const PacketSpec original{
      .ip = Ipv4Spec{.src = kVip4, .dst = kClient4, .options = ByteBuffer(8, std::byte{1})},
      .l4 = TcpSpec{.src_port = 80, .dst_port = 50000},
      .payload = ByteBuffer(1000, std::byte{0}),
  };
  const auto frame = build_frame({.l4 = icmp_frag_needed(576, quote(original, 8))});
  const ParsedPacket p = parse_ok(frame);
  expect_key(p.icmp.embedded, kVip4, 80, kClient4, 50000, kIpProtoTcp);
  EXPECT_EQ(p.icmp.mtu, 576u);

  // Routers may quote the whole packet; trailing quoted bytes are fine too.
  const auto whole = build_frame({.l4 = icmp_frag_needed(576, build_packet(original))});
  expect_key(parse_ok(whole).icmp.embedded, kVip4, 80, kClient4, 50000, kIpProtoTcp);
}

TEST(ParseIcmp, QuotedNonFirstFragmentNeedsNoL4Bytes) {
  const PacketSpec fragment{
      .ip = Ipv4Spec{.src = kVip4, .dst = kClient4, .fragment_offset = 1480},
      .l4 = RawL4{.protocol = kIpProtoUdp},
      .payload = ByteBuffer(8, std::byte{0xEE}),
  };
  const auto frame = build_frame({.l4 = icmp_error(kIcmpTimeExceeded, 1, quote(fragment, 0))});
  const ParsedPacket p = parse_ok(frame);
  expect_key(p.icmp.embedded, kVip4, 0, kClient4, 0, kIpProtoUdp);
}

TEST(ParseIcmp, QuotedIcmpEchoHasNoPorts) {
  const PacketSpec echo{.ip = Ipv4Spec{.src = kVip4, .dst = kClient4}, .l4 = icmp_echo_reply(5, 5)};
  const ParsedPacket p =
      parse_ok(build_frame({.l4 = icmp_error(kIcmpDestUnreachable, 1, quote(echo))}));
  expect_key(p.icmp.embedded, kVip4, 0, kClient4, 0, kIpProtoIcmp);
}

TEST(ParseIcmp, PacketTooBigV6NamesTheVipFlowAndMtu) {
  const PacketSpec reply{
      .ip = Ipv6Spec{.src = kVip6, .dst = kClient6},
      .l4 = TcpSpec{.src_port = 443, .dst_port = 50001, .flags = kTcpAck},
      .payload = ByteBuffer(1400, std::byte{0}),
  };
  const auto frame = build_frame({
      .ip = Ipv6Spec{.src = kRouter6, .dst = kVip6},
      .l4 = icmp6_packet_too_big(1280, quote(reply)),
  });
  const ParsedPacket p = parse_ok(frame);
  EXPECT_TRUE(p.icmp.is_error);
  EXPECT_EQ(p.icmp.type, kIcmp6PacketTooBig);
  EXPECT_EQ(p.icmp.mtu, 1280u);
  EXPECT_EQ(p.icmp.embedded_offset, 14 + 40 + 8);
  expect_key(p.key, kRouter6, 0, kVip6, 0, kIpProtoIcmpv6);
  expect_key(p.icmp.embedded, kVip6, 443, kClient6, 50001, kIpProtoTcp);
}

TEST(ParseIcmp, V6ErrorsFollowTheQuotedExtensionChain) {
  const PacketSpec udp{
      .ip =
          Ipv6Spec{
              .src = kVip6, .dst = kClient6, .extensions = {hop_by_hop(), destination_options(16)}},
      .l4 = UdpSpec{.src_port = 53, .dst_port = 6000},
      .payload = ByteBuffer(500, std::byte{0}),
  };
  for (std::uint8_t type : {kIcmp6DestUnreachable, kIcmp6TimeExceeded, kIcmp6ParamProblem}) {
    const auto frame = build_frame({.ip = Ipv6Spec{}, .l4 = icmp_error(type, 0, quote(udp))});
    const ParsedPacket p = parse_ok(frame);
    EXPECT_TRUE(p.icmp.is_error) << int{type};
    EXPECT_EQ(p.icmp.mtu, 0u);
    expect_key(p.icmp.embedded, kVip6, 53, kClient6, 6000, kIpProtoUdp);
  }
  // Neighbour solicitation is neither echo nor error.
  const ParsedPacket ns =
      parse_ok(build_frame({.ip = Ipv6Spec{}, .l4 = icmp_error(135, 0, ByteBuffer(16))}));
  EXPECT_FALSE(ns.icmp.is_error);
  EXPECT_FALSE(ns.icmp.is_echo_request);
  EXPECT_EQ(ns.icmp.type, 135);
}

TEST(ParseIcmp, QuotedV6NonFirstFragment) {
  const PacketSpec fragment{
      .ip = Ipv6Spec{.src = kVip6, .dst = kClient6, .extensions = {fragment_header(2000, true, 9)}},
      .l4 = RawL4{.protocol = kIpProtoTcp},
  };
  const auto frame =
      build_frame({.ip = Ipv6Spec{}, .l4 = icmp_error(kIcmp6TimeExceeded, 1, quote(fragment, 0))});
  expect_key(parse_ok(frame).icmp.embedded, kVip6, 0, kClient6, 0, kIpProtoTcp);
}

TEST(ParseIcmp, IcmpOfTheOtherFamilyIsJustAProtocol) {
  // ICMPv6 inside IPv4 and ICMPv4 inside IPv6 are not ICMP to Sluice.
  const auto v4 = build_frame({.l4 = RawL4{.protocol = kIpProtoIcmpv6}, .payload = ByteBuffer(2)});
  const ParsedPacket p = parse_ok(v4);
  EXPECT_EQ(p.key.protocol, kIpProtoIcmpv6);
  EXPECT_EQ(p.icmp, IcmpInfo{});
  const auto v6 = build_frame(
      {.ip = Ipv6Spec{}, .l4 = RawL4{.protocol = kIpProtoIcmp}, .payload = ByteBuffer(2)});
  EXPECT_EQ(parse_ok(v6).icmp, IcmpInfo{});
}

TEST(ParseIcmp, FirstFragmentOfAnIcmpErrorIsParsed) {
  const PacketSpec tcp{.ip = Ipv4Spec{.src = kVip4, .dst = kClient4},
                       .l4 = TcpSpec{.src_port = 1, .dst_port = 2}};
  const auto frame = build_frame({
      .ip = Ipv4Spec{.more_fragments = true},
      .l4 = icmp_error(kIcmpTimeExceeded, 0, quote(tcp, 20)),  // 8 + 40 bytes: a multiple of 8
  });
  const ParsedPacket p = parse_ok(frame);
  EXPECT_EQ(p.fragment, FragmentKind::first);
  expect_key(p.icmp.embedded, kVip4, 1, kClient4, 2, kIpProtoTcp);
}

TEST(Parse, ReparsingIsDeterministicAndIgnoresStaleState) {
  const auto frame = build_frame({.ip = Ipv6Spec{}, .l4 = TcpSpec{}});
  const ParseResult a = parse(frame);
  const ParseResult b = parse(frame);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.packet, b.packet);
}

}  // namespace
}  // namespace sluice::net

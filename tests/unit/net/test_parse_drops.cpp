// Every malformed case gives exactly the expected drop reason, and every reason the parser can
// return is produced by at least one case here.
#include <gtest/gtest.h>

#include <cctype>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "sluice/net/builder.hpp"
#include "sluice/net/parse.hpp"

namespace sluice::net {
namespace {

struct DropCase {
  std::string name;
  ByteBuffer frame;
  DropReason expected;
};

void PrintTo(const DropCase& c, std::ostream* os) {
  *os << c.name;
}

// Reasons before the "Dataplane decisions" section belong to the parsers.
constexpr auto kFirstDataplaneReason = DropReason::no_backend;

ByteBuffer v4_quote_with_l4_bytes(std::size_t l4_bytes) {
  return quote({.ip = Ipv4Spec{}, .l4 = TcpSpec{}}, l4_bytes);
}

std::vector<DropCase> drop_cases() {
  const ByteBuffer tcp_v4 = build_frame({.l4 = TcpSpec{}});
  std::vector<DropCase> c;
  auto add = [&c](std::string name, ByteBuffer frame, DropReason reason) {
    c.push_back({std::move(name), std::move(frame), reason});
  };

  // Layer 2.
  add("empty frame", {}, DropReason::l2_truncated);
  add("13-byte frame", build_frame({.truncate_to = 13}), DropReason::l2_truncated);
  add("vlan tag cut short", build_frame({.ethernet = {.vlan_tci = 1}, .truncate_to = 17}),
      DropReason::l2_truncated);
  add("two 802.1Q tags", build_frame({.ethernet = {.vlan_tci = 1, .second_vlan_tci = 2}}),
      DropReason::l2_double_vlan);
  add("802.1ad then 802.1Q",
      build_frame({.ethernet = {.vlan_tci = 1, .second_vlan_tci = 2, .vlan_tpid = kEtherTypeQinQ}}),
      DropReason::l2_double_vlan);
  add("frame over 64 KiB", build_frame({.ip = NoIp{}, .payload = ByteBuffer(65536 - 14 + 1)}),
      DropReason::l2_too_long);

  // IPv4.
  add("ipv4 header cut at 19 bytes", build_frame({.truncate_to = 14 + 19}),
      DropReason::ipv4_truncated);
  add("ipv4 ethertype, version 6", build_frame({.ip = Ipv4Spec{.version = 6}}),
      DropReason::ipv4_bad_version);
  add("ipv4 ethertype carrying ipv6",
      build_frame({.ethernet = {.ethertype = kEtherTypeIpv4}, .ip = Ipv6Spec{}}),
      DropReason::ipv4_bad_version);
  add("ihl 4", build_frame({.ip = Ipv4Spec{.ihl = 4}}), DropReason::ipv4_bad_ihl);
  add("ihl 0", build_frame({.ip = Ipv4Spec{.ihl = 0}, .l4 = RawL4{}}), DropReason::ipv4_bad_ihl);
  add("ihl 15 beyond frame", build_frame({.ip = Ipv4Spec{.ihl = 15}, .l4 = RawL4{}}),
      DropReason::ipv4_bad_ihl);
  add("total length 19", build_frame({.ip = Ipv4Spec{.total_length = 19}}),
      DropReason::ipv4_bad_total_length);
  add("total length inside options",
      build_frame({.ip = Ipv4Spec{.options = ByteBuffer(8), .total_length = 24}, .l4 = RawL4{}}),
      DropReason::ipv4_bad_total_length);
  add("total length past frame", build_frame({.ip = Ipv4Spec{.total_length = 41}}),
      DropReason::ipv4_bad_total_length);
  add("frame cut inside payload", build_frame({.payload = ByteBuffer(10), .truncate_to = 60}),
      DropReason::ipv4_bad_total_length);
  add("MF fragment of 7 bytes",
      build_frame({.ip = Ipv4Spec{.more_fragments = true, .fragment_offset = 8 * 10},
                   .l4 = RawL4{.protocol = kIpProtoUdp},
                   .payload = ByteBuffer(7)}),
      DropReason::ipv4_bad_fragment);
  add("MF fragment with no data",
      build_frame({.ip = Ipv4Spec{.more_fragments = true, .fragment_offset = 16}, .l4 = RawL4{}}),
      DropReason::ipv4_bad_fragment);
  add("fragment reassembles past 64 KiB",
      build_frame({.ip = Ipv4Spec{.fragment_offset = 65528},
                   .l4 = RawL4{.protocol = kIpProtoUdp},
                   .payload = ByteBuffer(8)}),
      DropReason::ipv4_bad_fragment);
  add("TCP fragment at offset 8 (RFC 1858)",
      build_frame({.ip = Ipv4Spec{.fragment_offset = 8}, .l4 = RawL4{}, .payload = ByteBuffer(12)}),
      DropReason::ipv4_bad_fragment);

  // IPv6.
  add("ipv6 header cut at 39 bytes", build_frame({.ip = Ipv6Spec{}, .truncate_to = 14 + 39}),
      DropReason::ipv6_truncated);
  add("ipv6 ethertype, version 4", build_frame({.ip = Ipv6Spec{.version = 4}}),
      DropReason::ipv6_bad_version);
  add("ipv6 ethertype carrying ipv4", build_frame({.ethernet = {.ethertype = kEtherTypeIpv6}}),
      DropReason::ipv6_bad_version);
  add("payload length past frame", build_frame({.ip = Ipv6Spec{.payload_length = 21}}),
      DropReason::ipv6_bad_payload_length);
  add("ipv6 frame cut inside payload", build_frame({.ip = Ipv6Spec{}, .truncate_to = 14 + 50}),
      DropReason::ipv6_bad_payload_length);
  add("hop-by-hop length past payload",
      build_frame({.ip = Ipv6Spec{.extensions = {Ipv6Extension{.type = kIpProtoHopByHop,
                                                               .length_field = 3}}}}),
      DropReason::ipv6_ext_truncated);
  add("routing header cut by payload length",
      build_frame({.ip = Ipv6Spec{.extensions = {routing_header()}, .payload_length = 4},
                   .l4 = RawL4{},
                   .padding = 40}),
      DropReason::ipv6_ext_truncated);
  add("fragment header cut by payload length",
      build_frame({.ip = Ipv6Spec{.extensions = {fragment_header(0, true, 1)}, .payload_length = 7},
                   .l4 = RawL4{}}),
      DropReason::ipv6_ext_truncated);
  {
    std::vector<Ipv6Extension> chain = {hop_by_hop()};
    while (chain.size() <= static_cast<std::size_t>(kMaxIpv6ExtensionHeaders)) {
      chain.push_back(destination_options());
    }
    add("chain one header too long", build_frame({.ip = Ipv6Spec{.extensions = chain}}),
        DropReason::ipv6_ext_chain_too_long);
  }
  add("two fragment headers",
      build_frame(
          {.ip = Ipv6Spec{.extensions = {fragment_header(0, true, 1), fragment_header(0, true, 1)}},
           .l4 = UdpSpec{},
           .payload = ByteBuffer(8)}),
      DropReason::ipv6_bad_fragment);
  add("ipv6 MF fragment of 12 bytes",
      build_frame({.ip = Ipv6Spec{.extensions = {fragment_header(1232, true, 1)}},
                   .l4 = RawL4{.protocol = kIpProtoUdp},
                   .payload = ByteBuffer(12)}),
      DropReason::ipv6_bad_fragment);
  add("ipv6 fragment reassembles past 64 KiB",
      build_frame({.ip = Ipv6Spec{.extensions = {fragment_header(65528, false, 1)}},
                   .l4 = RawL4{.protocol = kIpProtoUdp},
                   .payload = ByteBuffer(16)}),
      DropReason::ipv6_bad_fragment);
  add("hop-by-hop after destination options",
      build_frame({.ip = Ipv6Spec{.extensions = {destination_options(), hop_by_hop()}}}),
      DropReason::ipv6_misplaced_hop_by_hop);

  // TCP.
  add("tcp header of 19 bytes",
      build_frame({.l4 = RawL4{.protocol = kIpProtoTcp}, .payload = ByteBuffer(19), .padding = 20}),
      DropReason::tcp_truncated);
  add("ipv6 tcp header of 0 bytes", build_frame({.ip = Ipv6Spec{}, .l4 = RawL4{}}),
      DropReason::tcp_truncated);
  add("tiny first fragment",
      build_frame(
          {.ip = Ipv4Spec{.more_fragments = true}, .l4 = RawL4{}, .payload = ByteBuffer(16)}),
      DropReason::tcp_truncated);
  add("data offset 4", build_frame({.l4 = TcpSpec{.data_offset = 4}}),
      DropReason::tcp_bad_data_offset);
  add("data offset past ip payload", build_frame({.l4 = TcpSpec{.data_offset = 6}, .padding = 10}),
      DropReason::tcp_bad_data_offset);
  add("data offset 15 on a 20-byte header",
      build_frame({.ip = Ipv6Spec{}, .l4 = TcpSpec{.data_offset = 15}, .payload = ByteBuffer(30)}),
      DropReason::tcp_bad_data_offset);

  // UDP.
  add("udp header of 7 bytes",
      build_frame({.l4 = RawL4{.protocol = kIpProtoUdp}, .payload = ByteBuffer(7)}),
      DropReason::udp_truncated);
  add("udp length 7", build_frame({.l4 = UdpSpec{.length = 7}, .payload = ByteBuffer(4)}),
      DropReason::udp_bad_length);
  add("udp length past ip payload",
      build_frame({.ip = Ipv6Spec{}, .l4 = UdpSpec{.length = 13}, .payload = ByteBuffer(4)}),
      DropReason::udp_bad_length);
  add("udp length 0 (no jumbograms)", build_frame({.ip = Ipv6Spec{}, .l4 = UdpSpec{.length = 0}}),
      DropReason::udp_bad_length);

  // ICMP.
  add("icmp header of 7 bytes",
      build_frame({.l4 = RawL4{.protocol = kIpProtoIcmp}, .payload = ByteBuffer(7)}),
      DropReason::icmp_truncated);
  add("icmpv6 header of 4 bytes",
      build_frame(
          {.ip = Ipv6Spec{}, .l4 = RawL4{.protocol = kIpProtoIcmpv6}, .payload = ByteBuffer(4)}),
      DropReason::icmp_truncated);
  add("icmp error quoting nothing", build_frame({.l4 = icmp_frag_needed(1400, {})}),
      DropReason::icmp_inner_malformed);
  add("icmp error quoting 7 l4 bytes",
      build_frame({.l4 = icmp_frag_needed(1400, v4_quote_with_l4_bytes(7))}),
      DropReason::icmp_inner_malformed);
  {
    ByteBuffer short_header = v4_quote_with_l4_bytes(0);
    short_header.pop_back();
    add("icmp error quoting 19 ip bytes",
        build_frame({.l4 = icmp_error(kIcmpTimeExceeded, 0, short_header)}),
        DropReason::icmp_inner_malformed);
  }
  add("icmp error quoting ihl 4",
      build_frame({.l4 = icmp_error(kIcmpDestUnreachable, 1,
                                    quote({.ip = Ipv4Spec{.ihl = 4}, .l4 = TcpSpec{}}))}),
      DropReason::icmp_inner_malformed);
  add("icmp error quoting ihl 6 without its options",
      build_frame({.l4 = icmp_error(kIcmpDestUnreachable, 1,
                                    quote({.ip = Ipv4Spec{.ihl = 6}, .l4 = TcpSpec{}}, 2))}),
      DropReason::icmp_inner_malformed);
  add("icmp error quoting total length below ihl",
      build_frame({.l4 = icmp_error(kIcmpDestUnreachable, 1,
                                    quote({.ip = Ipv4Spec{.total_length = 12}, .l4 = TcpSpec{}}))}),
      DropReason::icmp_inner_malformed);
  add("icmp error quoting ipv6",
      build_frame(
          {.l4 = icmp_error(kIcmpTimeExceeded, 0, quote({.ip = Ipv6Spec{}, .l4 = UdpSpec{}}))}),
      DropReason::icmp_inner_malformed);
  add("icmpv6 error quoting ipv4",
      build_frame({.ip = Ipv6Spec{},
                   .l4 = icmp6_packet_too_big(1280, quote({.ip = Ipv4Spec{}, .l4 = UdpSpec{}}))}),
      DropReason::icmp_inner_malformed);
  add("icmpv6 error quoting 40 bytes",
      build_frame(
          {.ip = Ipv6Spec{},
           .l4 = icmp6_packet_too_big(1280, quote({.ip = Ipv6Spec{}, .l4 = UdpSpec{}}, 0))}),
      DropReason::icmp_inner_malformed);
  {
    ByteBuffer cut_chain =
        quote({.ip = Ipv6Spec{.extensions = {destination_options(32)}}, .l4 = UdpSpec{}}, 0);
    cut_chain.resize(40 + 16);  // half of the 32-byte destination options header
    add("icmpv6 error quoting a cut extension chain",
        build_frame({.ip = Ipv6Spec{}, .l4 = icmp_error(kIcmp6DestUnreachable, 4, cut_chain)}),
        DropReason::icmp_inner_malformed);
  }
  add("icmpv6 error quoting a misplaced hop-by-hop",
      build_frame({.ip = Ipv6Spec{},
                   .l4 = icmp_error(
                       kIcmp6ParamProblem, 1,
                       quote({.ip = Ipv6Spec{.extensions = {destination_options(), hop_by_hop()}},
                              .l4 = UdpSpec{}}))}),
      DropReason::icmp_inner_malformed);

  return c;
}

class ParseDrops : public ::testing::TestWithParam<DropCase> {};

TEST_P(ParseDrops, GivesTheExpectedReason) {
  const DropCase& dc = GetParam();
  const ParseResult result = parse(dc.frame);
  ASSERT_FALSE(result.ok()) << dc.name << ": parsed, expected " << name_of(dc.expected);
  EXPECT_EQ(name_of(*result.drop), name_of(dc.expected)) << dc.name;
}

INSTANTIATE_TEST_SUITE_P(Cases, ParseDrops, ::testing::ValuesIn(drop_cases()),
                         [](const ::testing::TestParamInfo<DropCase>& info) {
                           std::string id = std::to_string(info.index) + "_";
                           for (char ch : info.param.name) {
                             id += (std::isalnum(static_cast<unsigned char>(ch)) != 0) ? ch : '_';
                           }
                           return id;
                         });

TEST(ParseDropCoverage, EveryParserReasonHasACase) {
  std::set<DropReason> covered;
  for (const DropCase& dc : drop_cases())
    covered.insert(dc.expected);
  for (std::size_t i = 0; i < static_cast<std::size_t>(kFirstDataplaneReason); ++i) {
    const auto reason = static_cast<DropReason>(i);
    EXPECT_TRUE(covered.contains(reason)) << "no test input produces " << name_of(reason);
  }
}

TEST(ParseDropCoverage, ParserNeverReturnsADataplaneReason) {
  for (const DropCase& dc : drop_cases()) {
    const ParseResult result = parse(dc.frame);
    if (result.drop) {
      EXPECT_LT(*result.drop, kFirstDataplaneReason) << dc.name;
    }
  }
}

// Every prefix of a valid frame is either a valid (shorter) frame or one precise drop; the
// parser never reads past the span (checked under ASan by the fuzzer, here by the outcome).
TEST(ParseDropCoverage, EveryTruncationOfValidFramesIsHandled) {
  const PacketSpec quoted{.ip = Ipv6Spec{.extensions = {hop_by_hop()}}, .l4 = TcpSpec{}};
  const std::vector<ByteBuffer> frames = {
      build_frame({.ethernet = {.vlan_tci = 3},
                   .ip = Ipv4Spec{.options = ByteBuffer(4)},
                   .l4 = TcpSpec{.options = ByteBuffer(4)},
                   .payload = bytes_of("data")}),
      build_frame({.ip = Ipv6Spec{.extensions = {hop_by_hop(), fragment_header(0, true, 3)}},
                   .l4 = UdpSpec{},
                   .payload = ByteBuffer(8)}),
      build_frame({.ip = Ipv6Spec{}, .l4 = icmp6_packet_too_big(1280, quote(quoted))}),
  };
  for (const ByteBuffer& frame : frames) {
    ASSERT_TRUE(parse(frame).ok());
    for (std::size_t n = 0; n < frame.size(); ++n) {
      const ParseResult r = parse(std::span(frame).first(n));
      ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes parsed";
      EXPECT_LT(*r.drop, kFirstDataplaneReason);
    }
  }
}

}  // namespace
}  // namespace sluice::net

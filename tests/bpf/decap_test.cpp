// Golden tests of bpf/decap.bpf.c through BPF_PROG_TEST_RUN: each case is an input frame, the
// exact output frame (the inner packet under the same MACs) and the counter that must move.
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <unistd.h>

#include "loader/decap_program.hpp"
#include "sluice/net/builder.hpp"
#include "xdp_test_run.hpp"

namespace sluice::bpf {
namespace {

using net::address;
using net::build_frame;
using net::build_packet;
using net::ByteBuffer;
using testing::from_hex;
using testing::run_xdp;
using testing::to_hex;
using testing::XdpRun;

const net::EthernetSpec kEthernet{.dst = {0x02, 0x00, 0x00, 0x00, 0x03, 0x0b},
                                  .src = {0x02, 0x00, 0x00, 0x00, 0x02, 0x02}};
const net::EthernetSpec kTagged{.dst = kEthernet.dst, .src = kEthernet.src, .vlan_tci = 100};

// The client's packets as the backend must finally see them.
net::PacketSpec inner_v4() {
  return {.ip = net::Ipv4Spec{.src = address("198.18.1.2"), .dst = address("198.18.0.10")},
          .l4 = net::TcpSpec{.src_port = 40001, .dst_port = 80, .seq = 77},
          .payload = net::bytes_of("GET / HTTP/1.0\r\n\r\n")};
}
net::PacketSpec inner_v6() {
  return {.ip = net::Ipv6Spec{.src = address("2001:db8:1::2"), .dst = address("2001:db8::10")},
          .l4 = net::UdpSpec{.src_port = 40002, .dst_port = 7},
          .payload = net::bytes_of("ping")};
}

net::Ipv4Spec outer_v4(std::string_view dst = "198.18.3.11") {
  return {.src = address("198.18.2.2"), .dst = address(dst)};
}
net::Ipv6Spec outer_v6(std::string_view dst = "2001:db8:3::11") {
  return {.src = address("2001:db8:2::2"), .dst = address(dst)};
}

// The frame the program must leave: the inner packet under the original L2 header.
ByteBuffer expected_inner_frame(const net::PacketSpec& inner,
                                const net::EthernetSpec& ethernet = kEthernet) {
  return build_frame(
      {.ethernet = ethernet, .ip = inner.ip, .l4 = inner.l4, .payload = inner.payload});
}

ByteBuffer ip_in_ip(const net::IpSpec& outer, const net::PacketSpec& inner, std::uint8_t protocol,
                    const net::EthernetSpec& ethernet = kEthernet) {
  return build_frame({.ethernet = ethernet,
                      .ip = outer,
                      .l4 = net::RawL4{.protocol = protocol},
                      .payload = build_packet(inner)});
}

ByteBuffer gue(const net::IpSpec& outer, const net::PacketSpec& inner, ByteBuffer gue_header,
               std::uint16_t port = kDefaultGuePort) {
  return build_frame({.ethernet = kEthernet,
                      .ip = outer,
                      .l4 = net::UdpSpec{.src_port = 51234, .dst_port = port},
                      .payload = net::concat(gue_header, build_packet(inner))});
}

class DecapTest : public ::testing::Test {
 protected:
  void load(DecapOptions options = {}) {
    auto loaded = DecapProgram::load(options);
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    program_.emplace(std::move(*loaded));
  }
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "loading BPF programs needs root";
    load();
  }

  XdpRun run(const ByteBuffer& frame) { return run_xdp(program_->program_fd(), frame); }

  // The packet count of every outcome; exactly `moved` must have moved, by one.
  void expect_only_counter(int moved, std::uint64_t bytes) {
    auto counters = program_->counters();
    ASSERT_TRUE(counters.ok()) << counters.error().message;
    for (int i = 0; i < SLUICE_DECAP_OUTCOME_COUNT; ++i) {
      EXPECT_EQ((*counters)[i].packets, i == moved ? 1u : 0u) << kDecapOutcomes[i].name;
      if (i == moved) {
        EXPECT_EQ((*counters)[i].bytes, bytes) << kDecapOutcomes[i].name;
      }
    }
  }

  void expect_decap(const ByteBuffer& input, const ByteBuffer& expected, int outcome) {
    const XdpRun result = run(input);
    EXPECT_EQ(result.action, XDP_PASS);
    EXPECT_EQ(to_hex(result.output), to_hex(expected));
    expect_only_counter(outcome, input.size());
  }
  void expect_unchanged(const ByteBuffer& input, int outcome) {
    expect_decap(input, input, outcome);
  }
  void expect_drop(const ByteBuffer& input, int outcome) {
    EXPECT_EQ(run(input).action, XDP_DROP);
    expect_only_counter(outcome, input.size());
  }

  std::optional<DecapProgram> program_;
};

// Independent of our builder: both frames were written by scapy.
TEST_F(DecapTest, IpipMatchesScapyGoldenBytes) {
  const ByteBuffer input = from_hex(
      "02000000000202000000000108004500003c000000004004e98cc6120202c612030b45000028000000004006ed"
      "9fc6120102c612000a9c40005000000001000000005002ffff86200000");
  const ByteBuffer expected = from_hex(
      "020000000002020000000001080045000028000000004006ed9fc6120102c612000a9c400050000000010000"
      "00005002ffff86200000");
  expect_decap(input, expected, SLUICE_DECAP_decap_ipip);
}

TEST_F(DecapTest, Ipip) {
  expect_decap(ip_in_ip(outer_v4(), inner_v4(), net::kIpProtoIpip),
               expected_inner_frame(inner_v4()), SLUICE_DECAP_decap_ipip);
}

TEST_F(DecapTest, SixInFourRewritesEthertype) {
  expect_decap(ip_in_ip(outer_v4(), inner_v6(), net::kIpProtoIpv6),
               expected_inner_frame(inner_v6()), SLUICE_DECAP_decap_6in4);
}

TEST_F(DecapTest, Ip6ip6) {
  expect_decap(ip_in_ip(outer_v6(), inner_v6(), net::kIpProtoIpv6),
               expected_inner_frame(inner_v6()), SLUICE_DECAP_decap_ip6ip6);
}

TEST_F(DecapTest, FourInSixRewritesEthertype) {
  expect_decap(ip_in_ip(outer_v6(), inner_v4(), net::kIpProtoIpip),
               expected_inner_frame(inner_v4()), SLUICE_DECAP_decap_4in6);
}

TEST_F(DecapTest, GueInnerV4) {
  expect_decap(gue(outer_v4(), inner_v4(), net::gue_header(net::kIpProtoIpip)),
               expected_inner_frame(inner_v4()), SLUICE_DECAP_decap_gue_v4);
}

TEST_F(DecapTest, GueInnerV6OverV4) {
  expect_decap(gue(outer_v4(), inner_v6(), net::gue_header(net::kIpProtoIpv6)),
               expected_inner_frame(inner_v6()), SLUICE_DECAP_decap_gue_v6);
}

TEST_F(DecapTest, GueOverV6SkipsExtensionWords) {
  expect_decap(gue(outer_v6(), inner_v6(), net::gue_header(net::kIpProtoIpv6, 2)),
               expected_inner_frame(inner_v6()), SLUICE_DECAP_decap_gue_v6);
}

TEST_F(DecapTest, GueVariantOneCarriesIpDirectly) {
  expect_decap(gue(outer_v6(), inner_v4(), {}), expected_inner_frame(inner_v4()),
               SLUICE_DECAP_decap_gue_v4);
}

TEST_F(DecapTest, VlanTagIsKeptAndItsEthertypeRewritten) {
  expect_decap(ip_in_ip(outer_v6(), inner_v4(), net::kIpProtoIpip, kTagged),
               expected_inner_frame(inner_v4(), kTagged), SLUICE_DECAP_decap_4in6);
}

TEST_F(DecapTest, EthernetPaddingAfterTheOuterPacketStaysBehindTheInner) {
  ByteBuffer input = ip_in_ip(outer_v4(), inner_v4(), net::kIpProtoIpip);
  ByteBuffer expected = expected_inner_frame(inner_v4());
  for (int i = 0; i < 6; ++i) {
    input.push_back(std::byte{0});
    expected.push_back(std::byte{0});
  }
  expect_decap(input, expected, SLUICE_DECAP_decap_ipip);
}

TEST_F(DecapTest, PlainTcpPassesUnchanged) {
  expect_unchanged(expected_inner_frame(inner_v4()), SLUICE_DECAP_pass_not_tunnel);
}

TEST_F(DecapTest, PlainIpv6UdpPassesUnchanged) {
  expect_unchanged(expected_inner_frame(inner_v6()), SLUICE_DECAP_pass_not_tunnel);
}

TEST_F(DecapTest, UdpToAnotherPortPassesUnchanged) {
  expect_unchanged(gue(outer_v4(), inner_v4(), net::gue_header(net::kIpProtoIpip), 6081),
                   SLUICE_DECAP_pass_not_tunnel);
}

TEST_F(DecapTest, ArpPassesUnchanged) {
  const ByteBuffer arp = build_frame(
      {.ethernet = kEthernet, .ip = net::NoIp{}, .payload = ByteBuffer(28, std::byte{1})});
  expect_unchanged(arp, SLUICE_DECAP_pass_not_tunnel);
}

TEST_F(DecapTest, OuterFragmentPassesToTheKernel) {
  net::Ipv4Spec outer = outer_v4();
  outer.more_fragments = true;
  expect_unchanged(ip_in_ip(outer, inner_v4(), net::kIpProtoIpip),
                   SLUICE_DECAP_pass_outer_fragment);
}

TEST_F(DecapTest, OuterTotalLengthBeyondTheFrameIsMalformed) {
  net::Ipv4Spec outer = outer_v4();
  outer.total_length = 1000;
  expect_drop(ip_in_ip(outer, inner_v4(), net::kIpProtoIpip), SLUICE_DECAP_drop_malformed_outer);
}

TEST_F(DecapTest, OuterIhlBelowFiveIsMalformed) {
  net::Ipv4Spec outer = outer_v4();
  outer.ihl = 4;
  expect_drop(ip_in_ip(outer, inner_v4(), net::kIpProtoIpip), SLUICE_DECAP_drop_malformed_outer);
}

TEST_F(DecapTest, OuterIpv6PayloadLengthBeyondTheFrameIsMalformed) {
  net::Ipv6Spec outer = outer_v6();
  outer.payload_length = 1400;
  expect_drop(ip_in_ip(outer, inner_v6(), net::kIpProtoIpv6), SLUICE_DECAP_drop_malformed_outer);
}

TEST_F(DecapTest, TruncatedGueHeaderIsMalformed) {
  const ByteBuffer input = build_frame({.ethernet = kEthernet,
                                        .ip = outer_v4(),
                                        .l4 = net::UdpSpec{.dst_port = kDefaultGuePort},
                                        .payload = {}});
  expect_drop(input, SLUICE_DECAP_drop_malformed_outer);
}

TEST_F(DecapTest, GueControlMessageIsDropped) {
  expect_drop(gue(outer_v4(), inner_v4(), net::gue_header(0, 0, true)),
              SLUICE_DECAP_drop_gue_unsupported);
}

TEST_F(DecapTest, GueVersionTwoIsMalformed) {
  expect_drop(gue(outer_v4(), inner_v4(), net::gue_header(net::kIpProtoIpip, 0, false, 0, 2)),
              SLUICE_DECAP_drop_malformed_outer);
}

TEST_F(DecapTest, InnerFamilyDifferentFromTheProtocolIsMalformed) {
  expect_drop(ip_in_ip(outer_v4(), inner_v6(), net::kIpProtoIpip),
              SLUICE_DECAP_drop_malformed_inner);
}

TEST_F(DecapTest, InnerLongerThanTheOuterPayloadIsMalformed) {
  net::PacketSpec inner = inner_v4();
  std::get<net::Ipv4Spec>(inner.ip).total_length = 200;
  expect_drop(ip_in_ip(outer_v4(), inner, net::kIpProtoIpip), SLUICE_DECAP_drop_malformed_inner);
}

TEST_F(DecapTest, TruncatedInnerHeaderIsMalformed) {
  const ByteBuffer input = build_frame({.ethernet = kEthernet,
                                        .ip = outer_v4(),
                                        .l4 = net::RawL4{.protocol = net::kIpProtoIpip},
                                        .payload = ByteBuffer(12, std::byte{0x45})});
  expect_drop(input, SLUICE_DECAP_drop_malformed_inner);
}

class DecapTunnelAddressTest : public DecapTest {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "loading BPF programs needs root";
    load({.tunnel_addresses = {address("198.18.3.11"), address("2001:db8:3::11")}});
  }
};

TEST_F(DecapTunnelAddressTest, OwnV4AddressIsDecapsulated) {
  expect_decap(ip_in_ip(outer_v4(), inner_v4(), net::kIpProtoIpip),
               expected_inner_frame(inner_v4()), SLUICE_DECAP_decap_ipip);
}

TEST_F(DecapTunnelAddressTest, OwnV6AddressIsDecapsulated) {
  expect_decap(gue(outer_v6(), inner_v6(), net::gue_header(net::kIpProtoIpv6)),
               expected_inner_frame(inner_v6()), SLUICE_DECAP_decap_gue_v6);
}

TEST_F(DecapTunnelAddressTest, OtherAddressPassesUnchanged) {
  expect_unchanged(ip_in_ip(outer_v4("198.18.3.12"), inner_v4(), net::kIpProtoIpip),
                   SLUICE_DECAP_pass_not_local);
}

TEST_F(DecapTunnelAddressTest, OtherV6AddressPassesUnchanged) {
  expect_unchanged(ip_in_ip(outer_v6("2001:db8:3::12"), inner_v4(), net::kIpProtoIpip),
                   SLUICE_DECAP_pass_not_local);
}

class DecapWithoutGueTest : public DecapTest {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "loading BPF programs needs root";
    load({.gue_port = 0});
  }
};

TEST_F(DecapWithoutGueTest, GueIsLeftAlone) {
  expect_unchanged(gue(outer_v4(), inner_v4(), net::gue_header(net::kIpProtoIpip)),
                   SLUICE_DECAP_pass_not_tunnel);
}

TEST_F(DecapWithoutGueTest, IpipStillWorks) {
  expect_decap(ip_in_ip(outer_v4(), inner_v4(), net::kIpProtoIpip),
               expected_inner_frame(inner_v4()), SLUICE_DECAP_decap_ipip);
}

TEST(DecapOptionsTest, TooManyTunnelAddressesAreRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "loading BPF programs needs root";
  DecapOptions options;
  options.tunnel_addresses.assign(SLUICE_MAX_TUNNEL_ADDRS + 1, address("198.18.3.11"));
  EXPECT_FALSE(DecapProgram::load(options).ok());
}

}  // namespace
}  // namespace sluice::bpf

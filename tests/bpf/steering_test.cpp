// bpf/xsk_steer.bpf.c through BPF_PROG_TEST_RUN: VIP traffic is redirected to the AF_XDP socket
// of its queue, everything else goes to the kernel untouched, one verdict counter per packet.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <vector>

#include "loader/xdp_steering.hpp"
#include "sluice/net/builder.hpp"
#include "xdp_test_run.hpp"

namespace sluice::bpf {
namespace {

using net::address;
using net::build_frame;
using net::ByteBuffer;
using testing::run_xdp;
using testing::to_hex;

constexpr std::uint8_t kTcp = net::kIpProtoTcp;
constexpr std::uint8_t kUdp = net::kIpProtoUdp;
const net::EthernetSpec kEthernet{};

const std::vector<VipKey> kVips = {
    make_vip_key(address("198.18.0.10"), 80, kTcp),
    make_vip_key(address("198.18.0.11"), 0, kUdp),  // every UDP port
    make_vip_key(address("2001:db8::10"), 443, kTcp),
};

ByteBuffer tcp_to(std::string_view dst, std::uint16_t port,
                  const net::EthernetSpec& ethernet = kEthernet) {
  const IpAddress destination = address(dst);
  if (destination.is_v6())
    return build_frame({.ethernet = ethernet,
                        .ip = net::Ipv6Spec{.src = address("2001:db8:1::2"), .dst = destination},
                        .l4 = net::TcpSpec{.dst_port = port}});
  return build_frame({.ethernet = ethernet,
                      .ip = net::Ipv4Spec{.src = address("198.18.1.2"), .dst = destination},
                      .l4 = net::TcpSpec{.dst_port = port}});
}

ByteBuffer udp_to(std::string_view dst, std::uint16_t port) {
  return build_frame({.ethernet = kEthernet,
                      .ip = net::Ipv4Spec{.src = address("198.18.1.2"), .dst = address(dst)},
                      .l4 = net::UdpSpec{.dst_port = port}});
}

// An AF_XDP socket in the XSKMAP at queue 0. It needs no binding to be a map entry, and
// BPF_PROG_TEST_RUN only reports the action, so nothing is delivered to it.
class XskSocket {
 public:
  explicit XskSocket(int xsk_map_fd) : fd_(::socket(AF_XDP, SOCK_RAW, 0)) {
    const std::uint32_t queue = 0;
    const int fd = fd_.get();
    inserted_ = fd >= 0 && bpf_map_update_elem(xsk_map_fd, &queue, &fd, BPF_ANY) == 0;
  }
  [[nodiscard]] bool inserted() const { return inserted_; }

 private:
  UniqueFd fd_;
  bool inserted_ = false;
};

class SteeringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "loading BPF programs needs root";
    auto loaded = XdpSteering::load("");
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    steering_.emplace(std::move(*loaded));
    ASSERT_TRUE(steering_->set_vips(kVips).ok());
    socket_.emplace(steering_->xsk_map_fd());
    ASSERT_TRUE(socket_->inserted());
  }

  // Runs `frame`, expects `action`, an untouched frame, and exactly `verdict` counted once.
  void expect(const ByteBuffer& frame, int action, int verdict) {
    const auto before = steering_->counters();
    ASSERT_TRUE(before.ok());
    const auto run = run_xdp(steering_->program_fd(), frame);
    EXPECT_EQ(run.action, action);
    EXPECT_EQ(to_hex(run.output), to_hex(frame));
    const auto after = steering_->counters();
    ASSERT_TRUE(after.ok());
    for (int i = 0; i < SLUICE_STEER_VERDICT_COUNT; ++i) {
      const std::uint64_t moved = (*after)[i].packets - (*before)[i].packets;
      EXPECT_EQ(moved, i == verdict ? 1u : 0u) << kSteerVerdicts[i].name;
      if (i == verdict) {
        EXPECT_EQ((*after)[i].bytes - (*before)[i].bytes, frame.size());
      }
    }
  }

  std::optional<XdpSteering> steering_;
  std::optional<XskSocket> socket_;
};

TEST_F(SteeringTest, TcpToVipPortIsRedirected) {
  expect(tcp_to("198.18.0.10", 80), XDP_REDIRECT, SLUICE_STEER_redirect_vip);
}

TEST_F(SteeringTest, SshToVipAddressStaysWithTheKernel) {
  expect(tcp_to("198.18.0.10", 22), XDP_PASS, SLUICE_STEER_pass_not_vip);
}

TEST_F(SteeringTest, UdpToTcpOnlyVipStaysWithTheKernel) {
  expect(udp_to("198.18.0.10", 80), XDP_PASS, SLUICE_STEER_pass_not_vip);
}

TEST_F(SteeringTest, AnyPortVipTakesEveryPortOfItsProtocol) {
  expect(udp_to("198.18.0.11", 53), XDP_REDIRECT, SLUICE_STEER_redirect_vip);
  expect(udp_to("198.18.0.11", 9999), XDP_REDIRECT, SLUICE_STEER_redirect_vip);
  expect(tcp_to("198.18.0.11", 53), XDP_PASS, SLUICE_STEER_pass_not_vip);
}

TEST_F(SteeringTest, HostTrafficStaysWithTheKernel) {
  expect(tcp_to("198.18.2.2", 22), XDP_PASS, SLUICE_STEER_pass_not_vip);   // ssh
  expect(tcp_to("198.18.2.2", 179), XDP_PASS, SLUICE_STEER_pass_not_vip);  // BGP
  expect(tcp_to("198.18.3.11", 80), XDP_PASS, SLUICE_STEER_pass_not_vip);  // health-check reply
}

TEST_F(SteeringTest, ArpStaysWithTheKernel) {
  expect(build_frame(
             {.ethernet = kEthernet, .ip = net::NoIp{}, .payload = ByteBuffer(28, std::byte{0})}),
         XDP_PASS, SLUICE_STEER_pass_not_ip);
}

TEST_F(SteeringTest, Ipv6VipIsRedirected) {
  expect(tcp_to("2001:db8::10", 443), XDP_REDIRECT, SLUICE_STEER_redirect_vip);
  expect(tcp_to("2001:db8::10", 80), XDP_PASS, SLUICE_STEER_pass_not_vip);
}

TEST_F(SteeringTest, Ipv6ExtensionHeadersAreWalked) {
  const ByteBuffer frame = build_frame(
      {.ethernet = kEthernet,
       .ip = net::Ipv6Spec{.src = address("2001:db8:1::2"),
                           .dst = address("2001:db8::10"),
                           .extensions = {net::hop_by_hop(), net::destination_options(16)}},
       .l4 = net::TcpSpec{.dst_port = 443}});
  expect(frame, XDP_REDIRECT, SLUICE_STEER_redirect_vip);
}

TEST_F(SteeringTest, VlanTaggedVipIsRedirected) {
  const net::EthernetSpec tagged{.vlan_tci = 7};
  expect(tcp_to("198.18.0.10", 80, tagged), XDP_REDIRECT, SLUICE_STEER_redirect_vip);
}

TEST_F(SteeringTest, FragmentsToAVipAddressAreRedirected) {
  const ByteBuffer first = build_frame({.ethernet = kEthernet,
                                        .ip = net::Ipv4Spec{.src = address("198.18.1.2"),
                                                            .dst = address("198.18.0.10"),
                                                            .more_fragments = true},
                                        .l4 = net::TcpSpec{.dst_port = 80}});
  expect(first, XDP_REDIRECT, SLUICE_STEER_redirect_fragment);
  const ByteBuffer later = build_frame({.ethernet = kEthernet,
                                        .ip = net::Ipv4Spec{.src = address("198.18.1.2"),
                                                            .dst = address("198.18.0.10"),
                                                            .fragment_offset = 1480},
                                        .l4 = net::RawL4{.protocol = kTcp},
                                        .payload = ByteBuffer(40, std::byte{7})});
  expect(later, XDP_REDIRECT, SLUICE_STEER_redirect_fragment);
  const ByteBuffer v6 =
      build_frame({.ethernet = kEthernet,
                   .ip = net::Ipv6Spec{.src = address("2001:db8:1::2"),
                                       .dst = address("2001:db8::10"),
                                       .extensions = {net::fragment_header(1448, false, 99)}},
                   .l4 = net::RawL4{.protocol = kTcp},
                   .payload = ByteBuffer(40, std::byte{7})});
  expect(v6, XDP_REDIRECT, SLUICE_STEER_redirect_fragment);
}

TEST_F(SteeringTest, FragmentsToOtherAddressesStayWithTheKernel) {
  const ByteBuffer later = build_frame({.ethernet = kEthernet,
                                        .ip = net::Ipv4Spec{.src = address("198.18.1.2"),
                                                            .dst = address("198.18.2.2"),
                                                            .fragment_offset = 1480},
                                        .l4 = net::RawL4{.protocol = kTcp},
                                        .payload = ByteBuffer(40, std::byte{7})});
  expect(later, XDP_PASS, SLUICE_STEER_pass_not_vip);
}

TEST_F(SteeringTest, IcmpToAVipAddressIsRedirected) {
  expect(
      build_frame({.ethernet = kEthernet,
                   .ip = net::Ipv4Spec{.src = address("198.18.1.2"), .dst = address("198.18.0.10")},
                   .l4 = net::icmp_echo_request(1, 1)}),
      XDP_REDIRECT, SLUICE_STEER_redirect_icmp);
  expect(build_frame(
             {.ethernet = kEthernet,
              .ip = net::Ipv6Spec{.src = address("2001:db8:1::2"), .dst = address("2001:db8::10")},
              .l4 = net::icmp_echo_request(1, 1)}),
         XDP_REDIRECT, SLUICE_STEER_redirect_icmp);
}

TEST_F(SteeringTest, IcmpToTheHostStaysWithTheKernel) {
  expect(
      build_frame({.ethernet = kEthernet,
                   .ip = net::Ipv4Spec{.src = address("198.18.1.2"), .dst = address("198.18.2.2")},
                   .l4 = net::icmp_echo_request(1, 1)}),
      XDP_PASS, SLUICE_STEER_pass_not_vip);
}

TEST_F(SteeringTest, NeighbourDiscoveryForAVipStaysWithTheKernel) {
  const ByteBuffer solicitation = build_frame({.ethernet = kEthernet,
                                               .ip = net::Ipv6Spec{.src = address("2001:db8:2::1"),
                                                                   .dst = address("2001:db8::10"),
                                                                   .hop_limit = 255},
                                               .l4 = net::IcmpSpec{.type = 135},
                                               .payload = ByteBuffer(16, std::byte{0})});
  expect(solicitation, XDP_PASS, SLUICE_STEER_pass_not_vip);
}

TEST_F(SteeringTest, TruncatedHeadersGoToTheKernel) {
  ByteBuffer frame = tcp_to("198.18.0.10", 80);
  frame.resize(14 + 20 + 2);  // the TCP header is cut after the source port
  expect(frame, XDP_PASS, SLUICE_STEER_pass_malformed);
  frame.resize(14 + 8);  // half an IPv4 header
  expect(frame, XDP_PASS, SLUICE_STEER_pass_malformed);
  ByteBuffer tagged = tcp_to("198.18.0.10", 80, net::EthernetSpec{.vlan_tci = 7});
  tagged.resize(14 + 2);  // BPF_PROG_TEST_RUN needs 14 bytes; the tag is cut in half
  expect(tagged, XDP_PASS, SLUICE_STEER_pass_malformed);
}

TEST_F(SteeringTest, WithoutASocketVipTrafficGoesToTheKernel) {
  const std::uint32_t queue = 0;
  ASSERT_EQ(bpf_map_delete_elem(steering_->xsk_map_fd(), &queue), 0);
  expect(tcp_to("198.18.0.10", 80), XDP_PASS, SLUICE_STEER_pass_no_socket);
}

TEST_F(SteeringTest, SetVipsReplacesTheWholeSet) {
  const std::vector<VipKey> next = {kVips[2], make_vip_key(address("198.18.0.12"), 8080, kTcp)};
  ASSERT_TRUE(steering_->set_vips(next).ok());
  auto vips = steering_->vips();
  ASSERT_TRUE(vips.ok());
  ASSERT_EQ(vips->size(), 2u);
  std::set<VipKey, KeyBytesLess> got(vips->begin(), vips->end());
  EXPECT_EQ(got.count(next[0]), 1u);
  EXPECT_EQ(got.count(next[1]), 1u);

  expect(tcp_to("198.18.0.10", 80), XDP_PASS, SLUICE_STEER_pass_not_vip);
  expect(tcp_to("198.18.0.12", 8080), XDP_REDIRECT, SLUICE_STEER_redirect_vip);
  // The address map follows: ICMP to a removed VIP address is the host's again.
  expect(
      build_frame({.ethernet = kEthernet,
                   .ip = net::Ipv4Spec{.src = address("198.18.1.2"), .dst = address("198.18.0.10")},
                   .l4 = net::icmp_echo_request(1, 1)}),
      XDP_PASS, SLUICE_STEER_pass_not_vip);
}

TEST_F(SteeringTest, SetVipsToEmptyStopsAllSteering) {
  ASSERT_TRUE(steering_->set_vips({}).ok());
  auto vips = steering_->vips();
  ASSERT_TRUE(vips.ok());
  EXPECT_TRUE(vips->empty());
  expect(tcp_to("198.18.0.10", 80), XDP_PASS, SLUICE_STEER_pass_not_vip);
}

TEST_F(SteeringTest, SetVipsRefusesABadKeyAndKeepsTheOldSet) {
  VipKey bad = kVips[0];
  bad.family = 5;
  const std::vector<VipKey> next = {kVips[1], bad};
  EXPECT_FALSE(steering_->set_vips(next).ok());
  auto vips = steering_->vips();
  ASSERT_TRUE(vips.ok());
  EXPECT_EQ(vips->size(), kVips.size());
}

TEST_F(SteeringTest, DuplicateKeysAreStoredOnce) {
  const std::vector<VipKey> next = {kVips[0], kVips[0], kVips[1]};
  ASSERT_TRUE(steering_->set_vips(next).ok());
  auto vips = steering_->vips();
  ASSERT_TRUE(vips.ok());
  EXPECT_EQ(vips->size(), 2u);
}

TEST(VipKeyTest, LayoutMatchesTheProgram) {
  const VipKey key = make_vip_key(address("198.18.0.10"), 0x1234, kTcp);
  EXPECT_EQ(key.address[0], 198);
  EXPECT_EQ(key.address[3], 10);
  EXPECT_EQ(key.address[4], 0);
  const auto* raw = reinterpret_cast<const std::uint8_t*>(&key);
  EXPECT_EQ(raw[16], 0x12);  // network order
  EXPECT_EQ(raw[17], 0x34);
  EXPECT_EQ(raw[18], kTcp);
  EXPECT_EQ(raw[19], SLUICE_FAMILY_V4);
  EXPECT_EQ(port_of(key), 0x1234);
  EXPECT_EQ(address_of(key), address("198.18.0.10"));
}

}  // namespace
}  // namespace sluice::bpf

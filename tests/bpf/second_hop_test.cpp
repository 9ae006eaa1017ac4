// Golden tests of second-chance forwarding in bpf/decap.bpf.c, through BPF_PROG_TEST_RUN with
// real sockets (established, time-wait, request, listener, SYN cookie) and real routes. The process moves
// into its own network namespace first (it vanishes with the process, however the test ends) and
// builds there:
//
//   lo      the VIPs 198.18.0.10 and 2001:db8::10, listeners on port 80, the clients'
//           addresses (so that a real connection to the VIP can be established)
//   scd-in  the interface the frames "arrive" on (BPF_PROG_TEST_RUN's ingress_ifindex): the
//           backend's tunnel addresses 198.18.3.11/24 and 2001:db8:3::11/64, and the second
//           hop 198.18.3.12 / 2001:db8:3::12 as PERMANENT neighbours (no ARP/ND in a test run)
//   scd-out a second veth with the hop 198.18.4.12 behind it: sent on with bpf_redirect
//
// What bpf_fib_lookup needs in BPF_PROG_TEST_RUN (found here): the frame's ingress interface
// set in the context (without it the run sees the loopback device, and a lookup from lo
// fails), the interface up with its peer up (carrier), a route to the hop, a neighbour entry
// in a valid state (a permanent one), and forwarding enabled on the ingress interface
// (net.ipv4.conf.scd-in.forwarding=1, net.ipv6.conf.scd-in.forwarding=1): the helper checks it
// and answers BPF_FIB_LKUP_RET_FWD_DISABLED otherwise (ForwardingOffOnTheInterface... below).
//
// Each expected frame is built independently of the program: the builder writes every header
// from its field values and sums every checksum over the whole header or datagram, where the
// program updates them incrementally.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "loader/decap_program.hpp"
#include "sluice/net/builder.hpp"
#include "sluice/net/checksum.hpp"
#include "sluice/unique_fd.hpp"
#include "xdp_test_run.hpp"

namespace sluice::bpf {
namespace {

using net::address;
using net::build_frame;
using net::build_packet;
using net::ByteBuffer;
using testing::run_xdp;
using testing::to_hex;
using testing::XdpRun;

constexpr const char* kVip4 = "198.18.0.10";
constexpr const char* kVip6 = "2001:db8::10";
constexpr const char* kClient4 = "198.18.1.2";  // has a connection to the VIP
constexpr const char* kClient6 = "2001:db8:1::2";
constexpr const char* kStranger4 = "198.18.1.3";  // has none
constexpr const char* kStranger6 = "2001:db8:1::3";
constexpr std::uint16_t kConnectedPort4 = 40001;
constexpr std::uint16_t kConnectedPort6 = 40003;
constexpr const char* kBalancer4 = "198.18.2.2";  // a Sluice tunnel source
constexpr const char* kBalancer6 = "2001:db8:2::2";
constexpr const char* kBackend4 = "198.18.3.11";  // this backend, on scd-in
constexpr const char* kBackend6 = "2001:db8:3::11";
constexpr const char* kHop4 = "198.18.3.12";  // the second hop, behind scd-in
constexpr const char* kHop6 = "2001:db8:3::12";
constexpr const char* kFarHop4 = "198.18.4.12";  // behind scd-out
constexpr const char* kUnroutedHop4 = "198.18.9.9";

const net::MacAddress kBalancerMac = {0x02, 0x00, 0x00, 0x00, 0x02, 0x02};
const net::MacAddress kInMac = {0x02, 0x00, 0x00, 0x00, 0x03, 0x0b};
const net::MacAddress kHopMac = {0x02, 0x00, 0x00, 0x00, 0x03, 0x0c};
const net::MacAddress kOutMac = {0x02, 0x00, 0x00, 0x00, 0x04, 0x0b};
const net::MacAddress kFarHopMac = {0x02, 0x00, 0x00, 0x00, 0x04, 0x0c};

bool run(const std::string& command) {
  return std::system(command.c_str()) == 0;
}

// A TCP socket bound to address:port; a listener when `port` is 80.
UniqueFd bound_socket(int family, const char* address_text, std::uint16_t port) {
  UniqueFd fd(socket(family, SOCK_STREAM, 0));
  const int one = 1;
  EXPECT_EQ(setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    EXPECT_EQ(inet_pton(AF_INET, address_text, &in->sin_addr), 1);
    length = sizeof(*in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    EXPECT_EQ(inet_pton(AF_INET6, address_text, &in6->sin6_addr), 1);
    length = sizeof(*in6);
  }
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&storage), length), 0)
      << address_text << " " << std::strerror(errno);
  if (port == 80) {
    EXPECT_EQ(listen(fd.get(), 16), 0);
  }
  return fd;
}

// Connects `client` (bound to address:port) to `vip`:80 and returns the accepted socket.
UniqueFd connect_to(int family, const UniqueFd& client, const UniqueFd& listener, const char* vip) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(80);
    inet_pton(AF_INET, vip, &in->sin_addr);
    length = sizeof(*in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(80);
    inet_pton(AF_INET6, vip, &in6->sin6_addr);
    length = sizeof(*in6);
  }
  EXPECT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&storage), length), 0)
      << std::strerror(errno);
  return UniqueFd(accept(listener.get(), nullptr, nullptr));
}

// Its own network namespace with the interfaces, routes, neighbours and sockets above.
class BackendNamespace : public ::testing::Environment {
 public:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "namespaces and BPF need root";
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << "needs root (CAP_SYS_ADMIN)";
    ASSERT_TRUE(
        run("set -e; ip link set lo up;"
            "ip addr add 198.18.0.10/32 dev lo; ip addr add 2001:db8::10/128 dev lo nodad;"
            "ip addr add 198.18.1.2/32 dev lo; ip addr add 2001:db8:1::2/128 dev lo nodad;"
            "ip link add scd-in address 02:00:00:00:03:0b type veth peer name scd-in-peer;"
            "ip link add scd-out address 02:00:00:00:04:0b type veth peer name scd-out-peer;"
            "for l in scd-in scd-in-peer scd-out scd-out-peer; do ip link set $l up; done;"
            "ip addr add 198.18.3.11/24 dev scd-in; ip addr add 2001:db8:3::11/64 dev scd-in nodad;"
            "ip addr add 198.18.4.11/24 dev scd-out;"
            "ip neigh add 198.18.3.12 lladdr 02:00:00:00:03:0c nud permanent dev scd-in;"
            "ip neigh add 2001:db8:3::12 lladdr 02:00:00:00:03:0c nud permanent dev scd-in;"
            "ip neigh add 198.18.4.12 lladdr 02:00:00:00:04:0c nud permanent dev scd-out;"
            "sysctl -qw net.ipv4.conf.scd-in.forwarding=1 net.ipv6.conf.scd-in.forwarding=1"));
    listener4_ = bound_socket(AF_INET, kVip4, 80);
    listener6_ = bound_socket(AF_INET6, kVip6, 80);
    client4_ = bound_socket(AF_INET, kClient4, kConnectedPort4);
    client6_ = bound_socket(AF_INET6, kClient6, kConnectedPort6);
    served4_ = connect_to(AF_INET, client4_, listener4_, kVip4);
    served6_ = connect_to(AF_INET6, client6_, listener6_, kVip6);
    ASSERT_TRUE(served4_.valid() && served6_.valid());
  }

 private:
  UniqueFd listener4_, listener6_, client4_, client6_, served4_, served6_;
};

const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new BackendNamespace);

int ingress() {
  return static_cast<int>(if_nametoindex("scd-in"));
}

// GUE variant 0 with private data that names a second hop, written from the wire format in
// docs/second-chance.md (not from bpf/maps.h): 'S', type 1|2, flags, 0, address.
ByteBuffer hop_gue(std::uint8_t protocol, const IpAddress& hop, std::uint8_t flags = 0) {
  const bool v4 = hop.is_v4();
  ByteBuffer out = net::gue_header(protocol, v4 ? 2 : 5);
  out[4] = std::byte{0x53};
  out[5] = std::byte{static_cast<std::uint8_t>(v4 ? 0x01 : 0x02)};
  out[6] = std::byte{flags};
  out[7] = std::byte{0};
  std::memcpy(&out[8], hop.bytes.data(), v4 ? 4 : 16);
  return out;
}

// The client's TCP segment to the VIP, as the backend must finally see it.
net::PacketSpec inner(const char* client, std::uint16_t port, std::uint8_t flags = net::kTcpAck,
                      std::uint16_t vip_port = 80) {
  const bool v4 = address(client).is_v4();
  net::IpSpec ip = v4 ? net::IpSpec{net::Ipv4Spec{.src = address(client), .dst = address(kVip4)}}
                      : net::IpSpec{net::Ipv6Spec{.src = address(client), .dst = address(kVip6)}};
  return {.ip = ip,
          .l4 =
              net::TcpSpec{
                  .src_port = port, .dst_port = vip_port, .seq = 1000, .ack = 2000, .flags = flags},
          .payload = net::bytes_of("GET / HTTP/1.0\r\n\r\n")};
}

std::uint8_t protocol_of(const net::PacketSpec& packet) {
  return std::holds_alternative<net::Ipv4Spec>(packet.ip) ? net::kIpProtoIpip : net::kIpProtoIpv6;
}

struct Outer {
  const char* src = kBalancer4;
  const char* dst = kBackend4;
  std::uint8_t ttl = 64;
  std::optional<std::uint16_t> udp_checksum{};  // unset: computed
  std::uint16_t udp_src = 51234;
  net::MacAddress eth_src = kBalancerMac;
  net::MacAddress eth_dst = kInMac;
};

ByteBuffer gue_frame(const Outer& outer, const net::PacketSpec& packet, const ByteBuffer& gue) {
  const bool v4 = address(outer.src).is_v4();
  net::IpSpec ip =
      v4 ? net::IpSpec{net::Ipv4Spec{
               .src = address(outer.src), .dst = address(outer.dst), .ttl = outer.ttl}}
         : net::IpSpec{net::Ipv6Spec{
               .src = address(outer.src), .dst = address(outer.dst), .hop_limit = outer.ttl}};
  return build_frame({.ethernet = {.dst = outer.eth_dst, .src = outer.eth_src},
                      .ip = ip,
                      .l4 = net::UdpSpec{.src_port = outer.udp_src,
                                         .dst_port = kDefaultGuePort,
                                         .checksum = outer.udp_checksum},
                      .payload = net::concat(gue, build_packet(packet))});
}

ByteBuffer delivered_frame(const net::PacketSpec& packet) {
  return build_frame({.ethernet = {.dst = kInMac, .src = kBalancerMac},
                      .ip = packet.ip,
                      .l4 = packet.l4,
                      .payload = packet.payload});
}

// Checks the outer IPv4 header checksum and the UDP checksum of a frame by summing them.
void expect_valid_checksums(const ByteBuffer& frame) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(frame.data());
  const std::span<const std::byte> all(frame);
  if (bytes[12] == 0x08 && bytes[13] == 0x00) {
    EXPECT_EQ(net::internet_checksum(all.subspan(14, 20)), 0) << "IPv4 header checksum";
    const std::uint16_t udp_length = static_cast<std::uint16_t>(bytes[38] << 8 | bytes[39]);
    if (bytes[40] != 0 || bytes[41] != 0) {
      std::uint8_t src[4], dst[4];
      std::memcpy(src, bytes + 26, 4);
      std::memcpy(dst, bytes + 30, 4);
      EXPECT_EQ(net::l4_checksum_v4(src, dst, 17, all.subspan(34, udp_length)), 0) << "UDP";
    }
  } else {
    const std::uint16_t udp_length = static_cast<std::uint16_t>(bytes[58] << 8 | bytes[59]);
    std::uint8_t src[16], dst[16];
    std::memcpy(src, bytes + 22, 16);
    std::memcpy(dst, bytes + 38, 16);
    EXPECT_EQ(net::l4_checksum_v6(src, dst, 17, all.subspan(54, udp_length)), 0) << "UDP";
  }
}

class SecondHopTest : public ::testing::Test {
 protected:
  void load(DecapOptions options) {
    auto loaded = DecapProgram::load(options);
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    program_.emplace(std::move(*loaded));
  }
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "loading BPF programs needs root";
    load({.tunnel_sources = {address(kBalancer4), address(kBalancer6)}});
  }

  // Exactly `main` moved in decap_stats and `hop` in decap_hop_stats (-1: nothing there), by
  // one packet of `bytes`.
  void expect_counters(int main, int hop, std::uint64_t bytes) {
    auto counters = program_->counters();
    ASSERT_TRUE(counters.ok()) << counters.error().message;
    for (int i = 0; i < SLUICE_DECAP_OUTCOME_COUNT; ++i) {
      EXPECT_EQ((*counters)[i].packets, i == main ? 1u : 0u) << kDecapOutcomes[i].name;
      EXPECT_EQ((*counters)[i].bytes, i == main ? bytes : 0u) << kDecapOutcomes[i].name;
    }
    auto second = program_->second_hop_counters();
    ASSERT_TRUE(second.ok()) << second.error().message;
    for (int i = 0; i < SLUICE_SECOND_HOP_OUTCOME_COUNT; ++i) {
      EXPECT_EQ((*second)[i].packets, i == hop ? 1u : 0u) << kSecondHopOutcomes[i].name;
      EXPECT_EQ((*second)[i].bytes, i == hop ? bytes : 0u) << kSecondHopOutcomes[i].name;
    }
  }

  // Delivered here: decapsulated exactly as without a hop.
  void expect_delivered(const ByteBuffer& input, const net::PacketSpec& packet, int main, int hop) {
    const XdpRun result = run_xdp(program_->program_fd(), input, ingress());
    EXPECT_EQ(result.action, XDP_PASS);
    EXPECT_EQ(to_hex(result.output), to_hex(delivered_frame(packet)));
    expect_counters(main, hop, input.size());
  }

  void expect_sent_on(const ByteBuffer& input, const ByteBuffer& expected, int action) {
    const XdpRun result = run_xdp(program_->program_fd(), input, ingress());
    EXPECT_EQ(result.action, action);
    EXPECT_EQ(to_hex(result.output), to_hex(expected));
    expect_valid_checksums(result.output);
    expect_counters(SLUICE_DECAP_redirect_second_hop, SLUICE_HOP_redirected, input.size());
  }

  std::optional<DecapProgram> program_;
};

// (a) A connection to this backend exists: the hop is not needed.
TEST_F(SecondHopTest, EstablishedSocketIsDelivered) {
  const auto packet = inner(kClient4, kConnectedPort4);
  expect_delivered(gue_frame({}, packet, hop_gue(protocol_of(packet), address(kHop4))), packet,
                   SLUICE_DECAP_decap_gue_v4, SLUICE_HOP_delivered_socket);
}

TEST_F(SecondHopTest, EstablishedIpv6SocketOverIpv6IsDelivered) {
  const auto packet = inner(kClient6, kConnectedPort6);
  expect_delivered(gue_frame({.src = kBalancer6, .dst = kBackend6}, packet,
                             hop_gue(protocol_of(packet), address(kHop6))),
                   packet, SLUICE_DECAP_decap_gue_v6, SLUICE_HOP_delivered_socket);
}

// (b) Only the listener: sent on to the hop, addresses rewritten, TTL - 1, USED set.
TEST_F(SecondHopTest, ListenerOnlyIsSentOnOverIpv4) {
  const auto packet = inner(kStranger4, 40002);
  const ByteBuffer input = gue_frame({}, packet, hop_gue(protocol_of(packet), address(kHop4)));
  const ByteBuffer expected =
      gue_frame({.src = kBackend4, .dst = kHop4, .ttl = 63, .eth_src = kInMac, .eth_dst = kHopMac},
                packet, hop_gue(protocol_of(packet), address(kHop4), 0x80));
  expect_sent_on(input, expected, XDP_TX);
}

TEST_F(SecondHopTest, ListenerOnlyIsSentOnOverIpv4WithoutUdpChecksum) {
  const auto packet = inner(kStranger4, 40002);
  const ByteBuffer input =
      gue_frame({.udp_checksum = 0}, packet, hop_gue(protocol_of(packet), address(kHop4)));
  const ByteBuffer expected = gue_frame({.src = kBackend4,
                                         .dst = kHop4,
                                         .ttl = 63,
                                         .udp_checksum = 0,
                                         .eth_src = kInMac,
                                         .eth_dst = kHopMac},
                                        packet, hop_gue(protocol_of(packet), address(kHop4), 0x80));
  expect_sent_on(input, expected, XDP_TX);
}

// The UDP checksum field moves by one per source port, so exactly one port makes the rewritten
// packet's checksum sum to 0, which UDP sends as 0xffff.
TEST_F(SecondHopTest, UdpChecksumThatComesToZeroIsSentAsAllOnes) {
  const auto packet = inner(kStranger4, 40002);
  const auto gue = hop_gue(protocol_of(packet), address(kHop4));
  const auto used = hop_gue(protocol_of(packet), address(kHop4), 0x80);
  Outer out{.src = kBackend4, .dst = kHop4, .ttl = 63, .eth_src = kInMac, .eth_dst = kHopMac};
  ByteBuffer expected;
  for (std::uint32_t port = 1; port <= 0xffff; ++port) {
    out.udp_src = static_cast<std::uint16_t>(port);
    expected = gue_frame(out, packet, used);
    if (expected[40] == std::byte{0xff} && expected[41] == std::byte{0xff}) break;
  }
  ASSERT_EQ(to_hex(std::span(expected).subspan(40, 2)), "ffff");
  expect_sent_on(gue_frame({.udp_src = out.udp_src}, packet, gue), expected, XDP_TX);
}

TEST_F(SecondHopTest, ListenerOnlyIsSentOnOverIpv6) {
  const auto packet = inner(kStranger6, 40004);
  const ByteBuffer input = gue_frame({.src = kBalancer6, .dst = kBackend6}, packet,
                                     hop_gue(protocol_of(packet), address(kHop6)));
  const ByteBuffer expected =
      gue_frame({.src = kBackend6, .dst = kHop6, .ttl = 63, .eth_src = kInMac, .eth_dst = kHopMac},
                packet, hop_gue(protocol_of(packet), address(kHop6), 0x80));
  expect_sent_on(input, expected, XDP_TX);
}

TEST_F(SecondHopTest, Ipv4InnerOverIpv6IsSentOn) {
  const auto packet = inner(kStranger4, 40002);
  const ByteBuffer input = gue_frame({.src = kBalancer6, .dst = kBackend6}, packet,
                                     hop_gue(protocol_of(packet), address(kHop6)));
  const ByteBuffer expected =
      gue_frame({.src = kBackend6, .dst = kHop6, .ttl = 63, .eth_src = kInMac, .eth_dst = kHopMac},
                packet, hop_gue(protocol_of(packet), address(kHop6), 0x80));
  expect_sent_on(input, expected, XDP_TX);
}

TEST_F(SecondHopTest, NoSocketAtAllIsSentOn) {
  const auto packet = inner(kStranger4, 40002, net::kTcpAck, 81);
  const ByteBuffer input = gue_frame({}, packet, hop_gue(protocol_of(packet), address(kHop4)));
  const ByteBuffer expected =
      gue_frame({.src = kBackend4, .dst = kHop4, .ttl = 63, .eth_src = kInMac, .eth_dst = kHopMac},
                packet, hop_gue(protocol_of(packet), address(kHop4), 0x80));
  expect_sent_on(input, expected, XDP_TX);
}

// The route to the hop leaves by another interface: bpf_redirect, that interface's MAC.
TEST_F(SecondHopTest, HopBehindAnotherInterfaceIsRedirected) {
  const auto packet = inner(kStranger4, 40002);
  const ByteBuffer input = gue_frame({}, packet, hop_gue(protocol_of(packet), address(kFarHop4)));
  const ByteBuffer expected = gue_frame(
      {.src = kBackend4, .dst = kFarHop4, .ttl = 63, .eth_src = kOutMac, .eth_dst = kFarHopMac},
      packet, hop_gue(protocol_of(packet), address(kFarHop4), 0x80));
  expect_sent_on(input, expected, XDP_REDIRECT);
}

// (c) A SYN starts a connection here.
TEST_F(SecondHopTest, SynIsDelivered) {
  const auto packet = inner(kStranger4, 40002, net::kTcpSyn);
  expect_delivered(gue_frame({}, packet, hop_gue(protocol_of(packet), address(kHop4))), packet,
                   SLUICE_DECAP_decap_gue_v4, SLUICE_HOP_delivered_syn);
}

// (d) Not from a Sluice load balancer: never sent on (no open relay).
TEST_F(SecondHopTest, OtherOuterSourceIsNotEligible) {
  const auto packet = inner(kStranger4, 40002);
  expect_delivered(
      gue_frame({.src = "198.18.2.99"}, packet, hop_gue(protocol_of(packet), address(kHop4))),
      packet, SLUICE_DECAP_decap_gue_v4, SLUICE_HOP_not_eligible);
}

// (e) Sent on once already: never again (no loops).
TEST_F(SecondHopTest, UsedHopIsDelivered) {
  const auto packet = inner(kStranger4, 40002);
  expect_delivered(gue_frame({}, packet, hop_gue(protocol_of(packet), address(kHop4), 0x80)),
                   packet, SLUICE_DECAP_decap_gue_v4, SLUICE_HOP_delivered_hop_used);
}

// (f) Without a hop, or with private data of another form, GUE is decapsulated as before and
// the second-hop table does not move.
TEST_F(SecondHopTest, GueWithoutHopIsUnchanged) {
  const auto packet = inner(kStranger4, 40002);
  expect_delivered(gue_frame({}, packet, net::gue_header(protocol_of(packet))), packet,
                   SLUICE_DECAP_decap_gue_v4, -1);
}

TEST_F(SecondHopTest, PrivateDataOfAnotherFormIsIgnored) {
  const auto packet = inner(kStranger4, 40002);
  ByteBuffer wrong_magic = hop_gue(protocol_of(packet), address(kHop4));
  wrong_magic[4] = std::byte{0x54};
  expect_delivered(gue_frame({}, packet, wrong_magic), packet, SLUICE_DECAP_decap_gue_v4, -1);
  program_.reset();
  load({.tunnel_sources = {address(kBalancer4)}});
  ByteBuffer wrong_family = hop_gue(protocol_of(packet), address(kHop4));
  wrong_family[5] = std::byte{0x02};
  expect_delivered(gue_frame({}, packet, wrong_family), packet, SLUICE_DECAP_decap_gue_v4, -1);
  program_.reset();
  load({.tunnel_sources = {address(kBalancer4)}});
  ByteBuffer with_flags = hop_gue(protocol_of(packet), address(kHop4));
  with_flags[2] = std::byte{0x80};  // a GUE flag: the words are extension fields, not a hop
  expect_delivered(gue_frame({}, packet, with_flags), packet, SLUICE_DECAP_decap_gue_v4, -1);
}

TEST_F(SecondHopTest, InnerUdpIsNotTcp) {
  const net::PacketSpec packet{
      .ip = net::Ipv4Spec{.src = address(kStranger4), .dst = address(kVip4)},
      .l4 = net::UdpSpec{.src_port = 40002, .dst_port = 53},
      .payload = net::bytes_of("query")};
  expect_delivered(gue_frame({}, packet, hop_gue(protocol_of(packet), address(kHop4))), packet,
                   SLUICE_DECAP_decap_gue_v4, SLUICE_HOP_not_tcp);
}

TEST_F(SecondHopTest, ExhaustedTtlIsDelivered) {
  const auto packet = inner(kStranger4, 40002);
  expect_delivered(gue_frame({.ttl = 1}, packet, hop_gue(protocol_of(packet), address(kHop4))),
                   packet, SLUICE_DECAP_decap_gue_v4, SLUICE_HOP_redirect_ttl);
}

TEST_F(SecondHopTest, UnroutedHopIsDelivered) {
  const auto packet = inner(kStranger4, 40002);
  expect_delivered(gue_frame({}, packet, hop_gue(protocol_of(packet), address(kUnroutedHop4))),
                   packet, SLUICE_DECAP_decap_gue_v4, SLUICE_HOP_redirect_no_route);
}

TEST_F(SecondHopTest, HopWithoutNeighbourIsDelivered) {
  const auto packet = inner(kStranger4, 40002);
  expect_delivered(gue_frame({}, packet, hop_gue(protocol_of(packet), address("198.18.3.13"))),
                   packet, SLUICE_DECAP_decap_gue_v4, SLUICE_HOP_redirect_no_route);
}

// bpf_fib_lookup answers "forwarding disabled" on an interface without forwarding: what the
// backend must set up (docs/second-chance.md).
TEST_F(SecondHopTest, ForwardingOffOnTheInterfaceMeansNoRoute) {
  ASSERT_TRUE(run("sysctl -qw net.ipv4.conf.scd-in.forwarding=0"));
  const auto packet = inner(kStranger4, 40002);
  expect_delivered(gue_frame({}, packet, hop_gue(protocol_of(packet), address(kHop4))), packet,
                   SLUICE_DECAP_decap_gue_v4, SLUICE_HOP_redirect_no_route);
  ASSERT_TRUE(run("sysctl -qw net.ipv4.conf.scd-in.forwarding=1"));
}

// A time-wait socket is the end of a connection of this backend: delivered (the kernel answers
// it, the hop never had this connection).
TEST_F(SecondHopTest, TimeWaitSocketIsDelivered) {
  constexpr std::uint16_t kPort = 40005;
  {
    UniqueFd listener = bound_socket(AF_INET, kVip4, 8081);
    ASSERT_EQ(listen(listener.get(), 4), 0);
    UniqueFd client = bound_socket(AF_INET, kClient4, kPort);
    sockaddr_in vip{.sin_family = AF_INET, .sin_port = htons(8081), .sin_addr = {}, .sin_zero = {}};
    inet_pton(AF_INET, kVip4, &vip.sin_addr);
    ASSERT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&vip), sizeof(vip)), 0);
    UniqueFd served(accept(listener.get(), nullptr, nullptr));
    ASSERT_TRUE(served.valid());
    served.reset();  // the backend closes first: its side ends in TIME_WAIT
    char byte;
    ASSERT_EQ(recv(client.get(), &byte, 1, 0), 0);  // the FIN arrived
  }
  // Bounded wait for the client's FIN to move the backend's side to TIME_WAIT.
  const std::string time_wait =
      "ss -Htn state time-wait '( sport = :8081 and dport = :40005 )' | grep -q .";
  for (int i = 0; i < 100 && !run(time_wait); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(run(time_wait)) << "no TIME_WAIT socket";

  const auto packet = inner(kClient4, kPort, net::kTcpAck, 8081);
  expect_delivered(gue_frame({}, packet, hop_gue(protocol_of(packet), address(kHop4))), packet,
                   SLUICE_DECAP_decap_gue_v4, SLUICE_HOP_delivered_socket);
}

// A request socket (NEW_SYN_RECV: the SYN-ACK went out, the connection is not accepted yet) is
// a connection of this backend too. TCP_DEFER_ACCEPT keeps it one: the bare final ACK of the
// handshake does not turn it into a full socket.
TEST_F(SecondHopTest, RequestSocketIsDelivered) {
  constexpr std::uint16_t kPort = 40007;
  UniqueFd listener = bound_socket(AF_INET, kVip4, 8083);
  const int defer_seconds = 30;
  ASSERT_EQ(setsockopt(listener.get(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_seconds,
                       sizeof(defer_seconds)),
            0);
  ASSERT_EQ(listen(listener.get(), 4), 0);
  UniqueFd client = bound_socket(AF_INET, kClient4, kPort);
  sockaddr_in vip{.sin_family = AF_INET, .sin_port = htons(8083), .sin_addr = {}, .sin_zero = {}};
  inet_pton(AF_INET, kVip4, &vip.sin_addr);
  ASSERT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&vip), sizeof(vip)), 0);
  ASSERT_TRUE(run("ss -Htn state syn-recv '( sport = :8083 and dport = :40007 )' | grep -q ."))
      << "no request socket";

  const auto packet = inner(kClient4, kPort, net::kTcpAck, 8083);
  expect_delivered(gue_frame({}, packet, hop_gue(protocol_of(packet), address(kHop4))), packet,
                   SLUICE_DECAP_decap_gue_v4, SLUICE_HOP_delivered_socket);
}

// Only a listener, but the packet is the ACK that completes a SYN-cookie handshake with it: the
// kernel would accept it, so it is delivered; the same ACK with a wrong cookie is sent on. The
// listener's namespace sends cookies always (tcp_syncookies=2); the handshake's sequence
// numbers are read from the client socket (TCP_REPAIR), and both sockets of the connection are
// then dropped without a trace, so that only the listener is left.
class SynCookieTest : public SecondHopTest {
 protected:
  static constexpr std::uint16_t kVipPort = 8082;
  static constexpr std::uint16_t kPort = 40006;

  void SetUp() override {
    SecondHopTest::SetUp();
    if (IsSkipped()) return;
    ASSERT_TRUE(run("sysctl -qw net.ipv4.tcp_syncookies=2"));
    listener_ = bound_socket(AF_INET, kVip4, kVipPort);
    ASSERT_EQ(listen(listener_.get(), 4), 0);
    UniqueFd client = bound_socket(AF_INET, kClient4, kPort);
    sockaddr_in vip{
        .sin_family = AF_INET, .sin_port = htons(kVipPort), .sin_addr = {}, .sin_zero = {}};
    inet_pton(AF_INET, kVip4, &vip.sin_addr);
    ASSERT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&vip), sizeof(vip)), 0);

    const int on = 1;
    ASSERT_EQ(setsockopt(client.get(), IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)), 0)
        << std::strerror(errno);
    seq_ = queue_seq(client, TCP_SEND_QUEUE);  // the client's ISN + 1
    ack_ = queue_seq(client, TCP_RECV_QUEUE);  // the cookie + 1
    client.reset();                            // in repair mode: closes without a packet

    UniqueFd served(accept(listener_.get(), nullptr, nullptr));
    ASSERT_TRUE(served.valid());
    const linger abort{.l_onoff = 1, .l_linger = 0};
    ASSERT_EQ(setsockopt(served.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof(abort)), 0);
    served.reset();  // RST, no TIME_WAIT: the listener is all that is left
  }
  void TearDown() override { EXPECT_TRUE(run("sysctl -qw net.ipv4.tcp_syncookies=1")); }

  static std::uint32_t queue_seq(const UniqueFd& socket, int queue) {
    EXPECT_EQ(setsockopt(socket.get(), IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof(queue)), 0);
    std::uint32_t seq = 0;
    socklen_t length = sizeof(seq);
    EXPECT_EQ(getsockopt(socket.get(), IPPROTO_TCP, TCP_QUEUE_SEQ, &seq, &length), 0);
    return seq;
  }

  net::PacketSpec cookie_ack(std::uint32_t ack) const {
    return {.ip = net::Ipv4Spec{.src = address(kClient4), .dst = address(kVip4)},
            .l4 = net::TcpSpec{.src_port = kPort,
                               .dst_port = kVipPort,
                               .seq = seq_,
                               .ack = ack,
                               .flags = net::kTcpAck},
            .payload = {}};
  }

  UniqueFd listener_;
  std::uint32_t seq_ = 0;
  std::uint32_t ack_ = 0;
};

TEST_F(SynCookieTest, AckOfAValidCookieIsDelivered) {
  const auto packet = cookie_ack(ack_);
  expect_delivered(gue_frame({}, packet, hop_gue(protocol_of(packet), address(kHop4))), packet,
                   SLUICE_DECAP_decap_gue_v4, SLUICE_HOP_delivered_socket);
}

TEST_F(SynCookieTest, AckOfAWrongCookieIsSentOn) {
  const auto packet = cookie_ack(ack_ + 1);
  const ByteBuffer input = gue_frame({}, packet, hop_gue(protocol_of(packet), address(kHop4)));
  const ByteBuffer expected =
      gue_frame({.src = kBackend4, .dst = kHop4, .ttl = 63, .eth_src = kInMac, .eth_dst = kHopMac},
                packet, hop_gue(protocol_of(packet), address(kHop4), 0x80));
  expect_sent_on(input, expected, XDP_TX);
}

class SecondHopWithoutSourcesTest : public SecondHopTest {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "loading BPF programs needs root";
    load({});
  }
};

TEST_F(SecondHopWithoutSourcesTest, NothingIsSentOn) {
  const auto packet = inner(kStranger4, 40002);
  expect_delivered(gue_frame({}, packet, hop_gue(protocol_of(packet), address(kHop4))), packet,
                   SLUICE_DECAP_decap_gue_v4, SLUICE_HOP_not_eligible);
}

TEST(SecondHopOptionsTest, TooManyTunnelSourcesAreRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "loading BPF programs needs root";
  DecapOptions options;
  options.tunnel_sources.assign(SLUICE_MAX_TUNNEL_SOURCES + 1, address(kBalancer4));
  EXPECT_FALSE(DecapProgram::load(options).ok());
}

}  // namespace
}  // namespace sluice::bpf

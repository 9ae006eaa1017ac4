// Wire layouts: field positions on real bytes, byte order, and the setters used for writing.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "sluice/net/headers.hpp"

namespace sluice::net {
namespace {

template <typename Header>
std::vector<std::byte> raw(const Header& h) {
  std::vector<std::byte> out(sizeof(Header));
  std::memcpy(out.data(), &h, sizeof(Header));
  return out;
}

std::vector<int> ints(const std::vector<std::byte>& b) {
  std::vector<int> out;
  for (auto x : b)
    out.push_back(std::to_integer<int>(x));
  return out;
}

TEST(ByteOrder, BigEndianFields) {
  Be16 a;
  a.set(0x1234);
  EXPECT_EQ(a.bytes[0], 0x12);
  EXPECT_EQ(a.bytes[1], 0x34);
  EXPECT_EQ(a.get(), 0x1234);
  Be32 b;
  b.set(0xA1B2C3D4);
  EXPECT_EQ(b.bytes[0], 0xA1);
  EXPECT_EQ(b.bytes[3], 0xD4);
  EXPECT_EQ(b.get(), 0xA1B2C3D4u);
  const std::byte raw_bytes[4] = {std::byte{0xDE}, std::byte{0xAD}, std::byte{0xBE},
                                  std::byte{0xEF}};
  EXPECT_EQ(load_be16(raw_bytes), 0xDEAD);
  EXPECT_EQ(load_be32(raw_bytes), 0xDEADBEEFu);
}

TEST(Headers, Ipv4FieldsOnTheWire) {
  Ipv4Header ip{};
  ip.set_version_ihl(4, 6);
  ip.tos = 0xB8;
  ip.total_length.set(1500);
  ip.id.set(0xBEEF);
  ip.set_fragment(true, true, 1480);
  ip.ttl = 64;
  ip.protocol = kIpProtoUdp;
  ip.checksum.set(0xABCD);
  const std::uint8_t src[4] = {198, 18, 0, 1};
  std::memcpy(ip.src, src, 4);
  EXPECT_EQ(ints(raw(ip)),
            (std::vector<int>{0x46, 0xB8, 0x05, 0xDC, 0xBE, 0xEF, 0x60, 0xB9, 64, 17,
                              0xAB, 0xCD, 198,  18,   0,    1,    0,    0,    0,  0}));
  EXPECT_EQ(ip.version(), 4);
  EXPECT_EQ(ip.ihl(), 6);
  EXPECT_EQ(ip.header_length(), 24u);
  EXPECT_TRUE(ip.dont_fragment());
  EXPECT_TRUE(ip.more_fragments());
  EXPECT_EQ(ip.fragment_offset_bytes(), 1480u);
  EXPECT_TRUE(ip.is_fragment());
  ip.set_fragment(true, false, 0);
  EXPECT_FALSE(ip.is_fragment());
  ip.set_fragment(false, false, 65528);
  EXPECT_EQ(ip.fragment_offset_bytes(), 65528u);
  EXPECT_FALSE(ip.dont_fragment());
}

TEST(Headers, Ipv6AndExtensionFields) {
  Ipv6Header ip{};
  ip.set_version_class_flow(6, 0xB8, 0xABCDE);
  ip.payload_length.set(8);
  ip.next_header = kIpProtoFragment;
  ip.hop_limit = 255;
  const auto b = ints(raw(ip));
  EXPECT_EQ((std::vector<int>{b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]}),
            (std::vector<int>{0x6B, 0x8A, 0xBC, 0xDE, 0, 8, 44, 255}));
  EXPECT_EQ(ip.version(), 6);
  EXPECT_EQ(ip.traffic_class(), 0xB8);
  EXPECT_EQ(ip.flow_label(), 0xABCDEu);

  Ipv6FragmentHeader frag{};
  frag.next_header = kIpProtoTcp;
  frag.set_fragment(1232, true);
  frag.identification.set(0x01020304);
  EXPECT_EQ(ints(raw(frag)), (std::vector<int>{6, 0, 0x04, 0xD1, 1, 2, 3, 4}));
  EXPECT_EQ(frag.fragment_offset_bytes(), 1232u);
  EXPECT_TRUE(frag.more_fragments());

  Ipv6OptionsHeader opts{};
  opts.length = 2;
  EXPECT_EQ(opts.header_length(), 24u);
  Ipv6RoutingHeader rh{};
  rh.length = 0;
  EXPECT_EQ(rh.header_length(), 8u);
}

TEST(Headers, TcpUdpIcmpGueFields) {
  TcpHeader tcp{};
  tcp.src_port.set(40000);
  tcp.set_data_offset(8);
  tcp.flags = kTcpSyn | kTcpAck;
  const auto t = ints(raw(tcp));
  EXPECT_EQ(t[0], 0x9C);
  EXPECT_EQ(t[1], 0x40);
  EXPECT_EQ(t[12], 0x80);
  EXPECT_EQ(t[13], 0x12);
  EXPECT_EQ(tcp.header_length(), 32u);

  IcmpHeader icmp{};
  icmp.set_echo(0x1234, 0x0007);
  EXPECT_EQ(icmp.echo_identifier(), 0x1234);
  EXPECT_EQ(icmp.echo_sequence(), 7);
  icmp.rest.set(0x000005DC);
  EXPECT_EQ(icmp.next_hop_mtu(), 1500);
  EXPECT_EQ(icmp.mtu(), 1500u);

  GueHeader gue{};
  gue.set_version_control_hlen(0, true, 3);
  gue.protocol = kIpProtoIpip;
  EXPECT_EQ(gue.version_control_hlen, 0x23);
  EXPECT_EQ(gue.version(), 0);
  EXPECT_TRUE(gue.control());
  EXPECT_EQ(gue.hlen(), 3);
  EXPECT_EQ(gue.header_length(), 16u);
  gue.set_version_control_hlen(1, false, 31);
  EXPECT_EQ(gue.version_control_hlen, 0x5F);

  VlanTag tag{};
  tag.tci.set(0xE00A);
  EXPECT_EQ(tag.vlan_id(), 10);
}

TEST(Headers, HeaderAtNeverRunsPastTheSpan) {
  std::vector<std::byte> buf(30);
  EXPECT_NE(header_at<Ipv4Header>(std::span<const std::byte>(buf), 10), nullptr);
  EXPECT_EQ(header_at<Ipv4Header>(std::span<const std::byte>(buf), 11), nullptr);
  EXPECT_EQ(header_at<UdpHeader>(std::span<const std::byte>(buf), 31), nullptr);
  EXPECT_EQ(header_at<UdpHeader>(std::span<const std::byte>(buf), SIZE_MAX), nullptr);
  auto* w = mutable_header_at<UdpHeader>(buf, 22);
  ASSERT_NE(w, nullptr);
  w->length.set(0x0102);
  EXPECT_EQ(buf[26], std::byte{1});
  EXPECT_EQ(buf[27], std::byte{2});
}

}  // namespace
}  // namespace sluice::net

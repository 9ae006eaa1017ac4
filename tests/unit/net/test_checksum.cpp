// Internet checksum known answers (RFC 1071, a real IPv4 header, scapy-made segments) and
// RFC 1624 incremental updates checked against full recomputation.
#include <gtest/gtest.h>

#include <random>

#include "sluice/net/builder.hpp"
#include "sluice/net/checksum.hpp"
#include "sluice/net/headers.hpp"
#include "sluice/net/parse.hpp"

namespace sluice::net {
namespace {

ByteBuffer bytes(std::initializer_list<int> values) {
  ByteBuffer out;
  for (int v : values)
    out.push_back(static_cast<std::byte>(v));
  return out;
}

TEST(Checksum, Rfc1071Example) {
  // RFC 1071 section 3: the sum of 0001 f203 f4f5 f6f7 is ddf2 (after folding the carry).
  const ByteBuffer data = bytes({0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7});
  EXPECT_EQ(checksum_add(data), 0xDDF2u);
  EXPECT_EQ(internet_checksum(data), 0x220D);
}

TEST(Checksum, OddLengthPadsWithZero) {
  EXPECT_EQ(internet_checksum(bytes({0x00, 0x01, 0xF2})), static_cast<std::uint16_t>(~0xF201));
  EXPECT_EQ(internet_checksum(bytes({})), 0xFFFF);
}

TEST(Checksum, ChainedSumsEqualOneSum) {
  const ByteBuffer data = bytes({0x12, 0x34, 0xFF, 0xFF, 0xAB, 0xCD, 0x01});
  const std::uint32_t chained =
      checksum_add(std::span(data).subspan(4), checksum_add(std::span(data).first(4)));
  EXPECT_EQ(checksum_finish(chained), internet_checksum(data));
}

TEST(Checksum, Ipv4HeaderKnownAnswer) {
  // A captured UDP packet's header: 192.168.0.1 -> 192.168.0.199, checksum b861.
  ByteBuffer header = bytes({0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                             0xB8, 0x61, 0xC0, 0xA8, 0x00, 0x01, 0xC0, 0xA8, 0x00, 0xC7});
  EXPECT_EQ(internet_checksum(header), 0);  // verifies
  EXPECT_EQ(ipv4_header_checksum(header), 0xB861);
  header[10] = std::byte{0x12};  // the field itself is ignored
  header[11] = std::byte{0x34};
  EXPECT_EQ(ipv4_header_checksum(header), 0xB861);
}

// Segments made by scapy 2.5 (see test_builder.cpp for the frames): the checksum it wrote.
TEST(Checksum, PseudoHeaderKnownAnswers) {
  const std::uint8_t src4[4] = {198, 18, 0, 1};
  const std::uint8_t dst4[4] = {198, 18, 0, 10};
  ByteBuffer tcp = bytes({0x9C, 0x40, 0x01, 0xBB, 0,    0,    0,    1,   0,   0,   0,   0,  0x50,
                          0x02, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 'h', 'e', 'l', 'l', 'o'});
  EXPECT_EQ(l4_checksum_v4(src4, dst4, kIpProtoTcp, tcp), 0x41DF);
  tcp[16] = std::byte{0x41};
  tcp[17] = std::byte{0xDF};
  EXPECT_EQ(l4_checksum_v4(src4, dst4, kIpProtoTcp, tcp), 0);

  std::uint8_t src6[16] = {0x20, 0x01, 0x0D, 0xB8};
  std::uint8_t dst6[16] = {0x20, 0x01, 0x0D, 0xB8};
  src6[15] = 1;
  dst6[15] = 2;
  const ByteBuffer udp = bytes({0x9C, 0x40, 0x00, 0x35, 0x00, 0x0D, 0, 0, 'h', 'e', 'l', 'l', 'o'});
  EXPECT_EQ(l4_checksum_v6(src6, dst6, kIpProtoUdp, udp), 0xC417);
  const ByteBuffer echo = bytes({0x80, 0x00, 0, 0, 0x12, 0x34, 0x00, 0x07, 'p', 'i', 'n', 'g'});
  EXPECT_EQ(l4_checksum_v6(src6, dst6, kIpProtoIcmpv6, echo), 0x3338);
}

TEST(Checksum, IncrementalUpdateMatchesRecomputation) {
  std::mt19937 rng(1624);
  for (int round = 0; round < 2000; ++round) {
    ByteBuffer header(20);
    for (auto& b : header)
      b = static_cast<std::byte>(rng());
    auto* ip = mutable_header_at<Ipv4Header>(header, 0);
    ip->checksum.set(ipv4_header_checksum(header));

    // Rewrite TTL+protocol word, then the destination address, as a NAT or encap would.
    const std::uint16_t old_word = load_be16(&header[8]);
    const std::uint32_t old_dst =
        ip->dst[0] << 24 | ip->dst[1] << 16 | ip->dst[2] << 8 | ip->dst[3];
    const std::uint32_t new_dst = static_cast<std::uint32_t>(rng());
    ip->ttl = static_cast<std::uint8_t>(rng());
    const std::uint16_t new_word = load_be16(&header[8]);
    store_be32(ip->dst, new_dst);

    std::uint16_t updated = checksum_update16(ip->checksum.get(), old_word, new_word);
    updated = checksum_update32(updated, old_dst, new_dst);
    ASSERT_EQ(updated, ipv4_header_checksum(header)) << "round " << round;
    ip->checksum.set(updated);
    ASSERT_EQ(internet_checksum(header), 0) << "round " << round;
  }
}

TEST(Checksum, IncrementalUpdateOfAnIpv6AddressInAnL4Segment) {
  std::mt19937 rng(8200);
  for (int round = 0; round < 500; ++round) {
    std::uint8_t src[16];
    std::uint8_t dst[16];
    std::uint8_t new_dst[16];
    for (int i = 0; i < 16; ++i) {
      src[i] = static_cast<std::uint8_t>(rng());
      dst[i] = static_cast<std::uint8_t>(rng());
      new_dst[i] = static_cast<std::uint8_t>(rng());
    }
    ByteBuffer segment(8 + round % 50);
    for (auto& b : segment)
      b = static_cast<std::byte>(rng());
    store_be16(reinterpret_cast<std::uint8_t*>(&segment[6]), 0);
    const std::uint16_t before = l4_checksum_v6(src, dst, kIpProtoUdp, segment);
    const std::uint16_t updated = checksum_update_bytes(before, std::as_bytes(std::span(dst)),
                                                        std::as_bytes(std::span(new_dst)));
    ASSERT_EQ(updated, l4_checksum_v6(src, new_dst, kIpProtoUdp, segment)) << round;
  }
}

TEST(Checksum, BuiltFramesVerify) {
  const auto frame = build_frame({
      .ip = Ipv4Spec{.options = ByteBuffer(4, std::byte{1})},
      .l4 = TcpSpec{.options = ByteBuffer(3, std::byte{1})},
      .payload = bytes_of("odd"),
  });
  const ParseResult r = parse(frame);
  ASSERT_TRUE(r.ok());
  const auto f = std::span(frame);
  EXPECT_EQ(internet_checksum(f.subspan(r.packet.l3_offset, 24)), 0);
  const auto* ip = header_at<Ipv4Header>(f, r.packet.l3_offset);
  EXPECT_EQ(l4_checksum_v4(ip->src, ip->dst, kIpProtoTcp, f.subspan(r.packet.l4_offset)), 0);

  const auto v6 = build_frame({.ip = Ipv6Spec{.extensions = {hop_by_hop()}},
                               .l4 = icmp_echo_request(1, 2),
                               .payload = bytes_of("x")});
  const ParseResult r6 = parse(v6);
  ASSERT_TRUE(r6.ok());
  const auto* ip6 = header_at<Ipv6Header>(std::span(v6), r6.packet.l3_offset);
  EXPECT_EQ(l4_checksum_v6(ip6->src, ip6->dst, kIpProtoIcmpv6,
                           std::span(v6).subspan(r6.packet.l4_offset)),
            0);

  const auto icmp4 = build_frame({.l4 = icmp_echo_request(1, 2), .payload = bytes_of("xyz")});
  EXPECT_EQ(internet_checksum(std::span(icmp4).subspan(34)), 0);
}

TEST(Checksum, UdpZeroChecksumIsSentAsAllOnes) {
  // Find the payload word that makes the UDP sum come out as 0, then check the builder sends
  // 0xFFFF (0 would mean "no checksum").
  const FrameSpec spec{.l4 = UdpSpec{}, .payload = bytes({0, 0})};
  const auto probe = build_frame(spec);
  const std::uint16_t checksum_with_zero_word = load_be16(&probe[34 + 6]);
  const auto word = static_cast<std::uint16_t>(checksum_with_zero_word);  // ~sum
  FrameSpec zero = spec;
  zero.payload = bytes({word >> 8, word & 0xFF});
  const auto frame = build_frame(zero);
  EXPECT_EQ(load_be16(&frame[34 + 6]), 0xFFFF);
  const auto* ip = header_at<Ipv4Header>(std::span(frame), 14);
  EXPECT_EQ(l4_checksum_v4(ip->src, ip->dst, kIpProtoUdp, std::span(frame).subspan(34)), 0);
}

}  // namespace
}  // namespace sluice::net

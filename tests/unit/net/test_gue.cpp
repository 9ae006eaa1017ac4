// GUE decapsulation parsing: variant 0 with extension fields and control messages, variant 1.
#include <gtest/gtest.h>

#include "sluice/net/builder.hpp"
#include "sluice/net/gue.hpp"
#include "sluice/net/parse.hpp"

namespace sluice::net {
namespace {

constexpr std::uint16_t kGuePort = 6080;

struct Decap {
  ParsedPacket outer;
  GueParseResult gue;
};

Decap decap(const ByteBuffer& frame) {
  const ParseResult outer = parse(frame);
  EXPECT_TRUE(outer.ok());
  return {outer.packet, parse_gue(frame, outer.packet)};
}

const PacketSpec kInner4{
    .ip = Ipv4Spec{.src = address("198.18.0.1"), .dst = address("198.18.0.10")},
    .l4 = TcpSpec{.src_port = 40000, .dst_port = 443}};
const PacketSpec kInner6{
    .ip = Ipv6Spec{.src = address("2001:db8::1"), .dst = address("2001:db8::10")},
    .l4 = UdpSpec{.src_port = 5000, .dst_port = 53}};

TEST(Gue, Variant0CarriesTheInnerProtocolAndOffset) {
  const auto frame = build_frame({
      .ip = Ipv4Spec{.src = address("198.18.5.1"), .dst = address("198.18.6.1")},
      .l4 = UdpSpec{.src_port = 51234, .dst_port = kGuePort},
      .payload = concat(gue_header(kIpProtoIpip), build_packet(kInner4)),
  });
  const auto [outer, gue] = decap(frame);
  ASSERT_TRUE(gue.ok());
  EXPECT_EQ(outer.payload_offset, 42);
  EXPECT_EQ(gue.gue.variant, 0);
  EXPECT_FALSE(gue.gue.control);
  EXPECT_EQ(gue.gue.protocol, kIpProtoIpip);
  EXPECT_EQ(gue.gue.inner_offset, 46);
  EXPECT_EQ(frame[gue.gue.inner_offset], std::byte{0x45});  // the inner IPv4 header
}

TEST(Gue, ExtensionFieldsAreSkippedAndFlagsReported) {
  const auto frame = build_frame({
      .ip = Ipv6Spec{},
      .l4 = UdpSpec{.dst_port = kGuePort},
      .payload = concat(gue_header(kIpProtoIpv6, 3, false, 0xA000), build_packet(kInner6)),
      .padding = 7,
  });
  const auto [outer, gue] = decap(frame);
  ASSERT_TRUE(gue.ok());
  EXPECT_EQ(gue.gue.protocol, kIpProtoIpv6);
  EXPECT_EQ(gue.gue.flags, 0xA000);
  EXPECT_EQ(gue.gue.inner_offset, 14 + 40 + 8 + 4 + 12);
  EXPECT_EQ(frame[gue.gue.inner_offset], std::byte{0x60});
}

TEST(Gue, ControlMessage) {
  const auto frame = build_frame(
      {.l4 = UdpSpec{.dst_port = kGuePort}, .payload = gue_header(/*control type*/ 1, 0, true)});
  const auto [outer, gue] = decap(frame);
  ASSERT_TRUE(gue.ok());
  EXPECT_TRUE(gue.gue.control);
  EXPECT_EQ(gue.gue.protocol, 1);
  EXPECT_EQ(gue.gue.inner_offset, 46);
}

TEST(Gue, Variant1IsDirectIpEncapsulation) {
  const auto v4 =
      build_frame({.l4 = UdpSpec{.dst_port = kGuePort}, .payload = build_packet(kInner4)});
  const auto [outer4, gue4] = decap(v4);
  ASSERT_TRUE(gue4.ok());
  EXPECT_EQ(gue4.gue.variant, 1);
  EXPECT_EQ(gue4.gue.protocol, kIpProtoIpip);
  EXPECT_EQ(gue4.gue.inner_offset, 42);

  const auto v6 =
      build_frame({.l4 = UdpSpec{.dst_port = kGuePort}, .payload = build_packet(kInner6)});
  const auto [outer6, gue6] = decap(v6);
  ASSERT_TRUE(gue6.ok());
  EXPECT_EQ(gue6.gue.variant, 1);
  EXPECT_EQ(gue6.gue.protocol, kIpProtoIpv6);
  EXPECT_EQ(gue6.gue.inner_offset, 42);
}

TEST(Gue, OffsetFormIsBoundedByTheGivenEnd) {
  const ByteBuffer bytes = concat(ByteBuffer(10), gue_header(kIpProtoIpip, 1));
  EXPECT_TRUE(parse_gue(bytes, 10, bytes.size()).ok());
  EXPECT_EQ(parse_gue(bytes, 10, bytes.size()).gue.inner_offset, 18);
  EXPECT_EQ(parse_gue(bytes, 10, bytes.size() - 1).drop, DropReason::gue_truncated);
  EXPECT_EQ(parse_gue(bytes, 10, 1000).gue.inner_offset, 18);  // end clamped to the span
  EXPECT_EQ(parse_gue(bytes, 18, bytes.size()).drop, DropReason::gue_truncated);
  EXPECT_EQ(parse_gue(bytes, 50, bytes.size()).drop, DropReason::gue_truncated);
}

}  // namespace
}  // namespace sluice::net

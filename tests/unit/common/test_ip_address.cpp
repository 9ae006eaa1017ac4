#include <gtest/gtest.h>

#include <string>

#include "sluice/drop_reason.hpp"
#include "sluice/flow_key.hpp"
#include "sluice/ip_address.hpp"

namespace sluice {
namespace {

TEST(IpAddress, ParsesV4IntoFirstFourBytes) {
  const auto a = IpAddress::parse("198.18.0.1");
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(a->is_v4());
  EXPECT_EQ(a->v4_host_order(), 0xC6120001u);
  EXPECT_EQ(a->bytes[0], 198);
  EXPECT_EQ(a->bytes[3], 1);
  for (int i = 4; i < 16; ++i) EXPECT_EQ(a->bytes[i], 0) << i;
  EXPECT_EQ(a->to_string(), "198.18.0.1");
  EXPECT_EQ(*a, IpAddress::from_v4(0xC6120001u));
}

TEST(IpAddress, ParsesV6AndPrintsCanonicalForm) {
  const auto a = IpAddress::parse("2001:0db8:0000::0001");
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(a->is_v6());
  EXPECT_EQ(a->bytes[0], 0x20);
  EXPECT_EQ(a->bytes[1], 0x01);
  EXPECT_EQ(a->bytes[15], 0x01);
  EXPECT_EQ(a->to_string(), "2001:db8::1");
}

TEST(IpAddress, RejectsGarbage) {
  EXPECT_FALSE(IpAddress::parse("").has_value());
  EXPECT_FALSE(IpAddress::parse("198.18.0").has_value());
  EXPECT_FALSE(IpAddress::parse("198.18.0.256").has_value());
  EXPECT_FALSE(IpAddress::parse("2001:db8::1::2").has_value());
  EXPECT_FALSE(IpAddress::parse("example.com").has_value());
  EXPECT_FALSE(IpAddress::parse(std::string(100, '1')).has_value());
}

TEST(IpAddress, RejectsANulInsideOrAfterTheAddress) {
  using namespace std::string_literals;
  EXPECT_FALSE(IpAddress::parse("198.18.0.30\0junk"s).has_value());
  EXPECT_FALSE(IpAddress::parse("198.18.0.30\0"s).has_value());
  EXPECT_FALSE(IpAddress::parse("2001:db8::1\0:2"s).has_value());
  EXPECT_FALSE(IpAddress::parse("\0"s).has_value());
  EXPECT_TRUE(IpAddress::parse("198.18.0.30").has_value());
}

TEST(IpAddress, V4AndV6WithSameBytesDiffer) {
  IpAddress v4 = IpAddress::from_v4(0);
  IpAddress v6 = *IpAddress::parse("::");
  EXPECT_NE(v4, v6);
}

TEST(IpAddress, PrefixMatch) {
  const auto net = *IpAddress::parse("198.18.0.0");
  EXPECT_TRUE(in_prefix(*IpAddress::parse("198.19.255.255"), net, 15));
  EXPECT_FALSE(in_prefix(*IpAddress::parse("198.20.0.0"), net, 15));
  EXPECT_FALSE(in_prefix(*IpAddress::parse("2001:db8::1"), net, 15));
  const auto net6 = *IpAddress::parse("2001:db8::");
  EXPECT_TRUE(in_prefix(*IpAddress::parse("2001:db8:ffff::1"), net6, 32));
  EXPECT_FALSE(in_prefix(*IpAddress::parse("2001:db9::1"), net6, 32));
  EXPECT_FALSE(in_prefix(*IpAddress::parse("2001:db8::1"), net6, 129));
}

TEST(DropReasons, NamesAreUniqueAndRoundTrip) {
  for (std::size_t i = 0; i < kDropReasonCount; ++i) {
    const auto r = static_cast<DropReason>(i);
    EXPECT_FALSE(description_of(r).empty());
    ASSERT_TRUE(drop_reason_from_name(name_of(r)).has_value());
    EXPECT_EQ(*drop_reason_from_name(name_of(r)), r);
  }
  EXPECT_FALSE(drop_reason_from_name("no_such_reason").has_value());
}

TEST(FlowKey, EqualityIsBytewise) {
  FlowKey a;
  a.src_addr = IpAddress::from_v4(0xC6120001u).bytes;
  a.protocol = 6;
  FlowKey b = a;
  EXPECT_EQ(a, b);
  b.src_port = 1;
  EXPECT_FALSE(a == b);
}

}  // namespace
}  // namespace sluice

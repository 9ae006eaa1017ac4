#include <gtest/gtest.h>

#include "sluice/config/names.hpp"
#include "state_fixture.hpp"

namespace sluice::config {
namespace {

using testing::ip;

TEST(Names, EveryEnumNameRoundTrips) {
  for (const auto name : scheduler_names())
    EXPECT_EQ(to_string(*parse_scheduler(name)), name);
  for (const auto name : protocol_names())
    EXPECT_EQ(to_string(*parse_protocol(name)), name);
  for (const auto name : encap_names())
    EXPECT_EQ(to_string(*parse_encap(name)), name);
  for (const auto name : fragment_policy_names()) {
    EXPECT_EQ(to_string(*parse_fragment_policy(name)), name);
  }
  for (const auto name : health_check_type_names()) {
    EXPECT_EQ(to_string(*parse_health_check_type(name)), name);
  }
  for (const auto name : all_down_policy_names()) {
    EXPECT_EQ(to_string(*parse_all_down_policy(name)), name);
  }
  EXPECT_EQ(scheduler_names().size(), 6u);
}

TEST(Names, IssueSpellingsAndUnderscores) {
  EXPECT_EQ(parse_scheduler("round-robin"), Scheduler::round_robin);
  EXPECT_EQ(parse_scheduler("weighted_round_robin"), Scheduler::weighted_round_robin);
  EXPECT_EQ(parse_scheduler("least-connections"), Scheduler::least_connections);
  EXPECT_EQ(parse_scheduler("source_hash"), Scheduler::source_hash);
  EXPECT_EQ(parse_all_down_policy("keep_last_healthy"), AllDownPolicy::keep_last_healthy);
  EXPECT_FALSE(parse_scheduler("Maglev").has_value());
  EXPECT_FALSE(parse_protocol("TCP").has_value());
  EXPECT_EQ(static_cast<int>(Protocol::udp), 17);  // the IP protocol number
}

TEST(Names, MacAddresses) {
  EXPECT_EQ(parse_mac("02:00:00:00:00:fe"), (MacAddress{2, 0, 0, 0, 0, 0xfe}));
  EXPECT_EQ(parse_mac("02-AB-cd-00-00-FE"), (MacAddress{2, 0xab, 0xcd, 0, 0, 0xfe}));
  EXPECT_EQ(format_mac({2, 0xab, 0xcd, 0, 0, 0xfe}), "02:ab:cd:00:00:fe");
  EXPECT_FALSE(parse_mac("02:00:00:00:00").has_value());
  EXPECT_FALSE(parse_mac("02:00:00:00:00:0g").has_value());
  EXPECT_FALSE(parse_mac("02:00-00:00:00:00").has_value());
  EXPECT_FALSE(parse_mac("2:0:0:0:0:fe").has_value());
}

TEST(Names, VipKeys) {
  Vip v;
  v.address = ip("198.18.0.10");
  v.port = 80;
  EXPECT_EQ(vip_key(v), "198.18.0.10:80/tcp");
  v.address = ip("2001:db8::10");
  v.port = 0;
  v.protocol = Protocol::udp;
  EXPECT_EQ(vip_key(v), "[2001:db8::10]:0/udp");

  auto k = parse_vip_key("[2001:db8::10]:0/udp");
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ(*k, key_of(v));
  k = parse_vip_key("198.18.0.10:443");
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ(k->port, 443);
  EXPECT_EQ(k->protocol, Protocol::tcp);

  for (const char* bad :
       {"198.18.0.10", "198.18.0.10:80/sctp", "2001:db8::10:80/tcp", "[2001:db8::10]/tcp",
        "198.18.0.10:65536/tcp", "198.18.0.300:80", "[2001:db8::10:80", ""}) {
    const auto r = parse_vip_key(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find("write ADDRESS:PORT/PROTOCOL"), std::string::npos);
  }
}

TEST(Names, FindVip) {
  State s = testing::valid_state();
  const auto* v = find_vip(s, *parse_vip_key("[2001:db8::10]:53/udp"));
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v, &s.vips[1]);
  EXPECT_EQ(find_vip(s, *parse_vip_key("[2001:db8::10]:53/tcp")), nullptr);
  find_vip(s, key_of(s.vips[0]))->port = 81;
  EXPECT_EQ(s.vips[0].port, 81);
}

}  // namespace
}  // namespace sluice::config

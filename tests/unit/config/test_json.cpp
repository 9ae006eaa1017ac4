#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sluice/config/json.hpp"
#include "sluice/config/yaml.hpp"
#include "state_fixture.hpp"

namespace sluice::config {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using testing::ip;
using testing::valid_state;

std::string json_error(const json& j, Check check = Check::full) {
  auto r = state_from_json(j, check);
  EXPECT_FALSE(r.ok()) << j.dump();
  return r.ok() ? std::string() : r.error().message;
}

TEST(Json, UsesTheYamlFieldNames) {
  const json j = to_json(valid_state());
  EXPECT_EQ(j["generation"], 7);
  EXPECT_EQ(j["dataplane"]["next_hop_mac"], "02:00:00:00:00:fe");
  EXPECT_EQ(j["dataplane"]["tunnel_source_v6"], "2001:db8::1");
  EXPECT_EQ(j["dataplane"]["mtu"], 1500);
  const json& dns = j["vips"][1];
  EXPECT_EQ(dns["address"], "2001:db8::10");
  EXPECT_EQ(dns["port"], 53);
  EXPECT_EQ(dns["protocol"], "udp");
  EXPECT_EQ(dns["scheduler"], "maglev");
  EXPECT_EQ(dns["encap"], "gue");
  EXPECT_EQ(dns["maglev_table_size"], 65537);
  EXPECT_EQ(dns["fragments"], "forward");
  EXPECT_EQ(dns["all_down"], "keep-last-healthy");
  EXPECT_EQ(dns["backends"][0],
            json({{"address", "2001:db8:1::1"}, {"weight", 1}, {"drained", false}}));
  EXPECT_FALSE(j.contains("controlplane"));
  EXPECT_FALSE(j.contains("dataplanes"));
}

TEST(Json, RoundTripsThroughTextAndYaml) {
  State s = valid_state();
  HealthCheck hc;
  hc.type = HealthCheckType::udp;
  hc.udp_request = "ping";
  s.vips[1].health_check = hc;
  s.vips[0].backends[0].health_check = HealthCheck{};
  s.vips[0].backends[0].health_check->http_path = "/odd";  // kept although type is none
  s.controlplane = ControlplaneSettings{};
  s.dataplanes = {{"lb1", "/run/lb1.sock"}};
  const std::string wire = to_json(s).dump();
  auto back = state_from_json(json::parse(wire), Check::structure_only);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, s);
  auto via_yaml = load_yaml_string(to_yaml(*back), "x", Check::structure_only);
  ASSERT_TRUE(via_yaml.ok()) << via_yaml.error().message;
  EXPECT_EQ(to_json(*via_yaml), to_json(s));
}

TEST(Json, UnknownKeysAreRefusedByName) {
  json j = to_json(valid_state());
  j["vips"][1]["backends"][0]["wieght"] = 3;
  EXPECT_EQ(json_error(j),
            "vips[1].backends[0].wieght: unknown key (allowed here: address, weight, drained, "
            "health_check, state, effective_weight); did you mean \"weight\"?");
  j = to_json(valid_state());
  j["extra"] = true;
  EXPECT_THAT(json_error(j), HasSubstr("extra: unknown key (allowed here: generation,"));
}

TEST(Json, WrongTypesAreRefused) {
  json j = to_json(valid_state());
  j["vips"][0]["port"] = "80";
  EXPECT_EQ(json_error(j), "vips[0].port: expected an integer (0..65535), got \"80\"");
  j["vips"][0]["port"] = -80;
  EXPECT_EQ(json_error(j), "vips[0].port: expected an integer (0..65535), got -80");
  j["vips"][0]["port"] = 80.5;
  EXPECT_EQ(json_error(j), "vips[0].port: expected an integer (0..65535), got 80.5");
  j["vips"][0]["port"] = 80;
  j["vips"][0]["backends"][0]["drained"] = "yes";
  EXPECT_EQ(json_error(j), "vips[0].backends[0].drained: expected true or false, got \"yes\"");
  j = to_json(valid_state());
  j["vips"][0]["address"] = 3323068426;
  EXPECT_EQ(json_error(j), "vips[0].address: expected an IPv4 or IPv6 address, got 3323068426");
  j = to_json(valid_state());
  j["vips"] = json::object();
  EXPECT_EQ(json_error(j), "vips: expected a list, got an object");
  EXPECT_EQ(json_error(json::array()), "state: expected an object, got an array");
}

TEST(Json, OutOfRangeNamesTheFieldsLimitNotItsType) {
  json j = to_json(valid_state());
  j["vips"][0]["backends"][0]["weight"] = 4294967296ull;
  EXPECT_EQ(json_error(j), "vips[0].backends[0].weight: 4294967296 is out of range 0..65535");
  j["vips"][0]["backends"][0]["weight"] = 1.5;
  EXPECT_EQ(json_error(j), "vips[0].backends[0].weight: expected an integer (0..65535), got 1.5");
  j["vips"][0]["backends"][0]["weight"] = 65536;
  EXPECT_EQ(json_error(j), "vips[0].backends[0].weight: 65536 is out of range 0..65535");
}

TEST(Json, MissingRequiredKeys) {
  json j = to_json(valid_state());
  j["vips"][0].erase("protocol");
  EXPECT_EQ(json_error(j), "vips[0]: missing required key \"protocol\"");
}

TEST(Json, NullMeansAbsentForOptionalSections) {
  json j = to_json(valid_state());
  j["dataplane"]["tunnel_source_v6"] = nullptr;
  j["vips"].erase(1);
  j["controlplane"] = nullptr;
  auto r = state_from_json(j);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->dataplane.tunnel_source_v6.has_value());
  EXPECT_FALSE(r->controlplane.has_value());
}

TEST(Json, FullCheckValidates) {
  json j = to_json(valid_state());
  j["vips"][0]["backends"][1]["address"] = "198.18.1.1";
  EXPECT_EQ(json_error(j),
            "vips[0].backends[1].address: 198.18.1.1 is already backends[0] of this VIP");
  EXPECT_TRUE(state_from_json(j, Check::structure_only).ok());
}

TEST(Json, PiecesForTheApi) {
  auto vip = vip_from_json(json{{"address", "198.18.0.30"},
                                {"port", 443},
                                {"protocol", "tcp"},
                                {"scheduler", "round_robin"}});
  ASSERT_TRUE(vip.ok()) << vip.error().message;
  EXPECT_EQ(vip->address, ip("198.18.0.30"));
  EXPECT_EQ(vip->scheduler, Scheduler::round_robin);
  EXPECT_TRUE(vip->backends.empty());

  auto backend = backend_from_json(json{{"address", "198.18.1.7"}, {"weight", 5}});
  ASSERT_TRUE(backend.ok()) << backend.error().message;
  EXPECT_EQ(backend->weight, 5u);
  EXPECT_EQ(to_json(*backend),
            (json{{"address", "198.18.1.7"}, {"weight", 5}, {"drained", false}}));

  auto bad = backend_from_json(json{{"address", "198.18.1.256"}}, "body");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "body.address: \"198.18.1.256\" is not an IPv4 or IPv6 address");

  auto hc = health_check_from_json(json{{"type", "http"}, {"path", "/x"}});
  ASSERT_TRUE(hc.ok()) << hc.error().message;
  EXPECT_EQ(hc->http_path, "/x");
  EXPECT_EQ(to_json(*hc)["expect_status"], 200);
  EXPECT_FALSE(to_json(*hc).contains("request"));  // udp-only field left out of an http check
}

}  // namespace
}  // namespace sluice::config

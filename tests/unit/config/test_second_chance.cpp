// Second chance in the config model: the per-VIP switch, its validation, the `previous` block
// and how the control plane records it on a change (sluice/config/second_chance.hpp).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sluice/config/json.hpp"
#include "sluice/config/second_chance.hpp"
#include "sluice/config/validate.hpp"
#include "sluice/config/yaml.hpp"
#include "state_fixture.hpp"

namespace sluice::config {
namespace {

using ::testing::HasSubstr;
using testing::ip;
using testing::valid_state;

State gue_state() {
  State s = valid_state();
  s.vips[0].encap = Encap::gue;  // 198.18.0.10:80/tcp
  return s;
}

TEST(SecondChance, DefaultIsOnForTcpGueMaglevOnly) {
  State s = gue_state();
  EXPECT_TRUE(second_chance_enabled(s.vips[0]));
  EXPECT_FALSE(second_chance_enabled(s.vips[1]));  // UDP
  s.vips[0].second_chance = false;
  EXPECT_FALSE(second_chance_enabled(s.vips[0]));
  s.vips[0].second_chance.reset();
  s.vips[0].scheduler = Scheduler::round_robin;
  EXPECT_FALSE(second_chance_enabled(s.vips[0]));
  s.vips[0].scheduler = Scheduler::maglev;
  s.vips[0].encap = Encap::ipip;
  EXPECT_FALSE(second_chance_enabled(s.vips[0]));
}

TEST(SecondChance, OnWithIpipIsRefusedNamingTheField) {
  State s = valid_state();  // vips[0] is ipip
  s.vips[0].second_chance = true;
  const Status st = validate(s);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message, HasSubstr("vips[0].second_chance: on needs a TCP VIP with "
                                            "encap gue and scheduler maglev"));
  EXPECT_THAT(st.error().message, HasSubstr("encap ipip"));
  s.vips[0].second_chance = false;  // off is always allowed
  EXPECT_TRUE(validate(s).ok());
}

TEST(SecondChance, YamlTakesOnAndOffAndRoundTrips) {
  State s = gue_state();
  s.vips[0].second_chance = false;
  s.vips[0].previous = PreviousBackends{
      1'700'000'000, 1'600'000'000, 1'700'000'000, {{ip("198.18.1.1"), 1}, {ip("198.18.1.9"), 3}}};
  const std::string text = to_yaml(s);
  EXPECT_THAT(text, HasSubstr("second_chance: \"off\""));
  const Result<State> back = load_yaml_string(text);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back.value(), s);
  // JSON: the same, and true/false are taken too.
  nlohmann::json j = to_json(s);
  EXPECT_EQ(j["vips"][0]["second_chance"], "off");
  EXPECT_EQ(j["vips"][0]["previous"]["backends"][1]["weight"], 3);
  j["vips"][0]["second_chance"] = true;
  const Result<State> from_json = state_from_json(j);
  ASSERT_TRUE(from_json.ok()) << from_json.error().message;
  EXPECT_EQ(from_json.value().vips[0].second_chance, true);
}

TEST(SecondChance, BadValuesNameTheField) {
  const char* yaml = R"(dataplane: {tunnel_source_v4: 198.18.0.1}
vips:
  - address: 198.18.0.10
    port: 80
    protocol: tcp
    encap: gue
    second_chance: maybe
)";
  const Result<State> r = load_yaml_string(yaml);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("vips[0].second_chance: expected on or off"));

  const char* twice = R"(dataplane: {tunnel_source_v4: 198.18.0.1}
vips:
  - address: 198.18.0.10
    port: 80
    protocol: tcp
    encap: gue
    previous: {replaced_at: 5, backends: [{address: 198.18.1.1, weight: 1},
                                          {address: 198.18.1.1, weight: 2}]}
)";
  const Result<State> r2 = load_yaml_string(twice);
  ASSERT_FALSE(r2.ok());
  EXPECT_THAT(r2.error().message,
              HasSubstr("vips[0].previous.backends[1].address: 198.18.1.1 is listed twice"));
}

TEST(SecondChance, TableInputIsTheIntentSortedByAddress) {
  Vip v = gue_state().vips[0];
  v.backends = {Backend{ip("198.18.1.3"), 2, false, {}, {}, {}},
                Backend{ip("198.18.1.1"), 1, false, {}, {}, {}},
                Backend{ip("198.18.1.2"), 5, true, {}, {}, {}},    // drained: no new flows
                Backend{ip("198.18.1.4"), 0, false, {}, {}, {}}};  // weight 0
  const std::vector<PreviousBackend> want = {{ip("198.18.1.1"), 1}, {ip("198.18.1.3"), 2}};
  EXPECT_EQ(intent_table_input(v), want);
}

TEST(SecondChance, AChangeOfWeightsRecordsTheTableBefore) {
  const State before = gue_state();
  State after = before;
  after.vips[0].backends[1].weight = 7;
  after.vips[1].backends[0].weight = 1;  // unchanged VIP
  record_previous_backends(before, after, 1000);
  ASSERT_TRUE(after.vips[0].previous.has_value());
  EXPECT_EQ(after.vips[0].previous->replaced_at, 1000u);
  const std::vector<PreviousBackend> want = {{ip("198.18.1.1"), 1}, {ip("198.18.1.2"), 2}};
  EXPECT_EQ(after.vips[0].previous->backends, want);
  EXPECT_FALSE(after.vips[1].previous.has_value());

  // A later change of something else keeps the block as it was; a second change of the table
  // replaces it with the table just before that change.
  State later = after;
  later.vips[0].new_flows_per_s = 100;
  later.vips[0].previous.reset();  // whatever the mutation wrote there
  record_previous_backends(after, later, 1010);
  EXPECT_EQ(later.vips[0].previous, after.vips[0].previous);
  // A second change soon after: the table from before the first change was in force longer
  // (since before anything was recorded) than the one just replaced, so it stays.
  State again = later;
  again.vips[0].backends[0].drained = true;
  record_previous_backends(later, again, 1020);
  EXPECT_EQ(again.vips[0].previous->backends, want);
  EXPECT_EQ(again.vips[0].previous->replaced_at, 1000u);
  EXPECT_EQ(again.vips[0].previous->current_since, 1020u);
}

TEST(SecondChance, TheTableInForceLongerStaysThePreviousOne) {
  State before = gue_state();
  // The previous table was in force for 100 s (900..1000); the current one since 1000.
  before.vips[0].previous = PreviousBackends{1000, 900, 1000, {{ip("198.18.1.7"), 1}}};
  State quick = before;
  quick.vips[0].backends[1].weight = 7;
  record_previous_backends(before, quick, 1050);  // the current table lived 50 s: less
  ASSERT_TRUE(quick.vips[0].previous.has_value());
  EXPECT_EQ(quick.vips[0].previous->backends, before.vips[0].previous->backends);
  EXPECT_EQ(quick.vips[0].previous->current_since, 1050u);

  State slow = before;
  slow.vips[0].backends[1].weight = 7;
  record_previous_backends(before, slow, 1200);  // it lived 200 s: it becomes the previous one
  ASSERT_TRUE(slow.vips[0].previous.has_value());
  const std::vector<PreviousBackend> want = {{ip("198.18.1.1"), 1}, {ip("198.18.1.2"), 2}};
  EXPECT_EQ(slow.vips[0].previous->backends, want);
  EXPECT_EQ(slow.vips[0].previous->since, 1000u);
  EXPECT_EQ(slow.vips[0].previous->replaced_at, 1200u);
  EXPECT_EQ(slow.vips[0].previous->current_since, 1200u);
}

TEST(SecondChance, ExpiredBlocksAndNewTableSizesAreDropped) {
  const State before = gue_state();
  State after = before;
  after.vips[0].backends[1].weight = 7;
  record_previous_backends(before, after, 1000);
  ASSERT_TRUE(after.vips[0].previous.has_value());
  const std::uint32_t idle = after.dataplane.flow_idle_timeout_s;
  EXPECT_FALSE(previous_expired(*after.vips[0].previous, after.dataplane, 1000 + idle - 1));
  EXPECT_TRUE(previous_expired(*after.vips[0].previous, after.dataplane, 1000 + idle));

  State later = after;
  later.vips[0].new_flows_per_s = 5;
  record_previous_backends(after, later, 1000 + idle);
  EXPECT_FALSE(later.vips[0].previous.has_value());

  State resized = after;
  resized.vips[0].backends[1].weight = 9;
  resized.vips[0].maglev_table_size = 4093;
  record_previous_backends(after, resized, 1001);
  EXPECT_FALSE(resized.vips[0].previous.has_value());
}

}  // namespace
}  // namespace sluice::config

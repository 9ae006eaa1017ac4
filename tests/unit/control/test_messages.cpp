#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sluice/config/json.hpp"
#include "sluice/control/messages.hpp"
#include "sluice/drop_reason.hpp"

namespace sluice::control {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

IpAddress ip(const char* text) {
  return *IpAddress::parse(text);
}

config::State small_state() {
  config::State s;
  s.generation = 9;
  s.dataplane.next_hop_mac = {2, 0, 0, 0, 0, 0xfe};
  s.dataplane.tunnel_source_v4 = ip("198.18.0.1");
  config::Vip v;
  v.address = ip("198.18.0.10");
  v.port = 80;
  v.backends = {config::Backend{ip("198.18.1.1"), 1, false, {}, {}, {}}};
  s.vips.push_back(v);
  return s;
}

std::string request_error(const json& j) {
  auto r = parse_request(j);
  EXPECT_FALSE(r.ok()) << j.dump();
  return r.ok() ? std::string() : r.error().message;
}

TEST(Messages, OpNamesAreTheDocumentedOnes) {
  EXPECT_EQ(op::kPushState, "push_state");
  EXPECT_EQ(op::kGetStatus, "get_status");
  EXPECT_EQ(op::kGetCounters, "get_counters");
  EXPECT_EQ(op::kExplain, "explain");
}

TEST(Messages, PushStateParsesAndValidates) {
  const json j{{"op", "push_state"}, {"state", config::to_json(small_state())}};
  auto r = parse_request(j);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto* push = std::get_if<PushStateRequest>(&*r);
  ASSERT_NE(push, nullptr);
  EXPECT_EQ(push->state, small_state());
  EXPECT_EQ(push->state.generation, 9u);
  EXPECT_EQ(to_json(*r), j);

  json bad = j;
  bad["state"]["vips"][0]["port"] = "http";
  EXPECT_EQ(request_error(bad), "vips[0].port: expected an integer (0..65535), got \"http\"");
  bad = j;
  bad["state"]["vips"][0]["backends"][0]["address"] = std::string("198.18.0.30\0junk", 16);
  EXPECT_THAT(request_error(bad), HasSubstr("vips[0].backends[0].address: \"198.18.0.30"));
  EXPECT_THAT(request_error(bad), HasSubstr("is not an IPv4 or IPv6 address"));
  bad = j;
  bad["state"]["vips"][0]["backends"][0]["address"] = "198.18.0.10";
  EXPECT_EQ(request_error(bad),
            "vips[0].backends[0].address: 198.18.0.10 is a VIP address: packets would loop "
            "through the load balancer");
  EXPECT_EQ(request_error(json{{"op", "push_state"}}),
            "state: missing (push_state carries the whole state)");
}

TEST(Messages, SimpleRequests) {
  auto status = parse_request(json{{"op", "get_status"}});
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(std::holds_alternative<GetStatusRequest>(*status));
  EXPECT_EQ(op_name(*status), "get_status");
  auto counters = parse_request(json{{"op", "get_counters"}});
  ASSERT_TRUE(counters.ok());
  EXPECT_TRUE(std::holds_alternative<GetCountersRequest>(*counters));
  EXPECT_EQ(to_json(*counters), (json{{"op", "get_counters"}}));
}

TEST(Messages, MalformedRequests) {
  EXPECT_EQ(request_error(json::array()), "request: expected an object, got []");
  EXPECT_EQ(request_error(json::object()), "op: missing (a request names its operation)");
  EXPECT_EQ(request_error(json{{"op", 3}}), "op: expected a string, got 3");
  EXPECT_EQ(request_error(json{{"op", "reboot"}}),
            "op: unknown operation \"reboot\" (known: push_state, get_status, get_counters, "
            "explain)");
  EXPECT_EQ(request_error(json{{"op", "get_status"}, {"verbose", true}}),
            "a get_status request: unknown key \"verbose\" (allowed: op)");
}

TEST(Messages, ExplainRequest) {
  const json j = json::parse(R"({"op":"explain","flow":{"src":"198.18.2.1","dst":"198.18.0.10",
      "src_port":1234,"dst_port":80,"protocol":"tcp"}})");
  auto r = parse_request(j);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& flow = std::get<ExplainRequest>(*r).flow;
  EXPECT_EQ(flow.src, ip("198.18.2.1"));
  EXPECT_EQ(flow.dst, ip("198.18.0.10"));
  EXPECT_EQ(flow.src_port, 1234);
  EXPECT_EQ(flow.dst_port, 80);
  EXPECT_EQ(flow.protocol, config::Protocol::tcp);
  EXPECT_FALSE(flow.syn);
  EXPECT_EQ(to_json(*r), j);

  json syn = j;
  syn["flow"]["syn"] = true;
  auto with_syn = parse_request(syn);
  ASSERT_TRUE(with_syn.ok()) << with_syn.error().message;
  EXPECT_TRUE(std::get<ExplainRequest>(*with_syn).flow.syn);
  EXPECT_EQ(to_json(*with_syn), syn);
  syn["flow"]["protocol"] = "udp";
  EXPECT_EQ(parse_request(syn).error().message, "flow.syn: only a TCP flow has SYNs");

  const FlowKey key = flow.to_flow_key();
  EXPECT_EQ(key.src(), flow.src);
  EXPECT_EQ(key.dst(), flow.dst);
  EXPECT_EQ(key.src_port, 1234);
  EXPECT_EQ(key.dst_port, 80);
  EXPECT_EQ(key.protocol, 6);
  EXPECT_EQ(key.family, AddressFamily::v4);

  json bad = j;
  bad["flow"]["dst"] = "2001:db8::10";
  EXPECT_EQ(request_error(bad),
            "flow.dst: 2001:db8::10 is not the same IP version as flow.src (198.18.2.1)");
  bad = j;
  bad["flow"]["protocol"] = "icmp";
  EXPECT_EQ(request_error(bad), "flow.protocol: expected tcp or udp, got \"icmp\"");
  bad = j;
  bad["flow"]["src_port"] = 70000;
  EXPECT_EQ(request_error(bad), "flow.src_port: 70000 is out of range 0..65535");
  bad = j;
  bad["flow"].erase("dst_port");
  EXPECT_EQ(request_error(bad), "flow.dst_port: missing");
  bad = j;
  bad["flow"]["src"] = "198.18.2";
  EXPECT_EQ(request_error(bad), "flow.src: \"198.18.2\" is not an IPv4 or IPv6 address");
  bad = j;
  bad["flow"]["src"] = std::string("198.18.2.1\0junk", 15);
  EXPECT_THAT(request_error(bad), HasSubstr("is not an IPv4 or IPv6 address"));
  bad = j;
  bad["flow"]["ttl"] = 3;
  EXPECT_THAT(request_error(bad), HasSubstr("flow: unknown key \"ttl\""));
}

TEST(Messages, Replies) {
  EXPECT_EQ(ok_reply(), (json{{"ok", true}}));
  EXPECT_EQ(ok_reply(to_json(PushStateReply{12})), (json{{"ok", true}, {"generation", 12}}));
  EXPECT_EQ(error_reply("vips[0].port: bad"),
            (json{{"ok", false}, {"error", "vips[0].port: bad"}}));

  auto ok = check_reply(json{{"ok", true}, {"generation", 3}});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)["generation"], 3);
  auto refused = check_reply(error_reply("vips[0].port: bad"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "vips[0].port: bad");
  auto malformed = check_reply(json{{"generation", 3}});
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.error().message, "malformed reply: \"ok\" is missing or not true/false");
}

Counters sample_counters() {
  Counters c;
  c.generation = 5;
  LcoreCounters busy;
  busy.lcore = 1;
  busy.rx_packets = 100;
  busy.tx_packets = 90;
  busy.forward = 80;
  busy.reply = 4;
  busy.pass = 6;
  busy.drop = 10;
  busy.host_rx_packets = 3;
  busy.host_relayed = 2;
  busy.host_relay_refused = 1;
  busy.rx_polls = 1000;
  busy.idle_polls = 900;
  busy.busy_polls = 100;
  busy.max_loop_gap_ns = 123456;
  LcoreCounters idle;
  idle.lcore = 2;
  idle.rx_polls = 10;
  idle.idle_polls = 10;
  idle.sleeps = 10;           // --idle sleep
  idle.slept_ns = 4'900'000;  // 10 sleeps of 490 us
  c.per_lcore = {busy, idle};
  VipCounters v;
  v.vip = "198.18.0.10:80/tcp";
  v.packets = 100;
  v.bytes = 6400;
  v.new_flows = 10;
  v.active_flows = 7;
  v.dropped = 2;
  v.replied = 1;
  v.per_backend = {{"198.18.1.1", config::BackendState::up, 60, 3840, 6, 1, 4},
                   {"198.18.1.2", config::BackendState::down, 40, 2560, 4, 0, 3}};
  BackendCounters& passive = v.per_backend[0];
  passive.syns = 9;
  passive.syn_retransmits = 3;
  passive.handshakes = 5;
  passive.handshake_ms_buckets[0] = 1;
  passive.handshake_ms_buckets[6] = 4;
  passive.unanswered = 2;
  passive.syn_rescued = 1;
  c.per_vip.push_back(v);
  for (const auto& info : kDropReasons)
    c.drops[std::string(info.name)] = 0;
  c.drops["no_backend"] = 3;
  c.drops["tx_full"] = 18446744073709551615ull;  // counters are full 64-bit
  c.events["flows_rescheduled"] = 1;
  return c;
}

// A dataplane from before --idle sends no sleeps/slept_ns: still read, as 0.
TEST(Messages, LcoreCountersWithoutSleepFieldsAreRead) {
  json j = to_json(sample_counters());
  for (auto& l : j["per_lcore"]) {
    l.erase("sleeps");
    l.erase("slept_ns");
  }
  auto back = counters_from_json(json::parse(ok_reply(j).dump()));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->per_lcore[1].slept_ns, 0u);
  EXPECT_EQ(back->per_lcore[1].idle_polls, 10u);
}

TEST(Messages, CountersRoundTrip) {
  const Counters c = sample_counters();
  const json j = to_json(c);
  EXPECT_EQ(j["per_lcore"][0]["busy_polls"], 100);
  EXPECT_EQ(j["per_lcore"][0]["max_loop_gap_ns"], 123456);
  EXPECT_EQ(j["per_vip"][0]["vip"], "198.18.0.10:80/tcp");
  EXPECT_EQ(j["per_vip"][0]["per_backend"][1]["address"], "198.18.1.2");
  EXPECT_EQ(j["per_vip"][0]["per_backend"][1]["state"], "down");
  EXPECT_EQ(j["per_lcore"][0]["forward"], 80);
  EXPECT_EQ(j["events"]["flows_rescheduled"], 1);
  const json& passive = j["per_vip"][0]["per_backend"][0];
  EXPECT_EQ(passive["syns"], 9);
  EXPECT_EQ(passive["syn_retransmits"], 3);
  EXPECT_EQ(passive["handshakes"], 5);
  EXPECT_EQ(passive["handshake_ms_buckets"], json::parse("[1,0,0,0,0,0,4,0,0,0,0,0,0,0,0,0]"));
  EXPECT_EQ(passive["unanswered"], 2);
  EXPECT_EQ(passive["syn_rescued"], 1);
  const LcoreCounters total = total_of(c.per_lcore);
  EXPECT_EQ(total.rx_polls, 1010u);
  EXPECT_EQ(total.forward, 80u);
  EXPECT_EQ(total.host_relay_refused, 1u);
  EXPECT_EQ(j["per_lcore"][1]["slept_ns"], 4'900'000);
  EXPECT_EQ((std::pair{total.sleeps, total.slept_ns}),
            (std::pair<std::uint64_t, std::uint64_t>{10, 4'900'000}));
  EXPECT_EQ(j["drops"]["no_backend"], 3);
  EXPECT_EQ(j["drops"].size(), kDropReasonCount);
  auto back = counters_from_json(json::parse(ok_reply(j).dump()));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, c);
}

TEST(Messages, RepliesToleratUnknownKeysButNotWrongTypes) {
  json j = to_json(sample_counters());
  j["per_vip"][0]["future_field"] = "x";
  j["something_new"] = {1, 2};
  EXPECT_TRUE(counters_from_json(j).ok());
  j["per_vip"][0]["per_backend"][0]["packets"] = "many";
  auto bad = counters_from_json(j);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message,
            "malformed reply: per_vip[0].per_backend[0].packets: expected an integer "
            "(0..18446744073709551615), got \"many\"");
  j = to_json(sample_counters());
  j["per_vip"][0]["per_backend"][0]["handshake_ms_buckets"] = {1, 2};
  bad = counters_from_json(j);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message,
            "malformed reply: per_vip[0].per_backend[0].handshake_ms_buckets: expected an array "
            "of 16 counts, got [1,2]");
  j = to_json(sample_counters());
  j["per_vip"][0]["per_backend"][0].erase("handshake_ms_buckets");  // an older dataplane
  auto older = counters_from_json(j);
  ASSERT_TRUE(older.ok()) << older.error().message;
  EXPECT_EQ(older->per_vip[0].per_backend[0].handshake_ms_buckets[6], 0u);
  j = to_json(sample_counters());
  j["drops"]["no_backend"] = -1;
  bad = counters_from_json(j);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "malformed reply: drops.no_backend: expected a count, got -1");
}

TEST(Messages, StatusRoundTrip) {
  DataplaneStatus s;
  s.version = "0.1.0";
  s.generation = 77;
  s.uptime_ms = 123456;
  s.vips = 3;
  s.flow_table_entries = 1u << 20;
  s.lcores = {{0, "main", ""}, {1, "worker", "sleep"}};
  PortStatus p;
  p.port_id = 0;
  p.name = "net_pcap0";
  p.driver = "net_pcap";
  p.mac = "02:00:00:00:00:01";
  p.rx_queues = 1;
  p.tx_queues = 2;
  p.link_up = true;
  p.link_speed_mbps = 10000;
  p.rx_packets = 1;
  p.tx_packets = 2;
  p.rx_bytes = 3;
  p.tx_bytes = 4;
  p.rx_missed = 5;
  p.rx_errors = 6;
  p.tx_errors = 7;
  s.ports = {p};
  const json j = to_json(s);
  EXPECT_EQ(j["protocol_version"], kProtocolVersion);
  EXPECT_EQ(j["lcores"][1]["role"], "worker");
  EXPECT_EQ(j["lcores"][1]["idle"], "sleep");
  EXPECT_FALSE(j["lcores"][0].contains("idle"));  // the main lcore does not poll
  EXPECT_EQ(j["ports"][0]["rx_missed"], 5);
  auto back = status_from_json(ok_reply(j));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, s);
  auto missing = status_from_json(json{{"ok", true}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "malformed reply: generation: missing");
}

TEST(Messages, ExplainResultRoundTrip) {
  ExplainResult r;
  r.vip = "198.18.0.10:80/tcp";
  r.backend = "198.18.1.2";
  r.source = ExplainSource::scheduler;
  r.reason = "new flow: maglev slot 4242 of 65537 belongs to 198.18.1.2 (weight 1 of 2)";
  r.flow_hash = 0xdeadbeef;
  r.maglev_slot = 4242;
  const json j = to_json(r);
  EXPECT_EQ(j["source"], "scheduler");
  EXPECT_FALSE(j.contains("lcore"));
  auto back = explain_result_from_json(j);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, r);

  r = ExplainResult{};
  r.source = ExplainSource::flow_table;
  r.lcore = 1;
  back = explain_result_from_json(to_json(r));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, r);
  EXPECT_EQ(to_string(ExplainSource::none), "none");

  auto bad = explain_result_from_json(json{{"source", "cache"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message,
            "malformed reply: source: expected flow_table, scheduler or none, got \"cache\"");
}

}  // namespace
}  // namespace sluice::control

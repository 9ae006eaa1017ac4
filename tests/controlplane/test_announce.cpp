// The per-VIP announce decision, the include files, BIRD's reply parsing and the drain-state
// file: pure functions, known answers.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "announce/announce_view.hpp"
#include "announce/bird_client.hpp"
#include "announce/decision.hpp"
#include "announce/host_state.hpp"
#include "announce/liveness_watch.hpp"
#include "harness/fake_dataplane.hpp"
#include "metrics/prometheus.hpp"
#include "sluice/config/yaml.hpp"
#include "sluice/control/client.hpp"
#include "temp_dir.hpp"
#include "test_state.hpp"

namespace sluice::cp {
namespace {

using namespace std::chrono_literals;
using testing::backend;
using testing::base_state;
using testing::vip;

// 2026-12-02 12:00:03 UTC
const SystemTime kNoon = std::chrono::system_clock::time_point(1'764'676'803s);

DataplaneLiveness live_dataplane() {
  DataplaneLiveness d;
  d.name = "dp1";
  d.reachable = true;
  d.generation = 7;
  d.synced = true;
  d.in_sync = true;
  return d;
}

HostConditions healthy_host() {
  HostConditions h;
  h.now = kNoon + 10s;
  h.dataplanes = {live_dataplane()};
  h.generation = 7;
  h.health_round_done = true;
  return h;
}

struct Fixture {
  config::State desired = base_state();
  EffectiveState effective;

  Fixture() {
    desired.vips.push_back(vip("198.18.0.10", 80, {backend("198.18.1.1"), backend("198.18.1.2")}));
    desired.vips.push_back(vip("2001:db8::10", 443, {backend("2001:db8:1::1")}));
    effective = compute_effective_state(desired, {}, nullptr);
  }
  std::vector<VipAnnouncement> decide(const HostConditions& h) const {
    return decide_announcements(desired, effective, h);
  }
};

TEST(AnnounceDecision, HealthyHostAnnouncesEveryVip) {
  const Fixture f;
  const auto a = f.decide(healthy_host());
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].vip, "198.18.0.10:80/tcp");
  EXPECT_TRUE(a[0].announced);
  EXPECT_FALSE(a[0].graceful_shutdown);
  EXPECT_EQ(a[0].reason, "announced");
  EXPECT_TRUE(a[1].announced);
}

TEST(AnnounceDecision, UnreachableDataplaneWithdrawsWithItsTime) {
  const Fixture f;
  HostConditions h = healthy_host();
  h.dataplanes[0].reachable = false;
  h.dataplanes[0].unreachable_since = kNoon;
  h.dataplanes[0].error = "connect: Connection refused";
  const auto a = f.decide(h);
  EXPECT_FALSE(a[0].announced);
  EXPECT_EQ(a[0].reason,
            "withdrawn: dataplane dp1 unreachable since 12:00:03 (connect: Connection refused)");
  EXPECT_FALSE(a[1].announced);
}

TEST(AnnounceDecision, StalledWorkerWithdraws) {
  const Fixture f;
  HostConditions h = healthy_host();
  h.dataplanes[0].stalled = true;
  h.dataplanes[0].stalled_lcore = 1;
  h.dataplanes[0].stalled_since = kNoon;
  EXPECT_EQ(f.decide(h)[0].reason,
            "withdrawn: dataplane dp1 worker lcore 1 stopped polling at 12:00:03");
}

TEST(AnnounceDecision, NotYetSyncedWithdrawsButAPushInFlightDoesNot) {
  const Fixture f;
  HostConditions h = healthy_host();
  h.dataplanes[0].synced = false;
  h.dataplanes[0].in_sync = false;
  h.dataplanes[0].generation = 0;
  EXPECT_EQ(f.decide(h)[0].reason,
            "withdrawn: dataplane dp1 does not run the current generation yet (runs 0, current 7)");

  // Synced before; the next generation is being pushed: still announced within the grace.
  h.dataplanes[0] = live_dataplane();
  h.generation = 8;
  h.dataplanes[0].in_sync = false;
  h.dataplanes[0].out_of_sync_since = h.now - 1s;
  EXPECT_TRUE(f.decide(h)[0].announced);
  h.dataplanes[0].out_of_sync_since = kNoon;  // 10 s ago, grace 5 s
  EXPECT_EQ(f.decide(h)[0].reason,
            "withdrawn: dataplane dp1 has not run the current generation since 12:00:03 (runs 7, "
            "current 8)");
}

TEST(AnnounceDecision, NoDataplaneConfiguredWithdraws) {
  const Fixture f;
  HostConditions h = healthy_host();
  h.dataplanes.clear();
  EXPECT_EQ(f.decide(h)[0].reason, "withdrawn: no local dataplane configured");
}

TEST(AnnounceDecision, WaitsForTheFirstRoundOfHealthChecks) {
  const Fixture f;
  HostConditions h = healthy_host();
  h.health_round_done = false;
  EXPECT_EQ(f.decide(h)[0].reason, "withdrawn: waiting for the first round of health checks");
}

TEST(AnnounceDecision, VipWithEveryBackendDownIsWithdrawnOthersStay) {
  Fixture f;
  const config::VipKey key = config::key_of(f.desired.vips[0]);
  f.effective = compute_effective_state(f.desired,
                                        {{BackendRef{key, testing::ip("198.18.1.1")}, false},
                                         {BackendRef{key, testing::ip("198.18.1.2")}, false}},
                                        nullptr);
  const auto a = f.decide(healthy_host());
  EXPECT_FALSE(a[0].announced);
  EXPECT_EQ(a[0].reason, "withdrawn: no backend up");
  EXPECT_TRUE(a[1].announced);
}

TEST(AnnounceDecision, OneBackendUpIsEnough) {
  Fixture f;
  const config::VipKey key = config::key_of(f.desired.vips[0]);
  f.effective = compute_effective_state(
      f.desired, {{BackendRef{key, testing::ip("198.18.1.1")}, false}}, nullptr);
  EXPECT_TRUE(f.decide(healthy_host())[0].announced);
}

TEST(AnnounceDecision, VipWithoutBackendsOrAllDrainedIsWithdrawn) {
  Fixture f;
  f.desired.vips[0].backends[0].drained = true;
  f.desired.vips[0].backends[1].weight = 0;
  f.effective = compute_effective_state(f.desired, {}, nullptr);
  EXPECT_EQ(f.decide(healthy_host())[0].reason, "withdrawn: no backend up");
}

TEST(AnnounceDecision, DrainWithdrawsAfterTheGracefulPhase) {
  const Fixture f;
  HostConditions h = healthy_host();
  h.drained = true;
  h.drained_since = kNoon;
  h.graceful_phase = true;
  auto a = f.decide(h);
  EXPECT_TRUE(a[0].announced);
  EXPECT_TRUE(a[0].graceful_shutdown);
  EXPECT_EQ(a[0].reason, "announced with GRACEFUL_SHUTDOWN (65535,0): host drained since 12:00:03");
  h.graceful_phase = false;
  a = f.decide(h);
  EXPECT_FALSE(a[0].announced);
  EXPECT_FALSE(a[1].announced);
  EXPECT_EQ(a[0].reason, "withdrawn: host drained since 12:00:03");
}

TEST(AnnounceDecision, GracefulPhaseDoesNotAnnounceWhatWasWithdrawn) {
  const Fixture f;
  HostConditions h = healthy_host();
  h.drained = true;
  h.graceful_phase = true;
  h.health_round_done = false;
  EXPECT_FALSE(f.decide(h)[0].announced);
}

TEST(AnnounceDecision, Policies) {
  Fixture f;
  f.desired.vips[0].announce = config::AnnouncePolicy::never;
  f.desired.vips[1].announce = config::AnnouncePolicy::always;
  HostConditions h = healthy_host();
  h.dataplanes[0].reachable = false;  // always ignores the dataplane ...
  auto a = f.decide(h);
  EXPECT_FALSE(a[0].announced);
  EXPECT_EQ(a[0].reason, "withdrawn: policy never");
  EXPECT_TRUE(a[1].announced);
  EXPECT_EQ(a[1].reason, "announced (policy always)");
  h.drained = true;  // ... but not a drain
  h.drained_since = kNoon;
  a = f.decide(h);
  EXPECT_FALSE(a[1].announced);
  EXPECT_EQ(a[1].reason, "withdrawn: host drained since 12:00:03");
}

TEST(AnnounceInclude, OneLinePerAddressAndFamily) {
  std::vector<VipAnnouncement> a(4);
  a[0].address = testing::ip("198.18.0.10");
  a[0].announced = true;
  a[1].address = testing::ip("198.18.0.10");  // the same address on another port
  a[1].announced = true;
  a[2].address = testing::ip("198.18.0.9");
  a[2].announced = false;
  a[3].address = testing::ip("2001:db8::10");
  a[3].announced = true;
  a[3].graceful_shutdown = true;
  const std::string header =
      "# Written by sluice-controlplane: the VIPs this host announces. Do not edit.\n";
  EXPECT_EQ(render_include(a, false), header + "route 198.18.0.10/32 blackhole;\n");
  EXPECT_EQ(render_include(a, true),
            header + "route 2001:db8::10/128 blackhole { bgp_community.add((65535,0)); };\n");
  EXPECT_EQ(render_include({}, false), header);
}

TEST(BirdReply, ParsesCodesContinuationsAndTheEnd) {
  EXPECT_FALSE(parse_bird_reply("0002-Reading configuration from /x.conf\n").has_value());
  const auto ok = parse_bird_reply("0002-Reading configuration from /x.conf\n0003 Reconfigured\n");
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->code, 3);
  EXPECT_TRUE(ok->ok());
  EXPECT_EQ(ok->summary(), "Reading configuration from /x.conf; Reconfigured");
  const auto bad = parse_bird_reply("8002 /x.conf:3:1 syntax error, unexpected CF_SYM_UNDEFINED\n");
  ASSERT_TRUE(bad.has_value());
  EXPECT_FALSE(bad->ok());
  EXPECT_EQ(bad->code, 8002);
}

TEST(BirdReply, ShowProtocols) {
  const auto reply = parse_bird_reply(
      "2002-Name       Proto      Table      State  Since         Info\n"
      "1002-device1    Device     ---        up     23:59:44.123  \n"
      " sluice_vips4 Static     master4    up     23:59:44.123  \n"
      " uplink     BGP        ---        up     23:59:45.456  Established   \n"
      " backup     BGP        ---        start  2026-12-01 23:59:44  Active        Socket: "
      "Connection refused\n"
      "0000 \n");
  ASSERT_TRUE(reply.has_value());
  const auto p = parse_show_protocols(*reply);
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[0].name, "device1");
  EXPECT_EQ(p[1].name, "sluice_vips4");
  EXPECT_EQ(p[1].proto, "Static");
  EXPECT_EQ(p[2].name, "uplink");
  EXPECT_EQ(p[2].info, "Established");
  EXPECT_TRUE(p[2].session_up());
  EXPECT_EQ(p[3].state, "start");
  EXPECT_EQ(p[3].since, "2026-12-01 23:59:44");
  EXPECT_EQ(p[3].info, "Active        Socket: Connection refused");
  EXPECT_FALSE(p[3].session_up());
}

TEST(HostState, RoundTripsAndRefusesGarbage) {
  testing::TempDir dir;
  const std::string path = dir.file("host.yaml");
  auto missing = load_host_drain(path);
  ASSERT_TRUE(missing.ok()) << missing.error().message;
  EXPECT_FALSE(missing->drained);
  HostDrain d;
  d.drained = true;
  d.since = kNoon;
  d.graceful_shutdown = true;
  ASSERT_TRUE(save_host_drain(path, d).ok());
  auto back = load_host_drain(path);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back.value(), d);
  std::ofstream(path) << "{\"drained\": \"yes\"}";
  auto bad = load_host_drain(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find(path), std::string::npos);
}

TEST(Liveness, ProcessStateOfThisProcessRuns) {
  const auto s = process_state(::getpid());
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(*s, 'R');
  EXPECT_FALSE(process_state(0x7ffffff0).has_value());
}

// A stand-in dataplane socket: the real one cannot freeze one worker loop on demand.
TEST(Liveness, SeesSyncStallsAndAProcessGone) {
  testing::TempDir dir;
  const std::string socket = dir.file("dp.sock");
  testing::FakeDataplane fake(socket);
  control::Counters counters;
  counters.per_lcore = {{.lcore = 1, .rx_polls = 100}, {.lcore = 2, .rx_polls = 100}};
  fake.set_counters(counters);
  {
    auto client = control::ControlClient::connect(socket);
    ASSERT_TRUE(client.ok());
    config::State state = base_state();
    state.generation = 5;
    ASSERT_TRUE(client->push_state(state).ok());
  }
  LivenessOptions options;
  options.stall_after = 200ms;
  LivenessWatch watch({{"dp1", socket}}, options);
  EXPECT_FALSE(watch.state()[0].reachable);  // not asked yet

  watch.sample(5);
  DataplaneLiveness d = watch.state()[0];
  EXPECT_TRUE(d.reachable);
  EXPECT_TRUE(d.synced);
  EXPECT_TRUE(d.in_sync);
  EXPECT_FALSE(d.stalled);

  // A new generation is current; the dataplane still runs 5.
  watch.sample(6);
  d = watch.state()[0];
  EXPECT_TRUE(d.synced);
  EXPECT_FALSE(d.in_sync);
  EXPECT_EQ(d.generation, 5u);

  // lcore 2 keeps polling, lcore 1 stops.
  std::this_thread::sleep_for(150ms);
  counters.per_lcore[1].rx_polls = 200;
  fake.set_counters(counters);
  watch.sample(5);
  EXPECT_FALSE(watch.state()[0].stalled);
  std::this_thread::sleep_for(150ms);
  counters.per_lcore[1].rx_polls = 300;
  fake.set_counters(counters);
  watch.sample(5);
  d = watch.state()[0];
  EXPECT_TRUE(d.stalled);
  EXPECT_EQ(d.stalled_lcore, 1u);
  counters.per_lcore[0].rx_polls = 101;
  fake.set_counters(counters);
  watch.sample(5);
  EXPECT_FALSE(watch.state()[0].stalled);

  fake.stop();
  watch.sample(5);
  d = watch.state()[0];
  EXPECT_FALSE(d.reachable);
  EXPECT_FALSE(d.synced);
  EXPECT_FALSE(d.error.empty());
}

TEST(AnnounceMetrics, SeriesPerVipProtocolAndHost) {
  AnnounceReport r;
  r.vips.resize(2);
  r.vips[0].vip = "198.18.0.10:80/tcp";
  r.vips[0].announced = true;
  r.vips[1].vip = "[2001:db8::10]:443/tcp";
  r.drain.drained = true;
  r.protocols = {{"router1", "BGP", "up", "", "Established"},
                 {"router2", "BGP", "start", "", "Active"},
                 {"sluice_vips4", "Static", "up", "", ""}};
  r.configures = 3;
  const std::string text = render_announce_metrics(r);
  EXPECT_NE(text.find("sluice_vip_announced{vip=\"198.18.0.10:80/tcp\"} 1\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("sluice_vip_announced{vip=\"[2001:db8::10]:443/tcp\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("sluice_host_drained 1\n"), std::string::npos);
  EXPECT_NE(text.find("sluice_bgp_session_up{protocol=\"router1\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("sluice_bgp_session_up{protocol=\"router2\"} 0\n"), std::string::npos);
  EXPECT_EQ(text.find("sluice_vips4"), std::string::npos);  // only BGP protocols
  EXPECT_NE(text.find("sluice_bird_configures_total 3\n"), std::string::npos);
}

TEST(HostView, DrainStateAnnouncementsAndWhatStillArrives) {
  AnnounceReport r;
  r.host_name = "lb1";
  r.bgp = true;
  r.drain = {true, kNoon, true};
  r.withdraw_at = kNoon + 2s;
  r.vips.resize(1);
  r.vips[0].vip = "198.18.0.10:80/tcp";
  r.vips[0].reason = "withdrawn: host drained since 12:00:03";
  r.protocols = {{"router1", "BGP", "up", "12:00:00.000", "Established"}};
  DataplaneReport d;
  d.name = "dp1";
  d.reachable = true;
  const auto t0 = std::chrono::steady_clock::now();
  control::Counters before;
  before.per_lcore = {{.lcore = 1, .rx_packets = 1000}, {.lcore = 2, .rx_packets = 1000}};
  control::Counters now = before;
  now.per_lcore[0].rx_packets = 1500;  // +500 and +1500 over 2 s: 1000 packets/s
  now.per_lcore[1].rx_packets = 2500;
  control::VipCounters vip_counters;
  vip_counters.vip = "198.18.0.10:80/tcp";
  vip_counters.active_flows = 42;
  now.per_vip = {vip_counters};
  d.previous_counters = CountersSample{before, t0};
  d.counters = CountersSample{now, t0 + 2s};
  const nlohmann::json h = host_view(r, {d});
  EXPECT_EQ(h["host_name"], "lb1");
  EXPECT_TRUE(h["drained"].get<bool>());
  EXPECT_DOUBLE_EQ(h["drained_since"].get<double>(), 1'764'676'803.0);
  EXPECT_DOUBLE_EQ(h["withdraw_at"].get<double>(), 1'764'676'805.0);
  EXPECT_TRUE(h["graceful_shutdown"].get<bool>());
  EXPECT_EQ(h["announced"], 0);
  EXPECT_EQ(h["vips"][0]["reason"], "withdrawn: host drained since 12:00:03");
  EXPECT_TRUE(h["protocols"][0]["session_up"].get<bool>());
  EXPECT_EQ(h["active_flows"], 42u);
  EXPECT_DOUBLE_EQ(h["rx_pps"].get<double>(), 1000.0);
  EXPECT_DOUBLE_EQ(h["dataplanes"][0]["rx_pps"].get<double>(), 1000.0);

  nlohmann::json status = {{"vips", {{{"vip", "198.18.0.10:80/tcp"}}}}};
  add_announcements(status, r);
  EXPECT_EQ(status["host"]["name"], "lb1");
  EXPECT_FALSE(status["vips"][0]["announced"].get<bool>());
  EXPECT_EQ(status["vips"][0]["announce"], "when-healthy");
  EXPECT_EQ(status["vips"][0]["announce_reason"], "withdrawn: host drained since 12:00:03");
}

TEST(AnnounceConfig, BgpKeysParseValidateAndRoundTrip) {
  const auto state = config::load_yaml_string(R"(
dataplane: {next_hop_mac: "02:00:00:00:00:fe", tunnel_source_v4: 198.18.0.1}
vips:
  - {address: 198.18.0.10, port: 80, protocol: tcp, announce: never}
  - {address: 198.18.0.11, port: 80, protocol: tcp}
controlplane:
  host_state_file: /tmp/sl-ann-host.yaml
  bgp:
    bird_socket: /run/sl-ann/bird.ctl
    include_v4: /run/sl-ann/v4.conf
    include_v6: /run/sl-ann/v6.conf
    bird_command: [bird, -f, -c, /run/sl-ann/bird.conf]
    graceful_shutdown: false
    graceful_shutdown_hold_ms: 500
)",
                                              "test");
  ASSERT_TRUE(state.ok()) << state.error().message;
  EXPECT_EQ(state->vips[0].announce, config::AnnouncePolicy::never);
  EXPECT_EQ(state->vips[1].announce, config::AnnouncePolicy::when_healthy);
  ASSERT_TRUE(state->controlplane && state->controlplane->bgp);
  const config::BgpSettings& b = *state->controlplane->bgp;
  EXPECT_EQ(state->controlplane->host_state_file, "/tmp/sl-ann-host.yaml");
  EXPECT_EQ(b.bird_socket, "/run/sl-ann/bird.ctl");
  EXPECT_EQ(b.bird_command.size(), 4u);
  EXPECT_FALSE(b.graceful_shutdown);
  EXPECT_EQ(b.graceful_shutdown_hold_ms, 500u);
  const auto again = config::load_yaml_string(config::to_yaml(state.value()), "again");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again.value(), state.value());

  const auto same_file = config::load_yaml_string(
      "controlplane:\n  bgp: {include_v4: /a.conf, include_v6: /a.conf}\n", "test");
  ASSERT_FALSE(same_file.ok());
  EXPECT_NE(same_file.error().message.find("controlplane.bgp.include_v6"), std::string::npos);
  const auto bad_policy = config::load_yaml_string(
      "dataplane: {next_hop_mac: \"02:00:00:00:00:fe\", tunnel_source_v4: 198.18.0.1}\n"
      "vips:\n  - {address: 198.18.0.10, port: 80, protocol: tcp, announce: sometimes}\n",
      "test");
  ASSERT_FALSE(bad_policy.ok());
  EXPECT_NE(bad_policy.error().message.find("when-healthy"), std::string::npos);
}

}  // namespace
}  // namespace sluice::cp

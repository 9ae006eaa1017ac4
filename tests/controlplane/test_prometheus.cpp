#include "metrics/prometheus.hpp"

#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "dataplanes/lcore_load.hpp"
#include "sluice/config/names.hpp"
#include "test_state.hpp"

namespace sluice::cp {
namespace {

using testing::backend;
using testing::base_state;
using testing::ip;
using testing::vip;

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l == line) return true;
  }
  return false;
}

class PrometheusTest : public ::testing::Test {
 protected:
  PrometheusTest() {
    desired = base_state();
    desired.vips.push_back(vip("198.18.0.10", 80, {backend("198.18.1.1"), backend("198.18.1.2")}));
    const config::VipKey key = config::key_of(desired.vips[0]);
    BackendHealth down;
    down.type = config::HealthCheckType::http;
    down.healthy = false;
    down.checks = 13;
    down.failures = 4;
    down.local_errors = 3;  // probes that could not be made: neither success nor failure
    down.latency.observe(std::chrono::microseconds(800));    // 0.0008 s
    down.latency.observe(std::chrono::microseconds(30000));  // 0.03 s
    health.emplace_back(BackendRef{key, ip("198.18.1.2")}, down);
    effective =
        compute_effective_state(desired, {{BackendRef{key, ip("198.18.1.2")}, false}}, nullptr);

    DataplaneReport dp;
    dp.name = "dp1";
    dp.reachable = true;
    dp.in_sync = true;
    dp.uptime_ms = 2500;
    dp.pushes = 4;
    dp.push_failures = 1;
    dp.unreachable_events = 2;
    dp.generation = 7;
    control::Counters c;
    control::VipCounters v;
    v.vip = "198.18.0.10:80/tcp";
    v.packets = 100;
    v.bytes = 6400;
    v.new_flows = 10;
    v.active_flows = 3;
    v.dropped = 7;
    v.per_backend.push_back({"198.18.1.1", config::BackendState::up, 100, 6400, 10, 2, 3});
    v.per_backend[0].syns = 12;
    v.per_backend[0].syn_retransmits = 4;
    v.per_backend[0].handshakes = 6;
    v.per_backend[0].handshake_ms_buckets[0] = 1;   // < 1 ms
    v.per_backend[0].handshake_ms_buckets[6] = 3;   // [32, 64) ms
    v.per_backend[0].handshake_ms_buckets[15] = 2;  // >= 16.384 s
    v.per_backend[0].unanswered = 2;
    v.per_backend[0].syn_rescued = 1;
    c.per_vip.push_back(v);
    c.drops["no_backend"] = 7;
    c.events["flows_rescheduled"] = 2;
    control::LcoreCounters lcore;
    lcore.lcore = 1;
    lcore.rx_packets = 150;
    lcore.tx_packets = 140;
    lcore.forward = 100;
    lcore.pass = 40;
    lcore.reply = 3;
    lcore.drop = 7;
    lcore.rx_polls = 1000;
    lcore.idle_polls = 900;
    lcore.busy_polls = 100;
    c.per_lcore.push_back(lcore);
    dp.counters = CountersSample{c, std::chrono::steady_clock::now()};
    control::Counters before = c;
    before.per_lcore[0].rx_polls = 500;
    before.per_lcore[0].busy_polls = 50;
    dp.previous_counters = CountersSample{before, std::chrono::steady_clock::now()};
    DataplaneReport gone;
    gone.name = "dp2";
    dataplanes = {dp, gone};
    text = render_metrics(MetricsInputs{desired, effective, 7, health, dataplanes});
  }

  config::State desired;
  EffectiveState effective;
  HealthSnapshot health;
  std::vector<DataplaneReport> dataplanes;
  std::string text;
};

TEST_F(PrometheusTest, TrafficCountersAreLabelledByDataplane) {
  EXPECT_TRUE(
      has_line(text, R"(sluice_vip_packets_total{dataplane="dp1",vip="198.18.0.10:80/tcp"} 100)"))
      << text;
  EXPECT_TRUE(
      has_line(text, R"(sluice_vip_bytes_total{dataplane="dp1",vip="198.18.0.10:80/tcp"} 6400)"));
  EXPECT_TRUE(
      has_line(text, R"(sluice_vip_active_flows{dataplane="dp1",vip="198.18.0.10:80/tcp"} 3)"));
  EXPECT_TRUE(has_line(
      text,
      R"(sluice_backend_new_flows_total{dataplane="dp1",vip="198.18.0.10:80/tcp",backend="198.18.1.1"} 10)"));
  EXPECT_TRUE(has_line(
      text,
      R"(sluice_backend_rescheduled_flows_total{dataplane="dp1",vip="198.18.0.10:80/tcp",backend="198.18.1.1"} 2)"));
  EXPECT_TRUE(
      has_line(text, R"(sluice_vip_dropped_total{dataplane="dp1",vip="198.18.0.10:80/tcp"} 7)"));
  EXPECT_FALSE(text.find("sluice_vip_rescheduled_flows_total") != std::string::npos)
      << "a backend-only family";
  EXPECT_TRUE(has_line(
      text, R"(sluice_dataplane_events_total{dataplane="dp1",event="flows_rescheduled"} 2)"));
}

TEST_F(PrometheusTest, PassiveSignalsPerBackendAndTheHandshakeHistogram) {
  const std::string labels = R"(dataplane="dp1",vip="198.18.0.10:80/tcp",backend="198.18.1.1")";
  for (const auto& [name, value] : {std::pair{"syns", 12},
                                    {"syn_retransmits", 4},
                                    {"handshakes", 6},
                                    {"unanswered", 2},
                                    {"syn_rescued", 1}}) {
    EXPECT_TRUE(has_line(text, "sluice_backend_" + std::string(name) + "_total{" + labels + "} " +
                                   std::to_string(value)))
        << name << "\n"
        << text;
  }
  EXPECT_TRUE(has_line(text, "# TYPE sluice_backend_handshake_seconds histogram"));
  EXPECT_TRUE(
      has_line(text, "sluice_backend_handshake_seconds_bucket{" + labels + R"(,le="0.001"} 1)"));
  EXPECT_TRUE(
      has_line(text, "sluice_backend_handshake_seconds_bucket{" + labels + R"(,le="0.032"} 1)"));
  EXPECT_TRUE(
      has_line(text, "sluice_backend_handshake_seconds_bucket{" + labels + R"(,le="0.064"} 4)"));
  EXPECT_TRUE(
      has_line(text, "sluice_backend_handshake_seconds_bucket{" + labels + R"(,le="16.384"} 4)"));
  EXPECT_TRUE(
      has_line(text, "sluice_backend_handshake_seconds_bucket{" + labels + R"(,le="+Inf"} 6)"));
  EXPECT_TRUE(has_line(text, "sluice_backend_handshake_seconds_count{" + labels + "} 6"));
  EXPECT_FALSE(text.find("sluice_vip_syns_total") != std::string::npos) << "backend-only";
}

TEST_F(PrometheusTest, EveryReceivedPacketHasOneFate) {
  EXPECT_TRUE(has_line(
      text, R"(sluice_lcore_packets_total{dataplane="dp1",lcore="1",verdict="forward"} 100)"));
  EXPECT_TRUE(
      has_line(text, R"(sluice_lcore_packets_total{dataplane="dp1",lcore="1",verdict="pass"} 40)"));
  EXPECT_TRUE(
      has_line(text, R"(sluice_lcore_packets_total{dataplane="dp1",lcore="1",verdict="reply"} 3)"));
  EXPECT_TRUE(
      has_line(text, R"(sluice_lcore_packets_total{dataplane="dp1",lcore="1",verdict="drop"} 7)"));
}

TEST_F(PrometheusTest, EveryDropReasonIsExportedByName) {
  EXPECT_TRUE(has_line(text, R"(sluice_drops_total{dataplane="dp1",reason="no_backend"} 7)"));
  EXPECT_TRUE(has_line(text, R"(sluice_drops_total{dataplane="dp1",reason="l2_truncated"} 0)"));
}

TEST_F(PrometheusTest, DataplaneReachabilityAndGeneration) {
  EXPECT_TRUE(has_line(text, R"(sluice_dataplane_up{dataplane="dp1"} 1)"));
  EXPECT_TRUE(has_line(text, R"(sluice_dataplane_up{dataplane="dp2"} 0)"));
  EXPECT_TRUE(has_line(text, R"(sluice_dataplane_generation{dataplane="dp1"} 7)"));
  EXPECT_TRUE(has_line(text, "sluice_controlplane_generation 7"));
  EXPECT_TRUE(has_line(text, R"(sluice_dataplane_in_sync{dataplane="dp1"} 1)"));
  EXPECT_TRUE(has_line(text, R"(sluice_dataplane_in_sync{dataplane="dp2"} 0)"));
  EXPECT_TRUE(has_line(text, R"(sluice_dataplane_uptime_seconds{dataplane="dp1"} 2.5)"));
  EXPECT_TRUE(has_line(text, R"(sluice_dataplane_pushes_total{dataplane="dp1"} 4)"));
  EXPECT_TRUE(has_line(text, R"(sluice_dataplane_push_failures_total{dataplane="dp1"} 1)"));
  EXPECT_TRUE(has_line(text, R"(sluice_dataplane_unreachable_total{dataplane="dp1"} 2)"));
  EXPECT_TRUE(has_line(text, "# TYPE sluice_dataplane_pushes_total counter"));
  EXPECT_TRUE(has_line(text, "# TYPE sluice_dataplane_uptime_seconds gauge"));
}

TEST_F(PrometheusTest, LcoreLoadIsOverTheLastInterval) {
  // Polls went 500 -> 1000 and busy polls 50 -> 100 since the previous sample: load 0.1.
  EXPECT_TRUE(has_line(text, R"(sluice_lcore_rx_packets_total{dataplane="dp1",lcore="1"} 150)"));
  EXPECT_TRUE(has_line(text, R"(sluice_lcore_load{dataplane="dp1",lcore="1"} 0.1)")) << text;
}

control::LcoreCounters lcore_sample(std::uint64_t polls, std::uint64_t busy, std::uint64_t sleeps,
                                    std::uint64_t slept_ns) {
  control::LcoreCounters l;
  l.lcore = 1;
  l.rx_polls = polls;
  l.busy_polls = busy;
  l.sleeps = sleeps;
  l.slept_ns = slept_ns;
  return l;
}

TEST(LcoreLoad, PollingWorkerIsBusyPollsOverPolls) {
  const auto before = lcore_sample(1000, 100, 0, 0);
  const auto now = lcore_sample(3000, 600, 0, 0);
  EXPECT_DOUBLE_EQ(lcore_load(now, &before, std::chrono::seconds(1)), 0.25);
}

TEST(LcoreLoad, SleepingWorkerIsLoadedAtMostForTheShareItWasAwake) {
  // Idle in --idle sleep: few polls, most of them find the odd packet (busy/polls 0.5), but it
  // slept 900 ms of the last second: load 0.1, not 0.5.
  const auto before = lcore_sample(1000, 500, 100, 0);
  const auto now = lcore_sample(3000, 1500, 1900, 900'000'000);
  EXPECT_NEAR(lcore_load(now, &before, std::chrono::seconds(1)), 0.1, 1e-9);
}

TEST(LcoreLoad, AWorkerKeptAwakeByATrickleKeepsItsBusyShare) {
  // Awake the whole second (no sleep in it) but only 2% of its polls found packets.
  const auto before = lcore_sample(0, 0, 10, 5'000'000);
  const auto now = lcore_sample(100000, 2000, 10, 5'000'000);
  EXPECT_DOUBLE_EQ(lcore_load(now, &before, std::chrono::seconds(1)), 0.02);
}

TEST(LcoreLoad, ARestartedDataplaneIsNotComparedWithItsPredecessor) {
  // Counters went down: the previous sample belongs to another process; totals are used.
  const auto before = lcore_sample(9000, 9000, 50, 900'000'000);
  const auto now = lcore_sample(100, 10, 1, 1000);
  EXPECT_DOUBLE_EQ(lcore_load(now, &before, std::chrono::seconds(1)), 0.1);
}

TEST(StateStoreMetrics, EtcdLostIsVisibleAndTheRevisionInForceStays) {
  StateStoreStatus status;
  status.kind = "etcd";
  status.host_name = "lb2";
  status.connected = false;
  status.revision = 12;
  status.refused = "vips[0].port: ...";
  const std::string text = render_state_store_metrics(status);
  EXPECT_TRUE(has_line(text, R"(sluice_state_store_info{kind="etcd",host="lb2"} 1)")) << text;
  EXPECT_TRUE(has_line(text, "sluice_state_store_connected 0")) << text;
  EXPECT_TRUE(has_line(text, "sluice_state_store_revision 12")) << text;
  EXPECT_TRUE(has_line(text, "sluice_state_store_refused 1")) << text;
  EXPECT_TRUE(has_line(text, "# TYPE sluice_state_store_connected gauge")) << text;
}

TEST_F(PrometheusTest, HealthStateAndLatencyHistogram) {
  EXPECT_TRUE(
      has_line(text, R"(sluice_backend_healthy{vip="198.18.0.10:80/tcp",backend="198.18.1.1"} 1)"));
  EXPECT_TRUE(
      has_line(text, R"(sluice_backend_healthy{vip="198.18.0.10:80/tcp",backend="198.18.1.2"} 0)"));
  EXPECT_TRUE(has_line(
      text,
      R"(sluice_backend_state{vip="198.18.0.10:80/tcp",backend="198.18.1.2",state="down"} 1)"));
  EXPECT_TRUE(has_line(
      text, R"(sluice_backend_state{vip="198.18.0.10:80/tcp",backend="198.18.1.2",state="up"} 0)"));
  EXPECT_TRUE(has_line(
      text, R"(sluice_backend_state{vip="198.18.0.10:80/tcp",backend="198.18.1.1",state="up"} 1)"));
  EXPECT_TRUE(
      has_line(text, R"(sluice_backend_weight{vip="198.18.0.10:80/tcp",backend="198.18.1.2"} 1)"));
  EXPECT_TRUE(has_line(
      text, R"(sluice_backend_effective_weight{vip="198.18.0.10:80/tcp",backend="198.18.1.2"} 0)"));
  EXPECT_TRUE(has_line(
      text,
      R"(sluice_health_check_duration_seconds_bucket{vip="198.18.0.10:80/tcp",backend="198.18.1.2",le="0.0005"} 0)"));
  EXPECT_TRUE(has_line(
      text,
      R"(sluice_health_check_duration_seconds_bucket{vip="198.18.0.10:80/tcp",backend="198.18.1.2",le="0.001"} 1)"));
  EXPECT_TRUE(has_line(
      text,
      R"(sluice_health_check_duration_seconds_bucket{vip="198.18.0.10:80/tcp",backend="198.18.1.2",le="0.05"} 2)"));
  EXPECT_TRUE(has_line(
      text,
      R"(sluice_health_check_duration_seconds_bucket{vip="198.18.0.10:80/tcp",backend="198.18.1.2",le="+Inf"} 2)"));
  EXPECT_TRUE(has_line(
      text,
      R"(sluice_health_check_duration_seconds_count{vip="198.18.0.10:80/tcp",backend="198.18.1.2"} 2)"));
  EXPECT_TRUE(has_line(
      text,
      R"(sluice_health_checks_total{vip="198.18.0.10:80/tcp",backend="198.18.1.2",result="failure"} 4)"));
  EXPECT_TRUE(has_line(
      text,
      R"(sluice_health_checks_total{vip="198.18.0.10:80/tcp",backend="198.18.1.2",result="success"} 6)"));
  EXPECT_TRUE(has_line(
      text,
      R"(sluice_health_checks_total{vip="198.18.0.10:80/tcp",backend="198.18.1.2",result="local_error"} 3)"));
}

TEST_F(PrometheusTest, EachFamilyIsDeclaredOnceAndItsSamplesAreContiguous) {
  std::istringstream in(text);
  std::set<std::string> declared;
  std::set<std::string> finished;
  std::string current;
  for (std::string line; std::getline(in, line);) {
    ASSERT_FALSE(line.empty());
    if (line.rfind("# TYPE ", 0) == 0) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(declared.insert(name).second) << "declared twice: " << name;
      if (!current.empty()) finished.insert(current);
      current = name;
      continue;
    }
    if (line[0] == '#') continue;
    const std::string sample = line.substr(0, line.find_first_of("{ "));
    const bool belongs = sample == current || sample == current + "_bucket" ||
                         sample == current + "_sum" || sample == current + "_count";
    EXPECT_TRUE(belongs) << "sample " << sample << " outside its family (current " << current
                         << ")";
  }
}

TEST(PrometheusEscape, LabelValues) {
  EXPECT_EQ(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

}  // namespace
}  // namespace sluice::cp

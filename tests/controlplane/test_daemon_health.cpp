// Health checks end to end: the real daemon probes real backends in a network namespace and
// pushes to a (fake) dataplane. A backend that stops answering leaves the pushed state within
// interval x fall (+ one interval); it returns after rise successes.
#include <signal.h>

#include <cstdio>

#include "daemon_fixture.hpp"

namespace sluice::cp::testing {
namespace {

constexpr int kIntervalMs = 500;
constexpr int kTimeoutMs = 200;
constexpr int kRise = 2;
constexpr int kFall = 3;
constexpr int kSlackMs = 150;  // the pusher wakes on the transition; this covers scheduling noise

using ms = std::chrono::milliseconds;

TEST_F(DaemonTest, HttpBackendThatStopsAnsweringLeavesAndReturns) {
  write_config(R"(  - address: 198.18.0.10
    port: 80
    protocol: tcp
    health_check: {type: http, path: /healthz, expect_body: ok, interval_ms: 500, timeout_ms: 200, rise: 2, fall: 3}
    backends:
      - {address: 198.18.1.1}
      - {address: 198.18.1.2}
      - {address: 198.18.1.3}
)");
  start_backend("http", "198.18.1.1", 80);
  Process& victim = start_backend("http", "198.18.1.2", 80);
  start_backend("http", "198.18.1.3", 80);
  start_daemon();

  ASSERT_TRUE(dataplane_->wait_for_push(
      [](const config::State& s) { return pushed_backends(s).size() == 3; }, ms(5000)))
      << daemon_->log();
  ASSERT_TRUE(wait_all_healthy_and_checked(ms(5000))) << api("GET", "/v1/health").raw_body;

  // Stop answering: the process is frozen, the kernel still accepts connections.
  const std::size_t before_failure = dataplane_->pushes().size();
  const auto stopped = std::chrono::steady_clock::now();
  victim.signal(SIGSTOP);
  const auto removed = dataplane_->wait_for_push(
      [](const config::State& s) {
        return backend_is(s, "198.18.1.2", config::BackendState::down);
      },
      ms(5000), before_failure);
  ASSERT_TRUE(removed.has_value()) << daemon_->log();
  const auto detection = std::chrono::duration_cast<ms>(removed->at - stopped);
  const int bound = kIntervalMs * kFall + kIntervalMs;
  std::printf(
      "failure detection: %lld ms (interval %d ms x fall %d = %d ms; bound with the check "
      "in flight %d ms)\n",
      static_cast<long long>(detection.count()), kIntervalMs, kFall, kIntervalMs * kFall, bound);
  EXPECT_LE(detection.count(), bound + kSlackMs);
  // Dampened: the first failed check alone must not remove it.
  EXPECT_GE(detection.count(), kIntervalMs * (kFall - 1) + kTimeoutMs - kSlackMs);
  EXPECT_EQ(pushed_backends(removed->state),
            (std::vector<std::string>{"198.18.1.1 up/1", "198.18.1.2 down/0", "198.18.1.3 up/1"}))
      << "a failing backend stays in the pushed state, down";

  const ctl::ApiReply status = api("GET", "/v1/status");
  EXPECT_EQ(status.body["vips"][0]["backends"][1]["health"], "down");
  EXPECT_EQ(status.body["vips"][0]["backends"][1]["state"], "down");
  EXPECT_EQ(status.body["vips"][0]["backends"][1]["effective_weight"], 0);

  // Recovery after `rise` successes.
  const std::size_t before_recovery = dataplane_->pushes().size();
  const auto resumed = std::chrono::steady_clock::now();
  victim.signal(SIGCONT);
  const auto back = dataplane_->wait_for_push(
      [](const config::State& s) { return backend_is(s, "198.18.1.2", config::BackendState::up); },
      ms(5000), before_recovery);
  ASSERT_TRUE(back.has_value()) << daemon_->log();
  const auto recovery = std::chrono::duration_cast<ms>(back->at - resumed);
  std::printf("recovery: %lld ms (interval %d ms x rise %d = %d ms)\n",
              static_cast<long long>(recovery.count()), kIntervalMs, kRise, kIntervalMs * kRise);
  EXPECT_LE(recovery.count(), kIntervalMs * kRise + kIntervalMs + kSlackMs);
  EXPECT_EQ(pushed_backends(back->state),
            (std::vector<std::string>{"198.18.1.1 up/1", "198.18.1.2 up/1", "198.18.1.3 up/1"}));

  const std::string log = daemon_->log();
  EXPECT_NE(log.find("198.18.0.10:80/tcp 198.18.1.2 is DOWN after 3 consecutive failed"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("timeout after 200 ms"), std::string::npos);
  EXPECT_NE(log.find("198.18.0.10:80/tcp 198.18.1.2 is UP after 2 consecutive successful"),
            std::string::npos);
}

TEST_F(DaemonTest, UdpAndTcpChecksAndTheDropPolicy) {
  write_config(R"(  - address: 198.18.0.11
    port: 53
    protocol: udp
    health_check: {type: udp, request: ping, expect: "pong:ping", interval_ms: 300, timeout_ms: 100, rise: 1, fall: 2}
    backends:
      - {address: 198.18.1.1}
      - {address: 198.18.1.2}
  - address: 198.18.0.12
    port: 5000
    protocol: tcp
    all_down: drop
    health_check: {type: tcp, interval_ms: 300, timeout_ms: 100, rise: 1, fall: 2}
    backends:
      - {address: 198.18.1.3, weight: 4}
)");
  start_backend("udp", "198.18.1.1", 53, "pong:");
  Process& udp_victim = start_backend("udp", "198.18.1.2", 53, "pong:");
  Process& tcp_victim = start_backend("tcp", "198.18.1.3", 5000);
  start_daemon();
  ASSERT_TRUE(wait_all_healthy_and_checked(ms(5000))) << api("GET", "/v1/health").raw_body;
  ASSERT_TRUE(dataplane_->wait_for_push(
      [](const config::State& s) {
        return pushed_backends(s, 0).size() == 2 && pushed_backends(s, 1).size() == 1;
      },
      ms(3000)));

  // A UDP backend that is gone answers port unreachable: out after `fall` checks.
  std::size_t mark = dataplane_->pushes().size();
  udp_victim.stop(SIGKILL);
  auto removed = dataplane_->wait_for_push(
      [](const config::State& s) {
        return backend_is(s, "198.18.1.2", config::BackendState::down, 0);
      },
      ms(3000), mark);
  ASSERT_TRUE(removed.has_value()) << daemon_->log();
  EXPECT_EQ(pushed_backends(removed->state, 0),
            (std::vector<std::string>{"198.18.1.1 up/1", "198.18.1.2 down/0"}));

  // The only TCP backend of a drop-policy VIP fails: it is pushed down, so new flows drop.
  mark = dataplane_->pushes().size();
  tcp_victim.stop(SIGKILL);
  auto emptied = dataplane_->wait_for_push(
      [](const config::State& s) {
        return s.vips.size() == 2 && backend_is(s, "198.18.1.3", config::BackendState::down, 1);
      },
      ms(3000), mark);
  ASSERT_TRUE(emptied.has_value()) << daemon_->log();
  const ctl::ApiReply status = api("GET", "/v1/status");
  EXPECT_EQ(status.body["vips"][1]["all_down"], true);
  EXPECT_EQ(status.body["vips"][1]["all_down_policy"], "drop");
  EXPECT_NE(daemon_->log().find("VIP 198.18.0.12:5000/tcp has no healthy backend"),
            std::string::npos);
  EXPECT_NE(daemon_->log().find("all_down policy drop: new flows are dropped"), std::string::npos);

  // Metrics (loopback inside the control plane's namespace).
  const Output metrics =
      capture("ip netns exec " + net_.client_ns() + " curl -s http://127.0.0.1:9780/metrics");
  ASSERT_EQ(metrics.code, 0);
  EXPECT_NE(metrics.text.find("sluice_vip_all_down{vip=\"198.18.0.12:5000/tcp\"} 1"),
            std::string::npos)
      << metrics.text;
  EXPECT_NE(metrics.text.find(
                "sluice_backend_healthy{vip=\"198.18.0.11:53/udp\",backend=\"198.18.1.2\"} 0"),
            std::string::npos);
  EXPECT_NE(metrics.text.find(
                "sluice_backend_healthy{vip=\"198.18.0.11:53/udp\",backend=\"198.18.1.1\"} 1"),
            std::string::npos);
  EXPECT_NE(metrics.text.find("sluice_health_check_duration_seconds_count{vip=\"198.18.0.11:53/"
                              "udp\",backend=\"198.18.1.1\"}"),
            std::string::npos);
  EXPECT_NE(metrics.text.find("sluice_dataplane_up{dataplane=\"dp1\"} 1"), std::string::npos);
}

}  // namespace
}  // namespace sluice::cp::testing

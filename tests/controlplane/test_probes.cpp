// Every probe kind against real sockets on 127.0.0.1, and the monitor's scheduling.
#include "health/probe.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <cstdlib>
#include <future>
#include <sstream>

#include "health/health_monitor.hpp"
#include "local_servers.hpp"
#include "sluice/config/names.hpp"
#include "temp_dir.hpp"
#include "test_state.hpp"

namespace sluice::cp {
namespace {

using testing::http_response;
using testing::ip;
using testing::LocalTcpServer;
using testing::LocalUdpEcho;
using testing::unused_port;

ProbeOutcome probe(const ProbeSpec& spec, asio::ssl::context* tls = nullptr) {
  asio::io_context io;
  asio::ssl::context client_tls(asio::ssl::context::tls_client);
  client_tls.set_verify_mode(asio::ssl::verify_none);
  ProbeOutcome out;
  bool done = false;
  start_probe(io, tls ? *tls : client_tls, spec, [&](ProbeOutcome o) {
    out = std::move(o);
    done = true;
  });
  io.run_for(std::chrono::seconds(5));
  EXPECT_TRUE(done) << "the probe never completed";
  return out;
}

ProbeSpec spec(config::HealthCheckType type, std::uint16_t port, int timeout_ms = 500) {
  ProbeSpec s;
  s.address = ip("127.0.0.1");
  s.port = port;
  s.check.type = type;
  s.timeout = std::chrono::milliseconds(timeout_ms);
  return s;
}

TEST(Probes, TcpConnectSucceedsAndMeasuresLatency) {
  LocalTcpServer server(LocalTcpServer::Mode::close);
  const ProbeOutcome o = probe(spec(config::HealthCheckType::tcp, server.port()));
  EXPECT_TRUE(o.success) << o.detail;
  EXPECT_GT(o.latency.count(), 0);
  EXPECT_LT(o.latency.count(), 500'000);
}

TEST(Probes, TcpConnectRefusedFailsAtOnce) {
  const ProbeOutcome o = probe(spec(config::HealthCheckType::tcp, unused_port()));
  EXPECT_FALSE(o.success);
  EXPECT_NE(o.detail.find("connect"), std::string::npos) << o.detail;
  EXPECT_LT(o.latency.count(), 400'000);
}

TEST(Probes, HttpExpectedStatusAndBody) {
  LocalTcpServer server(LocalTcpServer::Mode::http, http_response(200, "status: ok\n"));
  ProbeSpec s = spec(config::HealthCheckType::http, server.port());
  s.check.expect_body = "ok";
  const ProbeOutcome o = probe(s);
  EXPECT_TRUE(o.success) << o.detail;
  EXPECT_EQ(o.detail, "HTTP 200");
}

TEST(Probes, HttpWrongStatusFails) {
  LocalTcpServer server(LocalTcpServer::Mode::http, http_response(503, "overloaded"));
  const ProbeOutcome o = probe(spec(config::HealthCheckType::http, server.port()));
  EXPECT_FALSE(o.success);
  EXPECT_EQ(o.detail, "HTTP 503, expected 200");
}

TEST(Probes, HttpMissingBodySubstringFails) {
  LocalTcpServer server(LocalTcpServer::Mode::http, http_response(200, "status: degraded"));
  ProbeSpec s = spec(config::HealthCheckType::http, server.port());
  s.check.expect_body = "status: ok";
  const ProbeOutcome o = probe(s);
  EXPECT_FALSE(o.success);
  EXPECT_NE(o.detail.find("does not contain \"status: ok\""), std::string::npos) << o.detail;
}

TEST(Probes, HttpServerThatNeverAnswersTimesOut) {
  LocalTcpServer server(LocalTcpServer::Mode::silent);
  const ProbeOutcome o = probe(spec(config::HealthCheckType::http, server.port(), 200));
  EXPECT_FALSE(o.success);
  EXPECT_EQ(o.detail, "timeout after 200 ms");
  EXPECT_GE(o.latency.count(), 190'000);
  EXPECT_LT(o.latency.count(), 1'000'000);
}

TEST(Probes, HttpsGetOverTls) {
  testing::TempDir dir;
  const std::string key = dir.file("key.pem");
  const std::string cert = dir.file("cert.pem");
  const std::string command =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=backend -keyout " + key +
      " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << "openssl could not make a test certificate";
  asio::ssl::context server_tls(asio::ssl::context::tls_server);
  server_tls.use_certificate_chain_file(cert);
  server_tls.use_private_key_file(key, asio::ssl::context::pem);
  LocalTcpServer server(LocalTcpServer::Mode::http, http_response(204, ""), &server_tls);
  ProbeSpec s = spec(config::HealthCheckType::https, server.port(), 2000);
  s.check.expect_status = 204;
  s.check.http_host = "backend.example";
  const ProbeOutcome o = probe(s);
  EXPECT_TRUE(o.success) << o.detail;
  EXPECT_EQ(o.detail, "HTTP 204");
}

TEST(Probes, HttpsAgainstPlainHttpFailsTheHandshake) {
  LocalTcpServer server(LocalTcpServer::Mode::greeting, http_response(400, "plain HTTP here"));
  const ProbeOutcome o = probe(spec(config::HealthCheckType::https, server.port()));
  EXPECT_FALSE(o.success);
  EXPECT_NE(o.detail.find("tls handshake"), std::string::npos) << o.detail;
}

TEST(Probes, UdpRequestAndExpectedReply) {
  LocalUdpEcho echo("pong:");
  ProbeSpec s = spec(config::HealthCheckType::udp, echo.port());
  s.check.udp_request = "ping";
  s.check.udp_expect = "pong:ping";
  const ProbeOutcome o = probe(s);
  EXPECT_TRUE(o.success) << o.detail;
  s.check.udp_expect = "something else";
  EXPECT_FALSE(probe(s).success);
}

TEST(Probes, UdpClosedPortFailsOnPortUnreachable) {
  ProbeSpec s = spec(config::HealthCheckType::udp, unused_port(true), 400);
  s.check.udp_request = "ping";
  const ProbeOutcome o = probe(s);
  EXPECT_FALSE(o.success);
  EXPECT_NE(o.detail.find("receive"), std::string::npos)
      << o.detail;  // ECONNREFUSED, not a timeout
}

TEST(Probes, NoPortIsAFailureNotACrash) {
  const ProbeOutcome o = probe(spec(config::HealthCheckType::tcp, 0));
  EXPECT_FALSE(o.success);
  EXPECT_NE(o.detail.find("health_check.port"), std::string::npos);
}

// RLIMIT_NOFILE lowered to the descriptors in use, for one scope: the next socket() fails
// with EMFILE, as in a control plane whose descriptors were all taken by API clients.
class NoMoreDescriptors {
 public:
  NoMoreDescriptors() {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    const int lowest_free = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ::close(lowest_free);
    rlimit lowered = saved_;
    lowered.rlim_cur = static_cast<rlim_t>(lowest_free);
    ::setrlimit(RLIMIT_NOFILE, &lowered);
  }
  ~NoMoreDescriptors() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  NoMoreDescriptors(const NoMoreDescriptors&) = delete;
  NoMoreDescriptors& operator=(const NoMoreDescriptors&) = delete;

 private:
  rlimit saved_{};
};

// A probe started while the process has no descriptor left.
ProbeOutcome probe_without_descriptors(const ProbeSpec& spec) {
  asio::io_context io;
  asio::ssl::context tls(asio::ssl::context::tls_client);
  tls.set_verify_mode(asio::ssl::verify_none);
  ProbeOutcome out;
  bool done = false;
  asio::steady_timer reactor_created_now(io);  // as in the monitor, which has its timers
  {
    NoMoreDescriptors limit;
    start_probe(io, tls, spec, [&](ProbeOutcome o) {
      out = std::move(o);
      done = true;
    });
    io.run_for(std::chrono::seconds(2));
  }
  EXPECT_TRUE(done) << "the probe never completed";
  return out;
}

TEST(Probes, OutOfDescriptorsIsALocalErrorNotABackendFailure) {
  LocalTcpServer tcp(LocalTcpServer::Mode::close);
  LocalTcpServer web(LocalTcpServer::Mode::http, http_response(200, "ok"));
  LocalUdpEcho echo("pong:");
  const std::vector<std::pair<config::HealthCheckType, std::uint16_t>> kinds = {
      {config::HealthCheckType::tcp, tcp.port()},
      {config::HealthCheckType::http, web.port()},
      {config::HealthCheckType::https, web.port()},
      {config::HealthCheckType::udp, echo.port()},
  };
  for (const auto& [type, port] : kinds) {
    const ProbeOutcome o = probe_without_descriptors(spec(type, port));
    EXPECT_FALSE(o.success) << config::to_string(type);
    EXPECT_TRUE(o.local_error) << config::to_string(type) << ": " << o.detail;
    EXPECT_NE(o.detail.find("local error: "), std::string::npos) << o.detail;
    EXPECT_NE(o.detail.find("Too many open files"), std::string::npos) << o.detail;
  }
  // The same probes with descriptors: plain results, no local error.
  const ProbeOutcome ok = probe(spec(config::HealthCheckType::tcp, tcp.port()));
  EXPECT_TRUE(ok.success) << ok.detail;
  EXPECT_FALSE(ok.local_error);
  const ProbeOutcome refused = probe(spec(config::HealthCheckType::tcp, unused_port()));
  EXPECT_FALSE(refused.success);
  EXPECT_FALSE(refused.local_error) << "a refused connection is the backend's answer";
}

// The monitor: a probe that cannot be made leaves the backend's state (and its dampening
// streak) alone, is counted as a local error and logged once per interval.
TEST(HealthMonitor, LocalErrorsKeepTheBackendsState) {
  // A listener the kernel completes handshakes for, whoever accepts (nobody does).
  asio::io_context listener_io;
  asio::ip::tcp::acceptor listener(listener_io,
                                   asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const std::uint16_t port = listener.local_endpoint().port();

  config::State s = testing::base_state();
  config::Vip v = testing::vip("198.18.0.10", port, {testing::backend("127.0.0.1")});
  config::HealthCheck check;
  check.type = config::HealthCheckType::tcp;
  check.interval_ms = 100;
  check.timeout_ms = 50;
  check.rise = 1;
  check.fall = 1;  // one real failure would take it down
  v.health_check = check;
  s.vips.push_back(v);
  const BackendRef ref{config::key_of(v), ip("127.0.0.1")};

  std::ostringstream log_text;
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "captured", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_text)));
  HealthTable table;
  std::atomic<int> transitions{0};
  HealthMonitor monitor(table, [&] { ++transitions; });
  monitor.reconcile(s);
  monitor.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(table.find(ref).has_value());
  ASSERT_TRUE(table.find(ref)->last.has_value());
  ASSERT_TRUE(table.find(ref)->last->success) << table.find(ref)->last->detail;
  const std::uint64_t checks_before = table.find(ref)->checks;
  {
    NoMoreDescriptors limit;
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
  }
  const BackendHealth during = *table.find(ref);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  monitor.stop();
  spdlog::default_logger()->flush();
  spdlog::set_default_logger(previous);

  EXPECT_TRUE(during.healthy) << during.reason;
  EXPECT_EQ(transitions, 0);
  EXPECT_GE(during.local_errors, 3u);
  EXPECT_EQ(during.failures, 0u) << "a local error is not a failure";
  EXPECT_GE(during.checks, checks_before + during.local_errors);
  ASSERT_TRUE(during.last.has_value());
  EXPECT_TRUE(during.last->local_error);
  EXPECT_NE(during.last->detail.find("local error: connect: Too many open files"),
            std::string::npos)
      << during.last->detail;
  const BackendHealth after = *table.find(ref);
  EXPECT_TRUE(after.last->success) << "checked normally once descriptors are back";
  const std::string text = log_text.str();
  std::size_t lines = 0;
  for (std::size_t pos = text.find("health: cannot check backend"); pos != std::string::npos;
       pos = text.find("health: cannot check backend", pos + 1))
    ++lines;
  EXPECT_EQ(lines, 1u) << "one line per 10 s interval: " << text;
  EXPECT_NE(text.find("not the backend: it stays up"), std::string::npos) << text;
}

// The monitor: a backend that stops answering flips to down after `fall` failures, and a
// transition is reported with the reason.
TEST(HealthMonitor, DetectsFailureWithinFallTimesInterval) {
  auto server = std::make_unique<LocalTcpServer>(LocalTcpServer::Mode::close);
  const std::uint16_t port = server->port();

  config::State s = testing::base_state();
  config::Vip v = testing::vip("198.18.0.10", port, {testing::backend("127.0.0.1")});
  config::HealthCheck check;
  check.type = config::HealthCheckType::tcp;
  check.interval_ms = 100;
  check.timeout_ms = 50;
  check.rise = 2;
  check.fall = 3;
  v.health_check = check;
  s.vips.push_back(v);
  const BackendRef ref{config::key_of(v), ip("127.0.0.1")};

  HealthTable table;
  std::promise<void> transitioned;
  std::atomic<int> transitions{0};
  HealthMonitor monitor(table, [&] {
    if (++transitions == 1) transitioned.set_value();
  });
  monitor.reconcile(s);
  monitor.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  ASSERT_TRUE(table.find(ref).has_value());
  EXPECT_TRUE(table.find(ref)->healthy);
  EXPECT_GE(table.find(ref)->checks, 1u);

  const auto stopped = std::chrono::steady_clock::now();
  server.reset();  // connections now refused
  ASSERT_EQ(transitioned.get_future().wait_for(std::chrono::seconds(3)), std::future_status::ready);
  const auto detection = std::chrono::steady_clock::now() - stopped;
  EXPECT_FALSE(table.find(ref)->healthy);
  // fall x interval, plus one interval for the check that was in progress.
  EXPECT_LE(detection, std::chrono::milliseconds(3 * 100 + 100 + 50));
  EXPECT_NE(table.find(ref)->reason.find("3 consecutive failures"), std::string::npos);
  monitor.stop();
}

}  // namespace
}  // namespace sluice::cp

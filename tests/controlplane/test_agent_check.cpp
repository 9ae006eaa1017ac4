// The agent check against real sockets on 127.0.0.1: one read of an agent (every way it can
// answer or fail), the AgentMonitor's sequence of replies and failures with its log lines, its
// reconcile, and the example agent tools/agent/sluice-agent (SLUICE_AGENT) read by the monitor.
#include "health/agent_check.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "harness/process.hpp"
#include "local_servers.hpp"
#include "sluice/config/names.hpp"
#include "temp_dir.hpp"
#include "test_state.hpp"

namespace sluice::cp {
namespace {

using namespace std::chrono_literals;
using testing::ip;
using testing::unused_port;

// An agent on 127.0.0.1 whose behaviour the test changes between checks.
class FakeAgent {
 public:
  enum class Mode {
    reply_and_close,  // writes the reply, closes
    reply_and_hold,   // writes the reply, keeps the connection open
    close,            // closes at once, nothing written
    silent,           // keeps the connection open, writes nothing
  };

  FakeAgent() : acceptor_(io_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FakeAgent() {
    io_.stop();
    thread_.join();
  }

  void set(Mode mode, std::string reply = "") {
    std::lock_guard lock(mutex_);
    mode_ = mode;
    reply_ = std::move(reply);
  }
  [[nodiscard]] std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  [[nodiscard]] int connections() const { return connections_.load(); }

 private:
  void accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, asio::ip::tcp::socket s) {
      if (ec) return;
      ++connections_;
      auto socket = std::make_shared<asio::ip::tcp::socket>(std::move(s));
      Mode mode;
      auto reply = std::make_shared<std::string>();
      {
        std::lock_guard lock(mutex_);
        mode = mode_;
        *reply = reply_;
      }
      if (mode == Mode::silent) {
        held_.push_back(socket);
      } else if (mode == Mode::close) {
        boost::system::error_code ignored;
        socket->close(ignored);
      } else {
        if (mode == Mode::reply_and_hold) held_.push_back(socket);
        const bool close = mode == Mode::reply_and_close;
        asio::async_write(*socket, asio::buffer(*reply),
                          [socket, reply, close](const boost::system::error_code&, std::size_t) {
                            boost::system::error_code ignored;
                            if (close)
                              socket->shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
                          });
      }
      accept();
    });
  }

  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  std::mutex mutex_;
  Mode mode_ = Mode::reply_and_close;
  std::string reply_ = "100%\n";
  std::vector<std::shared_ptr<asio::ip::tcp::socket>> held_;  // io thread only
  std::atomic<int> connections_{0};
  std::thread thread_;
};

AgentTarget target_at(std::uint16_t port, std::chrono::milliseconds timeout = 300ms) {
  AgentTarget t;
  t.address = ip("127.0.0.1");
  t.port = port;
  t.interval = 1000ms;
  t.timeout = timeout;
  return t;
}

AgentRead read_once(const AgentTarget& target) {
  asio::io_context io;
  AgentRead out;
  bool done = false;
  start_agent_read(io, target, [&](AgentRead r) {
    EXPECT_FALSE(done) << "completed twice";
    out = std::move(r);
    done = true;
  });
  io.run_for(5s);
  EXPECT_TRUE(done) << "the read never completed";
  return out;
}

AgentRead read_once(FakeAgent::Mode mode, std::string reply = "") {
  FakeAgent agent;
  agent.set(mode, std::move(reply));
  return read_once(target_at(agent.port()));
}

TEST(AgentRead, OneLine) {
  const AgentRead r = read_once(FakeAgent::Mode::reply_and_close, "50%\n");
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.line, "50%");
  EXPECT_EQ(r.error, "");
}

TEST(AgentRead, CrLfAndWhatFollowsTheLineAreDropped) {
  const AgentRead r = read_once(FakeAgent::Mode::reply_and_close, "drain\r\nsecond line\n");
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.line, "drain");
}

TEST(AgentRead, ALineWithoutNewlineEndsAtTheClose) {
  const AgentRead r = read_once(FakeAgent::Mode::reply_and_close, "up 75%");
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.line, "up 75%");
}

TEST(AgentRead, AnAgentThatKeepsTheConnectionOpenIsReadAtTheNewline) {
  const auto started = std::chrono::steady_clock::now();
  const AgentRead r = read_once(FakeAgent::Mode::reply_and_hold, "weight:2\n");
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.line, "weight:2");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 250ms);  // not at the timeout
}

TEST(AgentRead, CloseWithoutALine) {
  const AgentRead r = read_once(FakeAgent::Mode::close);
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.local_error);
  EXPECT_EQ(r.error, "closed without a reply");
}

TEST(AgentRead, SilentAgentTimesOut) {
  const auto started = std::chrono::steady_clock::now();
  const AgentRead r = read_once(FakeAgent::Mode::silent);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "timeout after 300 ms");
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 1500ms);
}

TEST(AgentRead, HalfALineThenSilenceTimesOut) {
  const AgentRead r = read_once(FakeAgent::Mode::reply_and_hold, "50");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "timeout after 300 ms");
}

TEST(AgentRead, RefusedConnection) {
  const AgentRead r = read_once(target_at(unused_port()));
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.local_error);
  EXPECT_EQ(r.error.rfind("connect: ", 0), 0u) << r.error;
}

TEST(AgentRead, AtMost512Bytes) {
  const std::string longest(lb::kMaxAgentReplyBytes - 1, 'x');
  AgentRead r = read_once(FakeAgent::Mode::reply_and_hold, longest + "\n");
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.line, longest);

  r = read_once(FakeAgent::Mode::reply_and_hold, std::string(600, 'x') + "\n");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "no newline in the first 512 bytes");
}

// RLIMIT_NOFILE lowered to the descriptors in use, for one scope: the next socket() fails
// with EMFILE (as in tests/controlplane/test_probes.cpp).
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

TEST(AgentRead, OutOfDescriptorsIsALocalError) {
  FakeAgent agent;
  asio::io_context io;
  asio::steady_timer reactor_created_now(io);  // as in the monitor
  AgentRead out;
  bool done = false;
  {
    NoMoreDescriptors limit;
    start_agent_read(io, target_at(agent.port()), [&](AgentRead r) {
      out = std::move(r);
      done = true;
    });
    io.run_for(2s);
  }
  ASSERT_TRUE(done);
  EXPECT_FALSE(out.ok);
  EXPECT_TRUE(out.local_error);
  EXPECT_EQ(out.error.rfind("local error: connect: ", 0), 0u) << out.error;
  EXPECT_NE(out.error.find("Too many open files"), std::string::npos) << out.error;
}

// --- AgentMonitor -------------------------------------------------------------------------

config::Vip agent_vip(const char* address, std::uint16_t agent_port,
                      std::uint32_t interval_ms = 100, std::uint32_t timeout_ms = 100) {
  config::Vip v = testing::vip(address, 80, {testing::backend("127.0.0.1")});
  v.weights = config::WeightPolicy::adaptive;
  v.agent_check = config::AgentCheck{agent_port, interval_ms, timeout_ms};
  return v;
}

BackendRef ref_of(const config::Vip& v) {
  return BackendRef{config::key_of(v), ip("127.0.0.1")};
}

template <typename Predicate>
bool eventually(Predicate&& predicate, std::chrono::milliseconds timeout = 3s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return predicate();
}

// The status of `ref` once `predicate` holds for it (or the last one seen, with a failure).
template <typename Predicate>
AgentStatus wait_for(const AgentMonitor& monitor, const BackendRef& ref, Predicate&& predicate,
                     const char* what) {
  AgentStatus last;
  const bool ok = eventually([&] {
    const AgentStatusMap snapshot = monitor.snapshot();
    const auto it = snapshot.find(ref);
    if (it == snapshot.end()) return false;
    last = it->second;
    return predicate(last);
  });
  EXPECT_TRUE(ok) << "never: " << what << "; last: reply "
                  << (last.reply ? lb::describe(*last.reply) : "none") << ", error \"" << last.error
                  << "\", checks " << last.checks;
  return last;
}

// Log lines of the test, captured from the default logger.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>(
        "captured", std::make_shared<spdlog::sinks::ostream_sink_mt>(text_)));
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::string text() {
    spdlog::default_logger()->flush();
    return text_.str();
  }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream text_;
};

TEST(AgentMonitor, RepliesThenFailuresKeepTheLastReply) {
  CapturedLog log;
  FakeAgent agent;
  agent.set(FakeAgent::Mode::reply_and_close, "50%\n");
  std::atomic<int> changes{0};
  AgentMonitor monitor([&] { ++changes; }, std::chrono::seconds(0));  // every change logged
  config::State state = testing::base_state();
  state.vips.push_back(agent_vip("198.18.0.10", agent.port()));
  const BackendRef ref = ref_of(state.vips[0]);
  monitor.reconcile(state);
  monitor.start();

  AgentStatus s = wait_for(
      monitor, ref, [](const AgentStatus& st) { return st.reply.has_value(); }, "a reply");
  EXPECT_EQ(s.target, "127.0.0.1:" + std::to_string(agent.port()));
  ASSERT_TRUE(s.reply);
  EXPECT_EQ(s.reply->percent, 50u);
  EXPECT_EQ(s.error, "");
  EXPECT_EQ(s.raw, "50%");
  EXPECT_EQ(s.failures, 0u);
  EXPECT_NE(s.replied_at, std::chrono::system_clock::time_point{});
  EXPECT_EQ(s.replied_at, s.last_checked);

  agent.set(FakeAgent::Mode::reply_and_close, "drain\r\n");
  s = wait_for(
      monitor, ref,
      [](const AgentStatus& st) { return st.reply && st.reply->admin == lb::AgentAdmin::drain; },
      "drain");
  EXPECT_EQ(s.reply->percent, std::nullopt);
  EXPECT_EQ(s.raw, "drain");
  EXPECT_EQ(s.error, "");

  // Closed without a line: the drain stands, the error is recorded.
  agent.set(FakeAgent::Mode::close);
  s = wait_for(
      monitor, ref, [](const AgentStatus& st) { return st.error == "closed without a reply"; },
      "an error");
  EXPECT_EQ(s.error, "closed without a reply");
  ASSERT_TRUE(s.reply);
  EXPECT_EQ(s.reply->admin, lb::AgentAdmin::drain);
  EXPECT_EQ(s.raw, "");
  EXPECT_GE(s.failures, 1u);
  EXPECT_GE(s.consecutive_failures, 1u);
  EXPECT_LT(s.replied_at, s.last_checked);

  // Silent: a timeout, still the drain.
  agent.set(FakeAgent::Mode::silent);
  s = wait_for(
      monitor, ref, [](const AgentStatus& st) { return st.error == "timeout after 100 ms"; },
      "a timeout");
  ASSERT_TRUE(s.reply);
  EXPECT_EQ(s.reply->admin, lb::AgentAdmin::drain);

  // A line that does not parse is a failure too; raw shows it.
  agent.set(FakeAgent::Mode::reply_and_close, "bogus\n");
  s = wait_for(
      monitor, ref, [](const AgentStatus& st) { return st.raw == "bogus"; }, "the bad line");
  EXPECT_EQ(s.error.rfind("agent reply: unknown word \"bogus\"", 0), 0u) << s.error;
  EXPECT_EQ(s.reply->admin, lb::AgentAdmin::drain);

  // Back to a good reply.
  agent.set(FakeAgent::Mode::reply_and_close, "up 25%\n");
  s = wait_for(
      monitor, ref, [](const AgentStatus& st) { return st.reply && st.reply->percent == 25u; },
      "25%");
  EXPECT_EQ(s.reply->op, lb::AgentOp::up);
  EXPECT_EQ(s.error, "");
  EXPECT_EQ(s.consecutive_failures, 0u);
  EXPECT_LE(s.checks, static_cast<std::uint64_t>(agent.connections()));
  monitor.stop();

  EXPECT_EQ(changes.load(), 3);  // 50%, drain, up 25%
  const std::string text = log.text();
  const std::string prefix =
      "agent 127.0.0.1:" + std::to_string(agent.port()) + " of VIP 198.18.0.10:80/tcp: ";
  EXPECT_NE(text.find(prefix + "not checked -> 50%"), std::string::npos) << text;
  EXPECT_NE(text.find(prefix + "50% -> drain"), std::string::npos) << text;
  EXPECT_NE(text.find(prefix + "drain -> no reply (closed without a reply), keeping drain"),
            std::string::npos)
      << text;
  // Further failures are not logged; the next good reply is (within the rate limit it is
  // counted instead, so only its start is checked).
  EXPECT_EQ(text.find("-> no reply (timeout after 80 ms)"), std::string::npos) << text;
}

TEST(AgentMonitor, ChangesOfOneAgentAreRateLimited) {
  CapturedLog log;
  FakeAgent agent;
  AgentMonitor monitor;
  config::State state = testing::base_state();
  state.vips.push_back(agent_vip("198.18.0.10", agent.port()));
  const BackendRef ref = ref_of(state.vips[0]);
  monitor.reconcile(state);
  monitor.start();
  for (const char* reply : {"10%\n", "20%\n", "30%\n"}) {
    agent.set(FakeAgent::Mode::reply_and_close, reply);
    const std::uint32_t want = static_cast<std::uint32_t>(std::stoul(reply));
    wait_for(
        monitor, ref, [&](const AgentStatus& st) { return st.reply && st.reply->percent == want; },
        reply);
  }
  monitor.stop();
  const std::string text = log.text();
  // The first change is logged at once; the next ones within 10 s are only counted.
  EXPECT_NE(text.find("not checked -> "), std::string::npos) << text;
  EXPECT_EQ(text.find("-> 30%"), std::string::npos) << text;
}

TEST(AgentMonitor, NeverAnsweredMeansNoReply) {
  AgentMonitor monitor;
  config::State state = testing::base_state();
  state.vips.push_back(agent_vip("198.18.0.10", unused_port()));
  const BackendRef ref = ref_of(state.vips[0]);
  monitor.reconcile(state);
  monitor.start();
  const AgentStatus s = wait_for(
      monitor, ref, [](const AgentStatus& st) { return st.checks >= 2; }, "two checks");
  EXPECT_FALSE(s.reply);
  EXPECT_EQ(s.error.rfind("connect: ", 0), 0u) << s.error;
  EXPECT_EQ(s.failures, s.checks);
  EXPECT_EQ(s.replied_at, std::chrono::system_clock::time_point{});
}

TEST(AgentMonitor, LocalErrorsKeepTheReplyAndAreNotFailures) {
  FakeAgent agent;
  agent.set(FakeAgent::Mode::reply_and_close, "60%\n");
  AgentMonitor monitor;
  config::State state = testing::base_state();
  state.vips.push_back(agent_vip("198.18.0.10", agent.port()));
  const BackendRef ref = ref_of(state.vips[0]);
  monitor.reconcile(state);
  monitor.start();
  wait_for(
      monitor, ref, [](const AgentStatus& st) { return st.reply.has_value(); }, "60%");
  AgentStatus s;
  {
    NoMoreDescriptors limit;
    s = wait_for(
        monitor, ref, [](const AgentStatus& st) { return st.local_errors >= 1; }, "a local error");
  }
  ASSERT_TRUE(s.reply);
  EXPECT_EQ(s.reply->percent, 60u);
  EXPECT_EQ(s.failures, 0u);
  EXPECT_EQ(s.consecutive_failures, 0u);
  EXPECT_NE(s.error.find("Too many open files"), std::string::npos) << s.error;
  // Descriptors back: the next check clears the error.
  s = wait_for(
      monitor, ref, [](const AgentStatus& st) { return st.error.empty(); }, "a good check");
  EXPECT_EQ(s.reply->percent, 60u);
  monitor.stop();
}

TEST(AgentMonitor, ReconcileFollowsTheState) {
  FakeAgent first;
  FakeAgent second;
  first.set(FakeAgent::Mode::reply_and_close, "40%\n");
  second.set(FakeAgent::Mode::reply_and_close, "weight:7\n");
  AgentMonitor monitor;
  monitor.start();
  monitor.reconcile(testing::base_state());  // so that the next one is not spread over 60 s

  config::State state = testing::base_state();
  state.vips.push_back(agent_vip("198.18.0.10", first.port(), 60000, 1000));
  config::Vip plain = agent_vip("198.18.0.11", second.port());
  plain.weights = config::WeightPolicy::static_weights;  // not adaptive: no agent
  state.vips.push_back(plain);
  config::Vip no_agent = agent_vip("198.18.0.12", second.port());
  no_agent.agent_check.reset();
  state.vips.push_back(no_agent);
  const BackendRef a = ref_of(state.vips[0]);
  monitor.reconcile(state);

  AgentStatus s = wait_for(
      monitor, a, [](const AgentStatus& st) { return st.reply.has_value(); }, "40%");
  EXPECT_EQ(s.reply->percent, 40u);
  EXPECT_EQ(monitor.snapshot().size(), 1u);
  EXPECT_EQ(second.connections(), 0);

  // The agent's port changes: checked at once (not after the 60 s interval), the status kept
  // until then.
  state.vips[0].agent_check->port = second.port();
  monitor.reconcile(state);
  s = wait_for(
      monitor, a, [](const AgentStatus& st) { return st.reply && st.reply->weight == 7u; },
      "weight:7 from the new port");
  EXPECT_EQ(s.target, "127.0.0.1:" + std::to_string(second.port()));
  EXPECT_EQ(s.checks, 2u);

  // A second adaptive VIP joins; the first one goes.
  state.vips.push_back(agent_vip("198.18.0.13", first.port()));
  const BackendRef b = ref_of(state.vips.back());
  state.vips.erase(state.vips.begin());
  monitor.reconcile(state);
  wait_for(
      monitor, b, [](const AgentStatus& st) { return st.reply.has_value(); }, "the new VIP");
  const AgentStatusMap snapshot = monitor.snapshot();
  EXPECT_EQ(snapshot.size(), 1u);
  EXPECT_FALSE(snapshot.contains(a));

  state.vips.clear();
  monitor.reconcile(state);
  EXPECT_TRUE(eventually([&] { return monitor.snapshot().empty(); }));
}

TEST(AgentMonitor, BeforeTheFirstCheck) {
  AgentMonitor monitor;  // not started: the reconcile waits
  config::State state = testing::base_state();
  state.vips.push_back(agent_vip("198.18.0.10", unused_port(), 60000, 1000));
  monitor.reconcile(state);
  EXPECT_TRUE(monitor.snapshot().empty());
  monitor.start();
  const AgentStatus s = wait_for(
      monitor, ref_of(state.vips[0]), [](const AgentStatus&) { return true; }, "an entry");
  // The first round is spread over the interval (60 s): not checked yet.
  EXPECT_EQ(s.checks, 0u);
  EXPECT_EQ(s.error, "not checked yet");
  monitor.stop();
}

TEST(AgentTarget, FromTheVip) {
  config::Vip v = agent_vip("198.18.0.10", 8090, 2000, 5000);
  const std::optional<AgentTarget> t = agent_target_for(v, v.backends[0]);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->port, 8090);
  EXPECT_EQ(t->interval, 2000ms);
  EXPECT_EQ(t->timeout, 2000ms);  // never beyond the interval
  EXPECT_EQ(describe(*t), "127.0.0.1:8090");
  AgentTarget six = *t;
  six.address = ip("2001:db8::1");
  EXPECT_EQ(describe(six), "[2001:db8::1]:8090");
  v.weights = config::WeightPolicy::static_weights;
  EXPECT_FALSE(agent_target_for(v, v.backends[0]));
}

// --- tools/agent/sluice-agent --------------------------------------------------------------

// The example agent on 127.0.0.1 and a free port; the port it printed.
class ExampleAgent {
 public:
  ExampleAgent(const testing::TempDir& dir, std::vector<std::string> args)
      : log_path_(dir.file("agent.log")) {
    std::vector<std::string> argv = {
        "/usr/bin/python3", testing::env_or("SLUICE_AGENT", "tools/agent/sluice-agent"),
        "--bind",           "127.0.0.1",
        "--port",           "0"};
    argv.insert(argv.end(), args.begin(), args.end());
    process_ = std::make_unique<testing::Process>(argv, log_path_);
    const std::regex listening("sluice-agent: listening on 127\\.0\\.0\\.1:([0-9]+)");
    eventually(
        [&] {
          std::smatch m;
          const std::string text = process_->log();
          if (!std::regex_search(text, m, listening)) return false;
          port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
          return true;
        },
        10s);
  }
  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::string log() const { return process_->log(); }

 private:
  std::string log_path_;
  std::unique_ptr<testing::Process> process_;
  std::uint16_t port_ = 0;
};

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
}

TEST(ExampleAgent, FileRepliesAreReadByTheMonitor) {
  testing::TempDir dir;
  const std::string reply = dir.file("reply");
  write_file(reply, "75%\n");
  ExampleAgent tool(dir, {"--file", reply});
  ASSERT_NE(tool.port(), 0) << tool.log();

  AgentMonitor monitor;
  config::State state = testing::base_state();
  state.vips.push_back(agent_vip("198.18.0.10", tool.port(), 200, 200));
  const BackendRef ref = ref_of(state.vips[0]);
  monitor.reconcile(state);
  monitor.start();
  AgentStatus s = wait_for(
      monitor, ref, [](const AgentStatus& st) { return st.reply.has_value(); }, "75%");
  EXPECT_EQ(s.reply->percent, 75u) << s.raw;

  write_file(reply, "drain # deploy\nignored\n");
  s = wait_for(
      monitor, ref,
      [](const AgentStatus& st) { return st.reply && st.reply->admin == lb::AgentAdmin::drain; },
      "drain");
  EXPECT_EQ(s.reply->comment, "deploy");
  EXPECT_EQ(s.raw, "drain # deploy");

  // No file: the agent closes without a line; the drain is kept.
  std::filesystem::remove(reply);
  s = wait_for(
      monitor, ref, [](const AgentStatus& st) { return st.error == "closed without a reply"; },
      "no reply");
  EXPECT_EQ(s.error, "closed without a reply");
  EXPECT_EQ(s.reply->admin, lb::AgentAdmin::drain);
  monitor.stop();
  EXPECT_NE(tool.log().find("cannot read " + reply), std::string::npos) << tool.log();
}

TEST(ExampleAgent, LoadRepliesWithAPercent) {
  testing::TempDir dir;
  ExampleAgent tool(dir, {"--load", "--min-percent", "20"});
  ASSERT_NE(tool.port(), 0) << tool.log();
  AgentTarget t = target_at(tool.port(), 2000ms);
  const AgentRead r = read_once(t);
  ASSERT_TRUE(r.ok) << r.error;
  const Result<lb::AgentReply> reply = lb::parse_agent_reply(r.line);
  ASSERT_TRUE(reply.ok()) << r.line << ": " << reply.error().message;
  ASSERT_TRUE(reply->percent) << r.line;
  EXPECT_GE(*reply->percent, 20u) << r.line;
  EXPECT_LE(*reply->percent, 100u) << r.line;
  EXPECT_NE(reply->comment.find("load "), std::string::npos) << r.line;
}

TEST(ExampleAgent, HelpAndBadArguments) {
  const std::string agent = testing::env_or("SLUICE_AGENT", "tools/agent/sluice-agent");
  testing::Output help = testing::capture("/usr/bin/python3 " + agent + " --help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.text.find("--file PATH"), std::string::npos) << help.text;
  EXPECT_NE(help.text.find("--load"), std::string::npos) << help.text;
  testing::Output bad = testing::capture("/usr/bin/python3 " + agent + " --port 8090");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.text.find("one of the arguments --file --load is required"), std::string::npos)
      << bad.text;
}

}  // namespace
}  // namespace sluice::cp

// The HTTP server under careless and hostile clients, on a real Unix socket with short limits:
// malformed requests get 400, oversized headers 431, oversized bodies 413, slow requests 408,
// idle connections are closed, the connection limit makes room by closing the longest-waiting
// connection, accept errors (out of descriptors) back off and are logged once per interval,
// and a refused caller gets 403 without its request being handled.
#include "api/http_server.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <fcntl.h>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "raw_client.hpp"
#include "sluice/control/unix_socket.hpp"
#include "temp_dir.hpp"

namespace sluice::cp {
namespace {

using ms = std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using testing::RawClient;
using testing::status_line;
using testing::TempDir;

// spdlog's default logger writes into a string for the test's lifetime.
class CapturedLog {
 public:
  CapturedLog()
      : previous_(spdlog::default_logger()),
        logger_(std::make_shared<spdlog::logger>(
            "captured", std::make_shared<spdlog::sinks::ostream_sink_mt>(text_))) {
    spdlog::set_default_logger(logger_);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }

  [[nodiscard]] std::string text() {
    logger_->flush();
    std::lock_guard lock(mutex_);
    return text_.str();
  }
  [[nodiscard]] std::size_t lines_with(const std::string& needle) {
    const std::string all = text();
    std::size_t count = 0;
    for (std::size_t pos = all.find(needle); pos != std::string::npos;
         pos = all.find(needle, pos + 1))
      ++count;
    return count;
  }

 private:
  std::mutex mutex_;
  std::ostringstream text_;
  std::shared_ptr<spdlog::logger> previous_;
  std::shared_ptr<spdlog::logger> logger_;
};

HttpLimits short_limits() {
  HttpLimits l;
  l.max_connections = 64;
  l.idle_timeout = ms(400);
  l.request_timeout = ms(400);
  l.write_timeout = ms(1000);
  l.linger = ms(200);
  l.log_interval = ms(500);
  return l;
}

// An HttpServer on a Unix socket in a temporary directory, run by two threads (as the daemon).
class Server {
 public:
  explicit Server(HttpLimits limits, CallerCheck check = {}, HttpHandler handler = {},
                  int threads = 2)
      : path_(dir_.file("api.sock")) {
    Result<UniqueFd> fd = control::listen_unix(path_, 0600);
    if (!fd.ok()) throw std::runtime_error(fd.error().message);
    asio::local::stream_protocol::acceptor acceptor(io_, asio::local::stream_protocol(),
                                                    fd.value().release());
    if (!handler) {
      handler = [this](const HttpRequest&) {
        ++handled_;
        HttpResponse r{http::status::ok, 11};
        r.body() = "{\"ok\": true}\n";
        return r;
      };
    }
    server_ = std::make_unique<HttpServer<asio::local::stream_protocol>>(
        io_, std::move(acceptor), std::move(handler), "api", limits, std::move(check));
    server_->start();
    for (int i = 0; i < threads; ++i)
      threads_.emplace_back([this] { io_.run(); });
  }
  ~Server() {
    io_.stop();
    for (std::thread& t : threads_)
      t.join();
  }

  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] int handled() const { return handled_.load(); }
  [[nodiscard]] HttpServerReport report() const { return server_->report(); }

  // Waits until the server counts `n` open connections.
  bool wait_open(std::size_t n, ms timeout = ms(2000)) const {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (report().open == n) return true;
      std::this_thread::sleep_for(ms(5));
    }
    return false;
  }

 private:
  TempDir dir_;
  std::string path_;
  asio::io_context io_;
  std::unique_ptr<HttpServer<asio::local::stream_protocol>> server_;
  std::vector<std::thread> threads_;
  std::atomic<int> handled_{0};
};

const std::string kGet = "GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

// Sends `request` on a new connection; the whole answer (the server closes after it).
std::string round_trip(const std::string& path, const std::string& request, ms timeout = ms(3000)) {
  RawClient c(path);
  if (!c.connected() || !c.send(request)) return "";
  return c.read_until_closed(timeout);
}

TEST(HttpServer, AnswersAWellFormedRequest) {
  Server server(short_limits());
  EXPECT_EQ(status_line(round_trip(server.path(), kGet)), "HTTP/1.1 200 OK");
  EXPECT_EQ(server.handled(), 1);
}

TEST(HttpServer, MalformedRequestsGet400) {
  Server server(short_limits());
  const std::vector<std::string> cases = {
      "GARBAGE\r\n\r\n",
      "GET /v1/status HTTP/9.9\r\n\r\n",
      "GET /v1/status HTTP/1.1\r\nno colon here\r\n\r\n",
      "GET /v1/status HTTP/1.1\r\nContent-Length: banana\r\n\r\n",
      "POST /v1/vips HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
  };
  for (const std::string& request : cases) {
    const std::string answer = round_trip(server.path(), request);
    EXPECT_EQ(status_line(answer), "HTTP/1.1 400 Bad Request") << request;
    EXPECT_NE(answer.find("malformed HTTP request"), std::string::npos) << answer;
    EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
  }
  EXPECT_EQ(server.handled(), 0);
  EXPECT_EQ(server.report().bad_requests, cases.size());
}

TEST(HttpServer, HeadersTooLargeOrTooManyGet431) {
  Server server(short_limits());
  const std::string big = "GET / HTTP/1.1\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n";
  std::string answer = round_trip(server.path(), big);
  EXPECT_EQ(status_line(answer), "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_NE(answer.find("larger than 8192 bytes"), std::string::npos) << answer;

  auto with_fields = [](int n) {
    std::string r = "GET / HTTP/1.1\r\nConnection: close\r\n";
    for (int i = 1; i < n; ++i)
      r += "X-" + std::to_string(i) + ": y\r\n";
    return r + "\r\n";
  };
  answer = round_trip(server.path(), with_fields(65));
  EXPECT_EQ(status_line(answer), "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_NE(answer.find("more than 64 header fields"), std::string::npos) << answer;
  EXPECT_EQ(status_line(round_trip(server.path(), with_fields(64))), "HTTP/1.1 200 OK");
  EXPECT_EQ(server.handled(), 1);
}

TEST(HttpServer, BodyLargerThanOneMebibyteGets413) {
  Server server(short_limits());
  RawClient c(server.path());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("POST /v1/vips HTTP/1.1\r\nContent-Length: " +
                     std::to_string(kMaxRequestBodyBytes + 1) + "\r\n\r\n"));
  c.send(std::string(kMaxRequestBodyBytes + 1, '{'), ms(1000));  // the server may stop reading
  const std::string answer = c.read_until_closed(ms(3000));
  EXPECT_EQ(status_line(answer), "HTTP/1.1 413 Payload Too Large");
  EXPECT_NE(answer.find("larger than 1048576 bytes"), std::string::npos) << answer;
  EXPECT_EQ(server.handled(), 0);
}

TEST(HttpServer, IdleConnectionsAreClosedAfterTheIdleTimeout) {
  Server server(short_limits());
  RawClient fresh(server.path());
  RawClient kept(server.path());
  ASSERT_TRUE(fresh.connected() && kept.connected());
  const auto start = Clock::now();
  // One request on a kept-alive connection, then silence.
  ASSERT_TRUE(kept.send("GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n"));

  const std::string nothing = fresh.read_until_closed(ms(3000));
  const auto fresh_closed = Clock::now() - start;
  EXPECT_TRUE(fresh.closed());
  EXPECT_TRUE(nothing.empty()) << nothing;
  EXPECT_GE(fresh_closed, ms(350));
  EXPECT_LE(fresh_closed, ms(1500));

  const std::string answer = kept.read_until_closed(ms(3000));
  EXPECT_TRUE(kept.closed());
  EXPECT_EQ(status_line(answer), "HTTP/1.1 200 OK");
  EXPECT_EQ(server.report().idle_timeouts, 2u);
  EXPECT_TRUE(server.wait_open(0));
}

TEST(HttpServer, ASlowRequestGets408AfterTheRequestTimeout) {
  Server server(short_limits());
  RawClient c(server.path());
  ASSERT_TRUE(c.connected());
  const auto start = Clock::now();
  const std::string request = "GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaa";
  std::string answer;
  for (const char byte : request) {  // one byte every 50 ms: never complete within 400 ms
    if (!c.send(std::string_view(&byte, 1))) break;
    answer = c.read_until_closed(ms(50));
    if (c.closed()) break;
  }
  const auto elapsed = Clock::now() - start;
  EXPECT_EQ(status_line(answer), "HTTP/1.1 408 Request Timeout") << answer;
  EXPECT_NE(answer.find("request not received within 400 ms"), std::string::npos) << answer;
  EXPECT_GE(elapsed, ms(380));
  EXPECT_LE(elapsed, ms(1500));
  EXPECT_EQ(server.report().request_timeouts, 1u);
  EXPECT_EQ(server.handled(), 0);
}

TEST(HttpServer, AtTheLimitTheLongestIdleConnectionMakesRoom) {
  HttpLimits limits = short_limits();
  limits.max_connections = 4;
  limits.idle_timeout = ms(10'000);
  CapturedLog log;
  Server server(limits);
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 4; ++i) {
    idle.push_back(std::make_unique<RawClient>(server.path()));
    ASSERT_TRUE(server.wait_open(static_cast<std::size_t>(i + 1)));
  }
  const auto start = Clock::now();
  EXPECT_EQ(status_line(round_trip(server.path(), kGet)), "HTTP/1.1 200 OK");
  EXPECT_LE(Clock::now() - start, ms(500));
  EXPECT_TRUE(idle[0]->read_until_closed(ms(1000)).empty());
  EXPECT_TRUE(idle[0]->closed()) << "the oldest idle connection made room";
  for (int i = 1; i < 4; ++i)
    EXPECT_FALSE(idle[i]->peer_closed_now()) << i;
  EXPECT_EQ(server.report().closed_for_room, 1u);
  EXPECT_LE(server.report().open, 4u);
  EXPECT_EQ(log.lines_with("api: 4 connections open (the limit): closed the one idle longest"), 1u)
      << log.text();
}

TEST(HttpServer, SlowClientsBeyondTheLimitDoNotStarveANormalRequest) {
  HttpLimits limits = short_limits();
  limits.max_connections = 8;
  limits.request_timeout = ms(5000);
  Server server(limits);
  // 30 slowloris clients, each sending one byte of a header every 100 ms.
  std::vector<std::unique_ptr<RawClient>> slow;
  for (int i = 0; i < 30; ++i) {
    slow.push_back(std::make_unique<RawClient>());
    slow.back()->connect_retrying(server.path(), ms(2000));
    slow.back()->send("GET /v1/status HTTP/1.1\r\n");
  }
  std::atomic<bool> stop{false};
  std::thread dripper([&] {
    while (!stop) {
      for (auto& c : slow)
        c->send("a", ms(0));
      std::this_thread::sleep_for(ms(100));
    }
  });
  std::this_thread::sleep_for(ms(300));
  ms worst{0};
  for (int i = 0; i < 5; ++i) {
    const auto start = Clock::now();
    EXPECT_EQ(status_line(round_trip(server.path(), kGet)), "HTTP/1.1 200 OK");
    worst = std::max(worst, std::chrono::duration_cast<ms>(Clock::now() - start));
    std::this_thread::sleep_for(ms(100));
  }
  stop = true;
  dripper.join();
  EXPECT_LE(worst, ms(500));
  EXPECT_LE(server.report().open, 8u);
  EXPECT_GE(server.report().closed_for_room, 22u);
}

TEST(HttpServer, WhenEveryConnectionIsBusyANewOneWaitsForASlot) {
  HttpLimits limits = short_limits();
  limits.max_connections = 2;
  std::mutex mutex;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> inside{0};
  // Three threads: two block in the handler, the third is free to accept.
  Server server(
      limits, {},
      [&](const HttpRequest&) {
        ++inside;
        std::unique_lock lock(mutex);
        cv.wait(lock, [&] { return release; });
        return HttpResponse{http::status::ok, 11};
      },
      3);
  // Whatever happens below, the handlers return before the server's threads are joined.
  struct Release {
    std::mutex& mutex;
    std::condition_variable& cv;
    bool& release;
    ~Release() {
      {
        std::lock_guard lock(mutex);
        release = true;
      }
      cv.notify_all();
    }
  } guard{mutex, cv, release};
  RawClient a(server.path()), b(server.path());
  ASSERT_TRUE(a.send(kGet) && b.send(kGet));
  const auto until = Clock::now() + ms(5000);
  while (inside < 2 && Clock::now() < until)
    std::this_thread::sleep_for(ms(5));
  ASSERT_EQ(inside, 2);

  RawClient c(server.path());  // queued by the kernel: the server does not accept it yet
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send(kGet));
  std::this_thread::sleep_for(ms(200));
  EXPECT_EQ(server.report().open, 2u);
  EXPECT_EQ(server.report().closed_for_room, 0u) << "a busy connection is never closed for room";
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  cv.notify_all();
  EXPECT_EQ(status_line(a.read_until_closed(ms(2000))), "HTTP/1.1 200 OK");
  EXPECT_EQ(status_line(c.read_until_closed(ms(2000))), "HTTP/1.1 200 OK");
}

// RLIMIT_NOFILE lowered to the descriptors in use, for one scope.
class NoMoreDescriptors {
 public:
  NoMoreDescriptors() {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    const int probe = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ::close(probe);
    rlimit lowered = saved_;
    lowered.rlim_cur = static_cast<rlim_t>(probe);  // the lowest free number is now refused
    ::setrlimit(RLIMIT_NOFILE, &lowered);
  }
  ~NoMoreDescriptors() { ::setrlimit(RLIMIT_NOFILE, &saved_); }

 private:
  rlimit saved_{};
};

TEST(HttpServer, OutOfDescriptorsAcceptBacksOffLogsOncePerIntervalAndRecovers) {
  HttpLimits limits = short_limits();
  limits.max_connections = 1000;
  limits.idle_timeout = ms(10'000);
  CapturedLog log;
  Server server(limits);
  std::vector<std::unique_ptr<RawClient>> queued(40);
  for (auto& c : queued)
    c = std::make_unique<RawClient>();  // descriptors taken now, connected later
  RawClient first, second;

  // No connection to close: every accept fails until descriptors come back.
  HttpServerReport starved;
  {
    NoMoreDescriptors limit;
    for (auto& c : queued)
      ASSERT_TRUE(c->connect(server.path()));
    ASSERT_TRUE(first.connect(server.path()));
    ASSERT_TRUE(first.send(kGet));
    std::this_thread::sleep_for(ms(1500));
    starved = server.report();
  }
  const std::size_t lines = log.lines_with("accept failed");
  std::printf("out of descriptors for 1.5 s: %llu failed accepts, %zu log lines\n",
              static_cast<unsigned long long>(starved.accept_errors), lines);
  EXPECT_GE(starved.accept_errors, 3u);
  EXPECT_LE(starved.accept_errors, 20u) << "backoff (10 ms doubling to 1 s), not a spin";
  EXPECT_GE(log.lines_with("api: accept failed: Too many open files (1 time(s)"), 1u) << log.text();
  EXPECT_LE(lines, 4u) << "one line per 500 ms interval";
  EXPECT_EQ(starved.open, 0u);
  // Descriptors are back: within the longest backoff, everything queued is accepted.
  EXPECT_EQ(status_line(first.read_until_closed(ms(3000))), "HTTP/1.1 200 OK");
  EXPECT_TRUE(server.wait_open(40));
  EXPECT_GE(log.lines_with("api: accepting again after"), 1u) << log.text();

  // Out of descriptors again, but 40 idle connections hold some: one is closed to accept a
  // request, which is answered at once.
  ms latency{0};
  std::string answer;
  {
    NoMoreDescriptors limit;
    const auto start = Clock::now();
    ASSERT_TRUE(second.connect(server.path()));
    ASSERT_TRUE(second.send(kGet));
    answer = second.read_until_closed(ms(3000));
    latency = std::chrono::duration_cast<ms>(Clock::now() - start);
  }
  std::printf("out of descriptors with idle connections open: answered in %lld ms\n",
              static_cast<long long>(latency.count()));
  EXPECT_EQ(status_line(answer), "HTTP/1.1 200 OK");
  EXPECT_LE(latency, ms(500));
  EXPECT_TRUE(queued[0]->read_until_closed(ms(1000)).empty());
  EXPECT_TRUE(queued[0]->closed()) << "the longest idle connection made room";
}

TEST(HttpServer, ARefusedCallerGets403AndItsRequestIsNeverHandled) {
  CapturedLog log;
  Server server(short_limits(),
                [](int) -> Status { return Error{"uid 65534 (pid 1) is neither root nor X"}; });
  for (int i = 0; i < 3; ++i) {
    const std::string answer = round_trip(server.path(), kGet);
    EXPECT_EQ(status_line(answer), "HTTP/1.1 403 Forbidden");
    EXPECT_NE(answer.find("permission denied: uid 65534"), std::string::npos) << answer;
  }
  EXPECT_EQ(server.handled(), 0);
  EXPECT_EQ(server.report().refused_callers, 3u);
  EXPECT_EQ(log.lines_with("api: refused a connection: uid 65534 (pid 1)"), 1u)
      << "rate-limited: " << log.text();
}

}  // namespace
}  // namespace sluice::cp

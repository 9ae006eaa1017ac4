// ControlServer on a real Unix socket with a stand-in handler (no EAL): what one client does
// never holds up another, deadlines and the idle timeout close the right connections, and the
// time spent on one client's slow request is not charged to the others.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "control_server.hpp"
#include "sluice/control/client.hpp"
#include "sluice/control/frame.hpp"
#include "sluice/control/unix_socket.hpp"

namespace sluice::dataplane {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

// The server polling on its own thread; {"op":"sleep","ms":N} makes the handler take N ms.
class Served {
 public:
  explicit Served(ControlServerLimits limits = {}) {
    char dir[] = "/tmp/sluice-cs-test-XXXXXX";
    dir_ = ::mkdtemp(dir) != nullptr ? dir : "";
    path_ = dir_ + "/dp.sock";
    auto server = ControlServer::listen(
        path_,
        [](const json& r) {
          if (r.value("op", "") == "sleep") std::this_thread::sleep_for(r["ms"].get<int>() * 1ms);
          return json{{"ok", true}, {"echo", r}};
        },
        limits);
    EXPECT_TRUE(server.ok()) << server.error().message;
    if (server.ok()) server_ = std::move(server.value());
    thread_ = std::thread([this] {
      while (!stop_)
        server_->poll(10ms);
    });
  }
  ~Served() {
    stop_ = true;
    thread_.join();
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  [[nodiscard]] UniqueFd connect() const {
    auto fd = control::connect_unix(path_, 1s);
    EXPECT_TRUE(fd.ok());
    return fd.ok() ? std::move(fd.value()) : UniqueFd{};
  }
  // Seconds a fresh client's request takes.
  [[nodiscard]] double request_seconds(const json& request = {{"op", "get_status"}}) const {
    const auto t = Clock::now();
    auto client = control::ControlClient::connect(path_, 1s);
    EXPECT_TRUE(client.ok());
    if (!client.ok()) return 1e9;
    auto reply = client->request(request, 10s);
    EXPECT_TRUE(reply.ok()) << reply.error().message;
    return std::chrono::duration<double>(Clock::now() - t).count();
  }
  [[nodiscard]] std::size_t connections() const { return server_->connections(); }

 private:
  std::string dir_;
  std::string path_;
  std::unique_ptr<ControlServer> server_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

bool send_bytes(int fd, std::string_view bytes) {
  return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

// All of `bytes` on a non-blocking socket, waiting for room as needed.
bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, 10000) <= 0) return false;
    } else {
      return false;
    }
  }
  return true;
}

std::string frame(const json& body) {
  const std::string payload = body.dump();
  return control::encode_frame_header(static_cast<std::uint32_t>(payload.size())) + payload;
}

// Whether the server closed fd within `timeout` (EOF or reset; replies are skipped).
bool closed_within(int fd, std::chrono::milliseconds timeout) {
  const auto end = Clock::now() + timeout;
  char buf[4096];
  while (Clock::now() < end) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return true;
    if (n < 0) std::this_thread::sleep_for(5ms);
  }
  return false;
}

TEST(ControlServer, HalfFramesDelayNobody) {
  Served s;
  std::vector<UniqueFd> stuck;
  for (int i = 0; i < 10; ++i) {
    stuck.push_back(s.connect());
    ASSERT_TRUE(send_bytes(stuck.back().get(), frame({{"op", "x"}}).substr(0, 2 + i)));
  }
  std::this_thread::sleep_for(50ms);
  EXPECT_LT(s.request_seconds(), 0.5);
}

TEST(ControlServer, AFullServerClosesTheConnectionIdleLongest) {
  ControlServerLimits limits;
  limits.max_clients = 4;
  Served s(limits);
  std::vector<UniqueFd> idle;
  for (int i = 0; i < 4; ++i) {
    idle.push_back(s.connect());
    std::this_thread::sleep_for(20ms);  // accepted one by one, in this order
  }
  // The first one speaks: now the second is the one idle longest.
  ASSERT_TRUE(send_bytes(idle[0].get(), frame({{"op", "get_status"}})));
  std::this_thread::sleep_for(50ms);
  EXPECT_LT(s.request_seconds(), 0.5);  // a fifth client gets in
  EXPECT_TRUE(closed_within(idle[1].get(), 500ms));
  EXPECT_FALSE(closed_within(idle[0].get(), 50ms));
  EXPECT_FALSE(closed_within(idle[2].get(), 50ms));
  EXPECT_FALSE(closed_within(idle[3].get(), 50ms));
}

TEST(ControlServer, IdleConnectionsCloseAfterTheIdleTimeout) {
  ControlServerLimits limits;
  limits.idle_timeout = 300ms;
  Served s(limits);
  UniqueFd quiet = s.connect();
  UniqueFd busy = s.connect();
  const auto t = Clock::now();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(send_bytes(busy.get(), frame({{"op", "get_status"}})));
    std::this_thread::sleep_for(60ms);
  }
  EXPECT_TRUE(closed_within(quiet.get(), 100ms));
  EXPECT_GE(Clock::now() - t, 300ms);
  EXPECT_FALSE(closed_within(busy.get(), 50ms));
}

TEST(ControlServer, AFrameMustArriveWithinTheDeadline) {
  ControlServerLimits limits;
  limits.frame_deadline = 300ms;
  Served s(limits);
  UniqueFd slow = s.connect();
  const std::string wire = frame({{"op", "get_status"}});
  const auto t = Clock::now();
  bool closed = false;
  for (std::size_t i = 0; i < wire.size() && !closed; ++i) {  // a byte every 50 ms: too slow
    closed = !send_bytes(slow.get(), wire.substr(i, 1)) || closed_within(slow.get(), 50ms);
  }
  EXPECT_TRUE(closed || closed_within(slow.get(), 500ms));
  EXPECT_GE(Clock::now() - t, 250ms);
}

TEST(ControlServer, TimeSpentOnAnotherRequestIsNotChargedToAWaitingClient) {
  ControlServerLimits limits;
  limits.frame_deadline = 300ms;
  limits.idle_timeout = 300ms;
  Served s(limits);
  UniqueFd waiting = s.connect();
  const std::string wire = frame({{"op", "get_status"}});
  ASSERT_TRUE(send_bytes(waiting.get(), wire.substr(0, 5)));  // a frame under way, and idle-ish
  std::this_thread::sleep_for(50ms);
  // Another client's request keeps the control thread busy beyond both limits.
  EXPECT_GE(s.request_seconds({{"op", "sleep"}, {"ms", 600}}), 0.6);
  ASSERT_TRUE(send_bytes(waiting.get(), wire.substr(5)));
  auto reply = control::read_frame(waiting.get(), 1s);
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ((*reply)["echo"]["op"], "get_status");
}

TEST(ControlServer, AFloodOfPipelinedRequestsIsAnsweredWithoutStarvingOthers) {
  Served s;
  UniqueFd flood = s.connect();
  std::string wire;
  for (int i = 0; i < 2000; ++i)
    wire += frame({{"op", "get_status"}, {"i", i}});
  std::thread reader([fd = flood.get()] {
    for (int i = 0; i < 2000; ++i) {
      auto reply = control::read_frame(fd, 10s);
      ASSERT_TRUE(reply.ok()) << i << ": " << reply.error().message;
      ASSERT_EQ((*reply)["echo"]["i"], i);
    }
  });
  ASSERT_TRUE(send_all(flood.get(), wire));
  EXPECT_LT(s.request_seconds(), 0.5);
  reader.join();
}

TEST(ControlServer, ABadLengthGetsAnErrorAndTheConnectionIsClosed) {
  Served s;
  UniqueFd bad = s.connect();
  ASSERT_TRUE(send_bytes(bad.get(), control::encode_frame_header(0xFFFFFFFFu)));
  auto reply = control::read_frame(bad.get(), 1s);
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ((*reply)["ok"], false);
  EXPECT_TRUE(closed_within(bad.get(), 500ms));
  EXPECT_LT(s.request_seconds(), 0.5);
}

}  // namespace
}  // namespace sluice::dataplane

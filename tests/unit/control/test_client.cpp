#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>

#include <thread>

#include "sluice/control/client.hpp"
#include "sluice/control/frame.hpp"
#include "sluice/control/unix_socket.hpp"
#include "socket_pair.hpp"

namespace sluice::control {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;
using nlohmann::json;
using testing::TempDir;

IpAddress ip(const char* text) {
  return *IpAddress::parse(text);
}

// A minimal dataplane stand-in: answers each request of one connection the way the real
// control server does, through parse_request.
void serve_one_connection(int listen_fd, std::uint64_t* running_generation) {
  pollfd p{listen_fd, POLLIN, 0};
  if (::poll(&p, 1, 5000) != 1) return;
  auto conn = accept_unix(listen_fd);
  if (!conn) return;
  for (;;) {
    auto frame = read_frame_or_eof(conn->get(), 5s);
    if (!frame || !frame->has_value()) return;
    auto request = parse_request(**frame);
    json reply;
    if (!request) {
      reply = error_reply(request.error().message);
    } else if (const auto* push = std::get_if<PushStateRequest>(&*request)) {
      *running_generation = push->state.generation;
      reply = ok_reply(to_json(PushStateReply{push->state.generation}));
    } else if (std::holds_alternative<GetStatusRequest>(*request)) {
      DataplaneStatus s;
      s.generation = *running_generation;
      s.lcores = {{0, "main", ""}, {1, "worker", "poll"}};
      reply = ok_reply(to_json(s));
    } else if (std::holds_alternative<GetCountersRequest>(*request)) {
      Counters c;
      c.generation = *running_generation;
      c.drops["no_backend"] = 2;
      reply = ok_reply(to_json(c));
    } else {
      const auto& flow = std::get<ExplainRequest>(*request).flow;
      ExplainResult r;
      r.vip = flow.dst.to_string() + ":" + std::to_string(flow.dst_port) + "/tcp";
      r.backend = "198.18.1.1";
      r.source = ExplainSource::scheduler;
      r.reason = "only backend";
      reply = ok_reply(to_json(r));
    }
    if (!write_frame(conn->get(), reply, 5s)) return;
  }
}

TEST(ControlClient, SpeaksEveryOperationOverARealSocket) {
  TempDir dir;
  const std::string path = dir.path() + "/dataplane.sock";
  auto server = listen_unix(path);
  ASSERT_TRUE(server.ok()) << server.error().message;
  std::uint64_t generation = 0;
  std::thread dataplane(serve_one_connection, server->get(), &generation);

  auto client = ControlClient::connect(path);
  ASSERT_TRUE(client.ok()) << client.error().message;

  config::State state;
  state.generation = 41;
  auto pushed = client->push_state(state);
  ASSERT_TRUE(pushed.ok()) << pushed.error().message;
  EXPECT_EQ(pushed->generation, 41u);

  auto status = client->get_status();
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(status->generation, 41u);
  EXPECT_EQ(status->lcores.size(), 2u);

  auto counters = client->get_counters();
  ASSERT_TRUE(counters.ok()) << counters.error().message;
  EXPECT_EQ(counters->drops.at("no_backend"), 2u);

  auto explained = client->explain(
      ExplainFlow{ip("198.18.2.1"), ip("198.18.0.10"), 1234, 80, config::Protocol::tcp});
  ASSERT_TRUE(explained.ok()) << explained.error().message;
  EXPECT_EQ(explained->vip, "198.18.0.10:80/tcp");
  EXPECT_EQ(explained->source, ExplainSource::scheduler);

  // A refused state: the error names the field, and the connection stays usable.
  state.generation = 42;
  state.dataplane.mtu = 100;
  auto refused = client->push_state(state);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "dataplane.mtu: 100 is out of range 576..9000");
  EXPECT_TRUE(client->connected());
  status = client->get_status();
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(status->generation, 41u);  // the running state was kept

  auto unknown = client->request(json{{"op", "shutdown"}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.error().message, HasSubstr("unknown operation \"shutdown\""));

  *client = ControlClient(UniqueFd());  // closes: the server loop ends
  dataplane.join();
}

TEST(ControlClient, TimeoutClosesTheConnection) {
  auto [ours, theirs] = testing::socket_pair();
  ControlClient client(std::move(ours));
  auto reply = client.request(json{{"op", "get_status"}}, 30ms);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().message, "timed out after 30 ms waiting for a frame");
  EXPECT_FALSE(client.connected());
  auto again = client.request(json{{"op", "get_status"}}, 30ms);
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(again.error().message, HasSubstr("not connected"));
}

TEST(ControlClient, ConnectFailureNamesThePath) {
  auto client = ControlClient::connect("/nonexistent/sluice.sock", 50ms);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().message,
            "cannot connect to /nonexistent/sluice.sock: No such file or directory");
}

}  // namespace
}  // namespace sluice::control

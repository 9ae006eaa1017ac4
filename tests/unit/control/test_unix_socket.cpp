#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <chrono>
#include <fstream>

#include "sluice/control/caller_policy.hpp"
#include "sluice/control/frame.hpp"
#include "sluice/control/unix_socket.hpp"
#include "socket_pair.hpp"

namespace sluice::control {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;
using nlohmann::json;
using testing::TempDir;

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode;
}

TEST(UnixSocket, ListenConnectAcceptAndExchangeFrames) {
  TempDir dir;
  const std::string path = dir.path() + "/control.sock";
  auto server = listen_unix(path);
  ASSERT_TRUE(server.ok()) << server.error().message;
  EXPECT_TRUE(S_ISSOCK(mode_of(path)));
  EXPECT_EQ(mode_of(path) & 0777, 0600u);

  auto pending = accept_unix(server->get());
  ASSERT_FALSE(pending.ok());
  EXPECT_EQ(pending.error().message, "would block");

  auto client = connect_unix(path, 1s);
  ASSERT_TRUE(client.ok()) << client.error().message;
  auto conn = accept_unix(server->get());
  ASSERT_TRUE(conn.ok()) << conn.error().message;

  ASSERT_TRUE(write_frame(client->get(), json{{"op", "get_status"}}, 1s).ok());
  auto request = read_frame(conn->get(), 1s);
  ASSERT_TRUE(request.ok()) << request.error().message;
  EXPECT_EQ((*request)["op"], "get_status");
  ASSERT_TRUE(write_frame(conn->get(), json{{"ok", true}}, 1s).ok());
  auto reply = read_frame(client->get(), 1s);
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ((*reply)["ok"], true);

  auto peer = peer_credentials(conn->get());
  ASSERT_TRUE(peer.ok()) << peer.error().message;
  EXPECT_EQ(peer->uid, ::getuid());
  EXPECT_EQ(peer->pid, ::getpid());
  EXPECT_TRUE(CallerPolicy{}.admit_peer(conn->get()).ok()) << "the server's own user";
}

TEST(CallerPolicy, RootAndTheServersUserOnlyUnlessAGroupIsGiven) {
  const PeerCredentials nobody{4242, 65534, 65534};
  const Status refused = CallerPolicy{}.admit(nobody);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "uid 65534 (pid 4242) is neither root nor this server's user");
  EXPECT_TRUE(CallerPolicy{}.admit(PeerCredentials{1, 0, 0}).ok()) << "root";

  // Debian's nobody has the primary group nogroup (65534).
  auto nogroup = CallerPolicy::with_group("nogroup");
  ASSERT_TRUE(nogroup.ok()) << nogroup.error().message;
  EXPECT_TRUE(nogroup->admit(nobody).ok());
  auto other = CallerPolicy::with_group("root");
  ASSERT_TRUE(other.ok()) << other.error().message;
  EXPECT_EQ(other->admit(nobody).error().message,
            "uid 65534 (pid 4242) is neither root nor in group root");
  EXPECT_EQ(CallerPolicy::with_group("no-such-group-here").error().message,
            "group \"no-such-group-here\" does not exist");
}

TEST(UnixSocket, ModeAndGroupOptions) {
  TempDir dir;
  const std::string path = dir.path() + "/api.sock";
  ListenOptions options;
  options.mode = 0660;
  options.group = ::getgid();
  auto server = listen_unix(path, options);
  ASSERT_TRUE(server.ok()) << server.error().message;
  EXPECT_EQ(mode_of(path) & 0777, 0660u);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, ::getgid());
}

TEST(UnixSocket, StaleSocketFileIsReplaced) {
  TempDir dir;
  const std::string path = dir.path() + "/control.sock";
  {
    auto first = listen_unix(path);
    ASSERT_TRUE(first.ok()) << first.error().message;
  }  // closed: the file stays behind, as after a crash
  ASSERT_TRUE(S_ISSOCK(mode_of(path)));
  auto second = listen_unix(path);
  ASSERT_TRUE(second.ok()) << second.error().message;
  auto client = connect_unix(path, 1s);
  EXPECT_TRUE(client.ok()) << client.error().message;
}

TEST(UnixSocket, LiveSocketIsNotStolen) {
  TempDir dir;
  const std::string path = dir.path() + "/control.sock";
  auto first = listen_unix(path);
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto second = listen_unix(path);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().message,
            "cannot listen on " + path + ": another process is listening on it");
  EXPECT_TRUE(connect_unix(path, 1s).ok());  // the first one still serves
}

TEST(UnixSocket, RegularFileInTheWayIsKept) {
  TempDir dir;
  const std::string path = dir.path() + "/state.yaml";
  std::ofstream(path) << "precious\n";
  auto server = listen_unix(path);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.error().message,
            "cannot listen on " + path + ": a file that is not a socket is in the way");
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "precious");
}

TEST(UnixSocket, PathLimits) {
  const std::string long_path = "/tmp/" + std::string(sizeof(sockaddr_un{}.sun_path), 'a');
  auto server = listen_unix(long_path);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.error().message, HasSubstr("must be 1..107 bytes"));
  EXPECT_FALSE(connect_unix("", 1s).ok());
}

TEST(UnixSocket, ConnectToNothingFails) {
  TempDir dir;
  auto client = connect_unix(dir.path() + "/absent.sock", 100ms);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().message,
            "cannot connect to " + dir.path() + "/absent.sock: No such file or directory");
}

TEST(UnixSocket, DescriptorsAreCloseOnExec) {
  TempDir dir;
  auto server = listen_unix(dir.path() + "/x.sock");
  ASSERT_TRUE(server.ok());
  EXPECT_NE(::fcntl(server->get(), F_GETFD) & FD_CLOEXEC, 0);
}

TEST(UniqueFd, ClosesOnceAndMoves) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  UniqueFd a(fds[0]);
  UniqueFd b(std::move(a));
  EXPECT_FALSE(a.valid());
  EXPECT_EQ(b.get(), fds[0]);
  b.reset();
  EXPECT_EQ(::fcntl(fds[0], F_GETFD), -1);  // closed
  UniqueFd c(fds[1]);
  const int raw = c.release();
  EXPECT_FALSE(c.valid());
  EXPECT_EQ(::close(raw), 0);  // still open after release
}

}  // namespace
}  // namespace sluice::control

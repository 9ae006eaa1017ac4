// The real daemon's API socket and who may use it (docs/operations.md, "Who may use the API"):
// a caller that is neither root, the daemon's user nor in the API group is refused through
// SO_PEERCRED, with sluicectl's exit code 7, even when the socket file's mode lets it in.
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <numeric>
#include <thread>

#include "local_daemon_fixture.hpp"
#include "raw_client.hpp"

namespace sluice::cp::testing {
namespace {

using ms = std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Runs `sluicectl status` and times it.
struct Timed {
  Output out;
  ms took{0};
};

class DaemonLimitsTest : public LocalDaemonTest {
 protected:
  Timed timed_status() {
    const auto start = Clock::now();
    Timed t;
    t.out = sluicectl("--timeout 5 status");
    t.took = std::chrono::duration_cast<ms>(Clock::now() - start);
    return t;
  }

  std::string metrics() {
    return capture("curl -s --max-time 5 http://127.0.0.1:" + std::to_string(metrics_port_) +
                   "/metrics")
        .text;
  }
};

// SO_PEERCRED, not the socket file's mode, refuses a caller that is neither root, the daemon's
// user nor in the API group: the socket is opened to everyone (0666) for this test.
class CallerCheckTest : public DaemonLimitsTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (setpriv to another user)";
    if (!std::filesystem::exists("/usr/bin/setpriv")) GTEST_SKIP() << "no setpriv";
    DaemonLimitsTest::SetUp();
    // nobody must reach the socket and run sluicectl.
    std::filesystem::permissions(dir_.path(), std::filesystem::perms(0711));
    std::filesystem::copy_file(env_or("SLUICECTL", "sluicectl"), dir_.file("sluicectl"));
    std::filesystem::permissions(dir_.file("sluicectl"), std::filesystem::perms(0755));
  }

  Output as_nobody(const std::string& args) {
    return capture("/usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups " +
                   dir_.file("sluicectl") + " --socket " + api_socket() + " " + args);
  }
};

TEST_F(CallerCheckTest, AnUnprivilegedCallerIsRefusedWithExitCode7) {
  write_config();
  start_daemon();
  ASSERT_EQ(::chmod(api_socket().c_str(), 0666), 0);

  const Output refused = as_nobody("status");
  EXPECT_EQ(refused.code, 7) << refused.text;
  EXPECT_NE(refused.text.find("sluicectl: permission denied: uid 65534 (pid "), std::string::npos)
      << refused.text;
  EXPECT_NE(refused.text.find("is neither root nor this server's user"), std::string::npos)
      << refused.text;
  EXPECT_NE(daemon_->log().find("api: refused a connection: uid 65534 (pid "), std::string::npos)
      << daemon_->log();
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(as_nobody("vip list").code, 7);
  EXPECT_EQ(log_lines_with("api: refused a connection"), 1u) << "rate-limited: once per 10 s";
  EXPECT_NE(metrics().find(
                "sluice_http_connections_closed_total{server=\"api\",reason=\"refused_caller\"} "
                "11"),
            std::string::npos);
  const Output root = sluicectl("status");
  EXPECT_EQ(root.code, 0) << root.text;

  // Without the chmod, the file mode (0660, root's group) refuses first: exit code 7 as well.
  ASSERT_EQ(::chmod(api_socket().c_str(), 0660), 0);
  const Output by_mode = as_nobody("status");
  EXPECT_EQ(by_mode.code, 7) << by_mode.text;
  EXPECT_NE(by_mode.text.find("the socket file's owner, group or mode refuses you"),
            std::string::npos)
      << by_mode.text;
}

TEST_F(CallerCheckTest, MembersOfTheApiGroupAreAdmitted) {
  write_config();
  start_daemon({"--api-group", "nogroup"});  // nobody's primary group
  struct stat st {};
  ASSERT_EQ(::stat(api_socket().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  const Output admitted = as_nobody("status");
  EXPECT_EQ(admitted.code, 0) << admitted.text << daemon_->log();
  EXPECT_NE(daemon_->log().find("callers: root, uid 0 and group nogroup"), std::string::npos)
      << daemon_->log();
}

}  // namespace
}  // namespace sluice::cp::testing

// sluicectl top against the real daemon (a fake dataplane serving fixed counters): bounded
// frames when not on a terminal, one JSON document per frame with --json, and on a terminal
// (a pseudo-terminal here) raw mode until `q`, SIGINT or the daemon going away, with the
// terminal put back.
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <csignal>
#include <sstream>
#include <thread>

#include "daemon_fixture.hpp"

namespace sluice::cp::testing {
namespace {

using ms = std::chrono::milliseconds;
using nlohmann::json;

const char* kTwoBackends = R"(  - address: 198.18.0.10
    port: 80
    protocol: tcp
    backends:
      - {address: 198.18.1.1}
      - {address: 198.18.1.2, weight: 2}
)";

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1))
    ++n;
  return n;
}

// The line of `text` that contains `what` ("" if none).
std::string line_with(const std::string& text, const std::string& what) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(what) != std::string::npos) return line;
  }
  return "";
}

// sluicectl top on a pseudo-terminal: its output until it exits (or `limit`), its exit status,
// and whether the terminal is back in canonical mode with echo afterwards.
struct PtyRun {
  std::string output;
  int status = -1;
  bool exited = false;
  bool canonical_after = false;
};

class TopTest : public DaemonTest {
 protected:
  void SetUp() override {
    DaemonTest::SetUp();
    if (HasFatalFailure()) return;
    write_config(kTwoBackends);
    control::Counters counters;
    control::VipCounters v;
    v.vip = "198.18.0.10:80/tcp";
    v.packets = 1000;
    v.bytes = 64000;
    v.new_flows = 10;
    v.active_flows = 4;
    v.per_backend = {{"198.18.1.1", config::BackendState::up, 400, 25600, 4, 0, 1},
                     {"198.18.1.2", config::BackendState::up, 600, 38400, 6, 0, 3}};
    counters.per_vip.push_back(v);
    counters.drops["no_backend"] = 3;
    dataplane_->set_counters(counters);
    start_daemon();
    ASSERT_TRUE(dataplane_->wait_for_push([](const config::State&) { return true; }, ms(3000)));
    std::this_thread::sleep_for(ms(1500));  // one counters poll
  }

  // Runs `sluicectl --socket S top ARGS` with a pseudo-terminal as stdin/stdout/stderr;
  // `act(pid, master)` runs once the first frame is drawn.
  template <typename Act>
  PtyRun run_on_pty(const std::vector<std::string>& args, Act act) {
    PtyRun run;
    const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
    EXPECT_GE(master, 0);
    if (master < 0) return run;
    EXPECT_EQ(::grantpt(master), 0);
    EXPECT_EQ(::unlockpt(master), 0);
    const std::string slave_name = ::ptsname(master);
    const std::string ctl = env_or("SLUICECTL", "sluicectl");
    std::vector<std::string> argv_s{ctl, "--socket", api_socket(), "top"};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::setsid();
      const int slave = ::open(slave_name.c_str(), O_RDWR);
      if (slave < 0) ::_exit(120);
      ::ioctl(slave, TIOCSCTTY, 0);
      for (int fd = 0; fd < 3; ++fd)
        ::dup2(slave, fd);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    // A second descriptor on the slave, to read the terminal's mode after the child is gone.
    const int slave = ::open(slave_name.c_str(), O_RDWR | O_NOCTTY);
    auto read_for = [&](std::chrono::milliseconds span, const std::string& until) {
      const auto deadline = std::chrono::steady_clock::now() + span;
      while (std::chrono::steady_clock::now() < deadline) {
        if (!until.empty() && run.output.find(until) != std::string::npos) return;
        pollfd fd{master, POLLIN, 0};
        if (::poll(&fd, 1, 50) <= 0) continue;
        char buffer[4096];
        const ssize_t n = ::read(master, buffer, sizeof buffer);
        if (n <= 0) return;
        run.output.append(buffer, static_cast<std::size_t>(n));
      }
    };
    read_for(ms(5000), "drops:");
    act(pid, master);
    const auto deadline = std::chrono::steady_clock::now() + ms(5000);
    while (std::chrono::steady_clock::now() < deadline) {
      read_for(ms(100), "");
      if (::waitpid(pid, &run.status, WNOHANG) == pid) {
        run.exited = true;
        break;
      }
    }
    if (!run.exited) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &run.status, 0);
    }
    read_for(ms(100), "");
    termios mode{};
    if (slave >= 0 && ::tcgetattr(slave, &mode) == 0) {
      run.canonical_after = (mode.c_lflag & ICANON) != 0 && (mode.c_lflag & ECHO) != 0;
    }
    if (slave >= 0) ::close(slave);
    ::close(master);
    return run;
  }
};

TEST_F(TopTest, NotATerminalPrintsCountFramesWithVipsBackendsAndDrops) {
  Output out = sluicectl("top --count 2 --interval 0.2");
  ASSERT_EQ(out.code, 0) << out.text;
  EXPECT_EQ(occurrences(out.text, "sluice top "), 2u) << out.text;
  EXPECT_EQ(occurrences(out.text, "VIP 198.18.0.10:80/tcp"), 2u) << out.text;
  EXPECT_EQ(out.text.find("\033["), std::string::npos) << "no escape sequences off a terminal";
  EXPECT_EQ(out.text.find("(q quits)"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("dataplanes 1/1 reachable, 1 in sync"), std::string::npos) << out.text;
  EXPECT_NE(line_with(out.text, "VIP 198.18.0.10:80/tcp").find("4 active"), std::string::npos)
      << out.text;
  // BACKEND STATE HEALTH WEIGHT EFFECTIVE PACKETS/S NEW FLOWS/S ACTIVE SYN RTX/S CHECK EWMA
  // CHECK P50 CHECK P99 (the daemon reports the SYN counters and check latencies)
  EXPECT_NE(out.text.find("SYN RTX/S  CHECK EWMA  CHECK P50  CHECK P99"), std::string::npos)
      << out.text;
  std::istringstream second(line_with(out.text, "198.18.1.2 "));
  std::vector<std::string> cells;
  for (std::string cell; second >> cell;)
    cells.push_back(cell);
  ASSERT_EQ(cells.size(), 12u) << out.text;
  EXPECT_EQ(cells[1], "up");
  EXPECT_EQ(cells[2], "unchecked");
  EXPECT_EQ(cells[3], "2");
  EXPECT_EQ(cells[4], "2");
  EXPECT_EQ(cells[7], "3") << out.text;  // active flows, from the dataplane counters
  EXPECT_EQ(cells[9], "-") << "unchecked: no check latency";
  EXPECT_NE(line_with(out.text, "drops:").find("no_backend"), std::string::npos) << out.text;
  EXPECT_NE(line_with(out.text, "drops:").find("(3 in all)"), std::string::npos) << out.text;

  out = sluicectl("top");  // not a terminal: one frame by default
  ASSERT_EQ(out.code, 0) << out.text;
  EXPECT_EQ(occurrences(out.text, "sluice top "), 1u) << out.text;
}

TEST_F(TopTest, JsonIsOneStatusAndStatsDocumentPerFrame) {
  Output out = sluicectl("top --json --count 2 --interval 0.2");
  ASSERT_EQ(out.code, 0) << out.text;
  std::istringstream in(out.text);
  std::vector<json> frames;
  for (std::string line; std::getline(in, line);)
    frames.push_back(json::parse(line));
  ASSERT_EQ(frames.size(), 2u) << out.text;
  for (const auto& f : frames) {
    EXPECT_GT(f["time"].get<double>(), 1.6e9);
    EXPECT_EQ(f["status"]["vips"][0]["vip"], "198.18.0.10:80/tcp");
    EXPECT_EQ(f["status"]["vips"][0]["backends"][1]["weight"], 2);
    EXPECT_EQ(f["stats"]["vips"][0]["packets"], 1000);
    EXPECT_EQ(f["stats"]["drops"][0]["reason"], "no_backend");
  }
  EXPECT_GE(frames[1]["time"].get<double>() - frames[0]["time"].get<double>(), 0.15);
}

TEST_F(TopTest, UnreachableDaemonExitsThree) {
  Output out = capture(env_or("SLUICECTL", "sluicectl") + " --socket " + dir_.file("nope.sock") +
                       " --timeout 1 top --count 2");
  EXPECT_EQ(out.code, 3) << out.text;
  EXPECT_EQ(out.text.find("sluice top "), std::string::npos) << out.text;
}

TEST_F(TopTest, OnATerminalQQuitsAndTheTerminalIsRestored) {
  PtyRun run = run_on_pty({"--interval", "0.2"}, [](pid_t, int master) {
    std::this_thread::sleep_for(ms(500));  // a few redraws
    ASSERT_EQ(::write(master, "q", 1), 1);
  });
  ASSERT_TRUE(run.exited) << "top did not quit on q:\n" << run.output;
  EXPECT_TRUE(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0) << run.status;
  EXPECT_NE(run.output.find("\033[?1049h"), std::string::npos) << "alternate screen entered";
  EXPECT_NE(run.output.find("\033[?1049l"), std::string::npos) << "alternate screen left";
  EXPECT_NE(run.output.find("(q quits)"), std::string::npos) << run.output;
  EXPECT_GE(occurrences(run.output, "sluice top "), 2u) << "redrawn every 0.2 s";
  EXPECT_TRUE(run.canonical_after) << "canonical mode and echo restored";
}

TEST_F(TopTest, OnATerminalSigintQuitsAndTheTerminalIsRestored) {
  PtyRun run = run_on_pty({"--interval", "0.2"}, [](pid_t pid, int) { ::kill(pid, SIGINT); });
  ASSERT_TRUE(run.exited) << "top did not quit on SIGINT:\n" << run.output;
  EXPECT_TRUE(WIFEXITED(run.status)) << "exited, not killed by the signal: " << run.status;
  EXPECT_NE(run.output.find("\033[?1049l"), std::string::npos) << "alternate screen left";
  EXPECT_TRUE(run.canonical_after) << "canonical mode and echo restored";
}

TEST_F(TopTest, OnATerminalTheDaemonGoingAwayEndsItWithTheMessageAfterTheScreen) {
  PtyRun run = run_on_pty({"--interval", "0.2"}, [this](pid_t, int) { daemon_.reset(); });
  ASSERT_TRUE(run.exited) << run.output;
  EXPECT_TRUE(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 3) << run.status;
  const std::size_t left = run.output.rfind("\033[?1049l");
  ASSERT_NE(left, std::string::npos) << "alternate screen left";
  EXPECT_NE(run.output.find("cannot reach sluice-controlplane", left), std::string::npos)
      << "the message is shown on the normal screen:\n"
      << run.output;
  EXPECT_TRUE(run.canonical_after);
}

}  // namespace
}  // namespace sluice::cp::testing

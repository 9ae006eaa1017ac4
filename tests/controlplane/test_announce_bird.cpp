// Announcing VIPs with REAL BIRD2: a router namespace and an LB host namespace (bird_lab.hpp), the
// real sluice-controlplane in the host namespace starting the host's BIRD (bird_command), and a
// real sluice-dataplane on DPDK vdevs (--no-huge). The router's view is the verdict: the VIP's
// route in its table, its communities, and how long a withdrawal takes to reach it.
// Needs root (namespaces): exit 77 (skipped) otherwise.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <thread>

#include "bird_lab.hpp"
#include "real_processes.hpp"

namespace sluice::cp::testing {
namespace {

constexpr const char* kVip = "198.18.0.10/32";      // when-healthy, a backend up
constexpr const char* kNever = "198.18.0.11/32";    // announce: never
constexpr const char* kAllDown = "198.18.0.12/32";  // its only backend fails its check
constexpr auto kWithdrawCeiling = ms(1000);         // the bound
constexpr auto kConverge = ms(15000);               // sessions, pushes, under load

// The whole lab, shared by the tests below (they run in order and leave it announcing).
struct Lab {
  TempDir dir{"/run/sl-ann-XXXXXX"};
  BirdLab net{dir};
  std::unique_ptr<DataplaneRunner> dataplane;
  std::unique_ptr<Process> controlplane;
  bool never_seen = false;  // kNever reached the router at some point

  std::string api_socket() const { return dir.file("api.sock"); }
  std::string sluicectl() const {
    return env_or("SLUICECTL", "sluicectl") + " --socket " + api_socket();
  }

  void write_config() {
    std::ofstream out(dir.file("sluice.yaml"));
    out << "dataplane:\n  next_hop_mac: \"02:00:00:00:00:fe\"\n  tunnel_source_v4: 198.18.0.1\n"
        << "vips:\n"
        << "  - {address: 198.18.0.10, port: 80, protocol: tcp, backends: [{address: "
           "198.18.1.1}]}\n"
        << "  - {address: 198.18.0.11, port: 80, protocol: tcp, announce: never, backends: "
           "[{address: 198.18.1.1}]}\n"
        << "  - address: 198.18.0.12\n    port: 80\n    protocol: tcp\n"
        << "    health_check: {type: tcp, port: 80, interval_ms: 200, timeout_ms: 100, rise: 1, "
           "fall: 1}\n"
        << "    backends: [{address: 198.18.201.1}]\n"
        << "controlplane:\n  api_socket: " << api_socket()
        << "\n  state_file: " << dir.file("state.yaml")
        << "\n  metrics_listen: 127.0.0.1:9780"  // inside the host namespace: nobody else there
        << "\n  host_state_file: " << dir.file("host.yaml")
        << "\n  bgp:\n    bird_socket: " << net.host_socket()
        << "\n    include_v4: " << net.include_v4() << "\n    include_v6: " << net.include_v6()
        << "\n    bird_command: [";
    const auto command = net.host_bird_command();
    for (std::size_t i = 0; i < command.size(); ++i)
      out << (i ? ", " : "") << command[i];
    out << "]\n    graceful_shutdown: true\n    graceful_shutdown_hold_ms: 1000\n"
        << "dataplanes:\n  - {name: dp1, control_socket: " << dir.file("dataplane.sock") << "}\n";
  }

  bool start_dataplane() {
    dataplane =
        std::make_unique<DataplaneRunner>(dir, "slann" + std::to_string(::getpid()), null_ports(),
                                          std::vector<std::string>{"--no-huge", "-m", "256"});
    return dataplane->start();
  }

  bool start_controlplane() {
    controlplane = std::make_unique<Process>(
        std::vector<std::string>{"/usr/sbin/ip", "netns", "exec", net.host_ns(),
                                 env_or("SLUICE_CONTROLPLANE", "sluice-controlplane"), "--config",
                                 dir.file("sluice.yaml"), "--log-level", "debug"},
        dir.file("controlplane.log"));
    return eventually([&] { return api("GET", "/v1/status").status == 200; }, ms(10000));
  }

  ctl::ApiReply api(const std::string& method, const std::string& target,
                    const std::string& body = "") const {
    auto r = ctl::call_api(api_socket(), {method, target, body}, std::chrono::seconds(5));
    return r.ok() ? r.value() : ctl::ApiReply{};
  }

  bool has(const char* prefix) {
    const bool seen = net.router_has_route(prefix);
    never_seen = never_seen || net.router_has_route(kNever);
    return seen;
  }

  // Polls the router every 5 ms until `prefix` is gone; the time it took, or -1.
  long long time_until_gone(const char* prefix, Clock::time_point from, ms ceiling) {
    while (Clock::now() - from < ceiling) {
      if (!net.router_has_route(prefix)) return ms_since(from);
      std::this_thread::sleep_for(ms(5));
    }
    return -1;
  }

  std::string logs() const {
    return "--- control plane log (tail) ---\n" + tail(read_file(dir.file("controlplane.log"))) +
           "\n--- router bird log ---\n" + tail(read_file(dir.file("router-bird.log")));
  }
  static std::string tail(const std::string& s) {
    return s.size() > 6000 ? s.substr(s.size() - 6000) : s;
  }
};

Lab* lab = nullptr;

// The pid of the process listening on a Unix socket (SO_PEERCRED), or 0.
pid_t socket_peer_pid(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ucred cred{};
  socklen_t length = sizeof cred;
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0 &&
                  ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) == 0;
  ::close(fd);
  return ok ? cred.pid : 0;
}

// Everything running, the VIP announced on the router.
void ensure_announced() {
  if (!lab->dataplane || !lab->dataplane->running()) {
    ASSERT_TRUE(lab->start_dataplane());
  }
  if (!lab->controlplane) {
    ASSERT_TRUE(lab->start_controlplane()) << lab->logs();
  }
  ASSERT_TRUE(eventually([] { return lab->has(kVip); }, kConverge))
      << lab->api("GET", "/v1/host").body.dump(2) << lab->logs();
}

TEST(AnnounceBird, RouterLearnsTheVipOnlyWhenHealthy) {
  lab->write_config();
  ASSERT_TRUE(lab->start_dataplane()) << lab->dataplane->log();
  const auto started = Clock::now();
  ASSERT_TRUE(lab->start_controlplane()) << lab->logs();
  ASSERT_TRUE(eventually([] { return lab->has(kVip); }, kConverge))
      << lab->api("GET", "/v1/host").body.dump(2) << lab->logs();
  std::printf("control plane start -> router has the VIP: %lld ms\n", ms_since(started));
  // The VIP whose backend fails its check is withdrawn, `never` is never announced.
  EXPECT_TRUE(eventually([] { return !lab->has(kAllDown); }, ms(5000)))
      << lab->api("GET", "/v1/health").body.dump(2) << lab->api("GET", "/v1/status").body.dump(2);
  const ctl::ApiReply host = lab->api("GET", "/v1/host");
  ASSERT_EQ(host.status, 200);
  EXPECT_FALSE(host.body["drained"].get<bool>());
  std::map<std::string, std::string> reasons;
  for (const auto& v : host.body["vips"])
    reasons[v["vip"].get<std::string>()] = v["reason"].get<std::string>();
  EXPECT_EQ(reasons["198.18.0.10:80/tcp"], "announced");
  EXPECT_EQ(reasons["198.18.0.11:80/tcp"], "withdrawn: policy never");
  EXPECT_EQ(reasons["198.18.0.12:80/tcp"], "withdrawn: no backend up");
  // The BGP session as the control plane reads it from its BIRD (about every second).
  EXPECT_TRUE(eventually(
      [] {
        const ctl::ApiReply now = lab->api("GET", "/v1/host");
        for (const auto& p : now.body["protocols"]) {
          if (p["name"] == "router1" && p["session_up"].get<bool>()) return true;
        }
        return false;
      },
      ms(3000)))
      << lab->api("GET", "/v1/host").body["protocols"].dump();
  // Status carries the same per VIP.
  const ctl::ApiReply status = lab->api("GET", "/v1/status");
  ASSERT_EQ(status.status, 200);
  EXPECT_TRUE(status.body["vips"][0]["announced"].get<bool>());
  EXPECT_EQ(status.body["vips"][1]["announce_reason"], "withdrawn: policy never");
  EXPECT_FALSE(lab->has(kNever));
  // sluicectl shows the same.
  const Output text = capture(lab->sluicectl() + " host status");
  EXPECT_EQ(text.code, 0) << text.text;
  EXPECT_NE(text.text.find("withdrawn: no backend up"), std::string::npos) << text.text;
  EXPECT_NE(text.text.find("router1"), std::string::npos) << text.text;
  const Output plain = capture(lab->sluicectl() + " status");
  EXPECT_NE(plain.text.find("NOT ANNOUNCED (withdrawn: policy never)"), std::string::npos)
      << plain.text;
}

TEST(AnnounceBird, GracefulDrainTagsThenWithdrawsAndUndrainReturns) {
  ensure_announced();
  const ctl::ApiReply drained = lab->api("POST", "/v1/host/drain");
  ASSERT_EQ(drained.status, 200) << drained.body.dump();
  const auto at = Clock::now();
  // First the route stays, tagged GRACEFUL_SHUTDOWN: the router's import rule sets local-pref 0.
  EXPECT_TRUE(eventually(
      [] {
        const std::string all = lab->net.router("show route all 198.18.0.10/32");
        return all.find("(65535,0)") != std::string::npos &&
               all.find("BGP.local_pref: 0") != std::string::npos;
      },
      ms(900)))
      << lab->net.router("show route all 198.18.0.10/32");
  // Then (hold 1000 ms) it is withdrawn; the dataplane keeps running.
  const long long gone = lab->time_until_gone(kVip, at, ms(5000));
  ASSERT_GE(gone, 0) << lab->logs();
  std::printf("graceful drain: tagged at once, withdrawn after %lld ms (hold 1000 ms)\n", gone);
  EXPECT_GE(gone, 900);
  EXPECT_TRUE(lab->dataplane->running());
  const ctl::ApiReply host = lab->api("GET", "/v1/host");
  EXPECT_TRUE(host.body["drained"].get<bool>());
  EXPECT_EQ(
      host.body["vips"][0]["reason"].get<std::string>().rfind("withdrawn: host drained since", 0),
      0u)
      << host.body.dump(2);

  ASSERT_EQ(lab->api("POST", "/v1/host/undrain").status, 200);
  const auto undrained = Clock::now();
  ASSERT_TRUE(eventually([] { return lab->has(kVip); }, ms(5000)));
  std::printf("undrain -> router has the VIP again: %lld ms\n", ms_since(undrained));
}

TEST(AnnounceBird, DrainWithoutGracefulShutdownAndSurvivesARestart) {
  ensure_announced();
  const Output drained = capture(lab->sluicectl() + " host drain --no-graceful-shutdown");
  ASSERT_EQ(drained.code, 0) << drained.text;
  EXPECT_NE(drained.text.find("every VIP withdrawn"), std::string::npos) << drained.text;
  const long long gone = lab->time_until_gone(kVip, Clock::now(), ms(5000));
  ASSERT_GE(gone, 0);
  std::printf("drain --no-graceful-shutdown -> withdrawn from the router: %lld ms\n", gone);

  // Restart: the drain is read back from host_state_file; nothing is announced once the new
  // BIRD's session is up again.
  EXPECT_EQ(lab->controlplane->stop(SIGTERM), 0);
  lab->controlplane.reset();
  ASSERT_TRUE(lab->start_controlplane()) << lab->logs();
  const ctl::ApiReply host = lab->api("GET", "/v1/host");
  EXPECT_TRUE(host.body["drained"].get<bool>()) << host.body.dump(2);
  ASSERT_TRUE(eventually([] { return lab->net.session_up(); }, kConverge)) << lab->logs();
  std::this_thread::sleep_for(ms(1000));  // a round of announcing would have happened
  EXPECT_FALSE(lab->has(kVip));
  ASSERT_EQ(lab->api("POST", "/v1/host/undrain").status, 200);
  EXPECT_TRUE(eventually([] { return lab->has(kVip); }, ms(5000)));
}

TEST(AnnounceBird, DataplaneKilledIsWithdrawnWithinOneSecond) {
  ensure_announced();
  const auto at = Clock::now();
  lab->dataplane->stop(SIGKILL);
  const long long gone = lab->time_until_gone(kVip, at, ms(5000));
  std::printf("dataplane SIGKILL -> route gone from the router: %lld ms\n", gone);
  ASSERT_GE(gone, 0) << lab->logs();
  EXPECT_LE(gone, kWithdrawCeiling.count());
  const ctl::ApiReply host = lab->api("GET", "/v1/host");
  EXPECT_EQ(host.body["vips"][0]["reason"].get<std::string>().rfind(
                "withdrawn: dataplane dp1 unreachable since", 0),
            0u)
      << host.body.dump(2);
  // Back: pushed the state again, then announced.
  ASSERT_TRUE(lab->start_dataplane());
  const auto back = Clock::now();
  ASSERT_TRUE(eventually([] { return lab->has(kVip); }, kConverge)) << lab->logs();
  std::printf("dataplane restarted -> announced again: %lld ms\n", ms_since(back));
}

TEST(AnnounceBird, DataplaneStoppedIsWithdrawnWithinOneSecond) {
  ensure_announced();
  const pid_t pid = socket_peer_pid(lab->dir.file("dataplane.sock"));
  ASSERT_GT(pid, 0);
  const auto at = Clock::now();
  ::kill(pid, SIGSTOP);  // the whole dataplane freezes; its socket stays open
  const long long gone = lab->time_until_gone(kVip, at, ms(5000));
  ::kill(pid, SIGCONT);
  std::printf("dataplane SIGSTOP -> route gone from the router: %lld ms\n", gone);
  ASSERT_GE(gone, 0) << lab->logs();
  EXPECT_LE(gone, kWithdrawCeiling.count());
  ASSERT_TRUE(eventually([] { return lab->has(kVip); }, kConverge)) << lab->logs();
}

TEST(AnnounceBird, BirdKilledIsStartedAgainAndAnnouncesAgain) {
  ensure_announced();
  const ctl::ApiReply host = lab->api("GET", "/v1/host");
  ASSERT_TRUE(host.body["bird_pid"].is_number()) << host.body.dump(2);
  const auto pid = host.body["bird_pid"].get<pid_t>();
  const auto at = Clock::now();
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  const long long gone = lab->time_until_gone(kVip, at, ms(5000));
  ASSERT_GE(gone, 0);
  ASSERT_TRUE(eventually([] { return lab->has(kVip); }, kConverge)) << lab->logs();
  std::printf(
      "host BIRD SIGKILL -> withdrawn in %lld ms, started again and announced after %lld ms\n",
      gone, ms_since(at));
  EXPECT_NE(lab->api("GET", "/v1/host").body["bird_pid"], pid);
}

TEST(AnnounceBird, ControlPlaneKilledTakesBirdWithItThenDataplaneKilled) {
  ensure_announced();
  const auto at = Clock::now();
  lab->controlplane->stop(SIGKILL);
  lab->controlplane.reset();
  const long long gone = lab->time_until_gone(kVip, at, ms(5000));
  std::printf("control plane SIGKILL -> route gone from the router: %lld ms\n", gone);
  ASSERT_GE(gone, 0) << lab->logs();
  EXPECT_LE(gone, kWithdrawCeiling.count());
  // Its BIRD went with it.
  EXPECT_TRUE(eventually(
      [] { return capture("ip netns pids " + lab->net.host_ns(), false).text.empty(); }, ms(2000)))
      << capture("ip netns pids " + lab->net.host_ns(), false).text;
  lab->dataplane->stop(SIGKILL);
  std::this_thread::sleep_for(ms(1000));
  EXPECT_FALSE(lab->has(kVip));
  EXPECT_FALSE(lab->net.session_up());
}

TEST(AnnounceBird, NeverWasNeverAnnounced) {
  EXPECT_FALSE(lab->never_seen);
}

}  // namespace
}  // namespace sluice::cp::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (::geteuid() != 0) {
    std::printf("skipped: needs root (network namespaces)\n");
    return 77;
  }
  sluice::cp::testing::Lab lab;
  if (!lab.net.ok()) {
    std::printf("cannot create the namespaces\n");
    return 1;
  }
  sluice::cp::testing::lab = &lab;
  const int rc = RUN_ALL_TESTS();
  if (lab.controlplane) lab.controlplane->stop(SIGTERM);
  if (lab.dataplane) lab.dataplane->stop(SIGKILL);
  sluice::cp::testing::lab = nullptr;
  return rc;
}

// The control plane with the REAL sluice-dataplane, as plain processes (no namespaces; VIPs
// without health checks): generations (a dataplane found ahead is adopted and converges, an
// out-of-range generation is refused, a dataplane at the maximum is reported, never wrapped),
// and a dataplane SIGKILLed under traffic and started again: how long until it forwards, that
// the control plane pushed its state again, and that nothing of the dead process is left.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstdio>
#include <set>

#include "real_processes.hpp"
#include "sluice/config/validate.hpp"

namespace sluice::cp::testing {
namespace {

const char* kVip = "198.18.0.10:80/tcp";
const char* kVipYaml = R"(  - address: 198.18.0.10
    port: 80
    protocol: tcp
    backends:
      - {address: 198.18.1.1}
      - {address: 198.18.1.2}
)";

// Someone else's state (another VIP), pushed straight to the dataplane.
nlohmann::json foreign_state(std::uint64_t generation) {
  return {
      {"generation", generation},
      {"dataplane", {{"next_hop_mac", "02:00:00:00:00:fe"}, {"tunnel_source_v4", "198.18.0.1"}}},
      {"vips",
       {{{"address", "198.18.0.99"},
         {"port", 80},
         {"protocol", "tcp"},
         {"backends", {{{"address", "198.18.1.9"}}}}}}}};
}

class RecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "DPDK and the hugepage reservation need root";
    pcap_ = dir_.file("flows.pcap");
    const Output gen = capture(env_or("SLUICE_FLOWGEN", "sluice-flowgen") + " --out " + pcap_ +
                               " --flows 1000 --vip 198.18.0.10 --port 80");
    ASSERT_EQ(gen.code, 0) << gen.text;
  }

  // The dataplane runs our VIP (generation `at_least` or more) and forwards its packets.
  bool forwarding(const DataplaneRunner& dp, std::uint64_t at_least = 1) {
    const control::DataplaneStatus s = dp.status();
    if (s.generation < at_least || s.vips != 1) return false;
    const std::uint64_t before = dp.vip_packets(kVip);
    std::this_thread::sleep_for(ms(20));
    return dp.vip_packets(kVip) > before;
  }

  TempDir dir_;
  std::string pcap_;
};

TEST_F(RecoveryTest, GenerationsAheadAreAdoptedOutOfRangeRefusedTheMaximumReported) {
  // The dataplane starts with someone else's state at generation 1000.
  { std::ofstream(dir_.file("foreign.yaml")) << foreign_state(1000).dump(); }
  DataplaneRunner dp(dir_, test_prefix("cpgen"), pcap_ports(pcap_), {"--no-huge", "-m", "512"},
                     {"--config", dir_.file("foreign.yaml")});
  ASSERT_TRUE(dp.start()) << dp.log();
  ASSERT_EQ(dp.status().generation, 1000u);
  ControlPlaneRunner cp(dir_, dp.socket());
  ASSERT_TRUE(cp.start(kVipYaml)) << cp.log();

  // 1. Adopted: numbering goes on above 1000, our VIP replaces the foreign one.
  ASSERT_TRUE(eventually([&] { return forwarding(dp, 1001); }, ms(5000))) << cp.log() << dp.log();
  EXPECT_EQ(dp.status().generation, 1001u);
  EXPECT_NE(dp.log().find("generation 1000 -> 1001"), std::string::npos) << dp.log();
  EXPECT_TRUE(eventually([&] { return cp.dataplane_report().value("in_sync", false); }, ms(3000)));

  // 2. Out of range: refused by the dataplane's validation, naming the field.
  const nlohmann::json wrapped = dp.request(
      {{"op", "push_state"}, {"state", foreign_state(std::numeric_limits<std::uint64_t>::max())}});
  EXPECT_EQ(wrapped.value("ok", true), false) << wrapped.dump();
  EXPECT_NE(
      wrapped.value("error", "").find("generation: 18446744073709551615 is above the maximum"),
      std::string::npos)
      << wrapped.dump();
  EXPECT_EQ(dp.status().generation, 1001u);

  // 3. Someone pushes generation 5000: the control plane resyncs above it.
  ASSERT_EQ(dp.request({{"op", "push_state"}, {"state", foreign_state(5000)}}).value("ok", false),
            true);
  const auto pushed = Clock::now();
  ASSERT_TRUE(eventually([&] { return forwarding(dp, 5001); }, ms(5000))) << cp.log();
  std::printf("foreign generation 5000 replaced by the control plane's 5001 after %lld ms\n",
              ms_since(pushed));
  EXPECT_EQ(dp.status().generation, 5001u);

  // 4. An API change numbers on from there.
  const ctl::ApiReply changed = cp.api(
      "PUT", "/v1/backends/weight?vip=198.18.0.10:80/tcp&address=198.18.1.1", R"({"weight": 3})");
  ASSERT_EQ(changed.status, 200u) << changed.raw_body;
  EXPECT_TRUE(eventually([&] { return dp.status().generation == 5002; }, ms(3000)))
      << dp.status().generation;

  // 5. Someone pushes the maximum: valid, so the dataplane runs it; the control plane cannot
  //    go above it and says so instead of wrapping to 0.
  ASSERT_EQ(dp.request({{"op", "push_state"}, {"state", foreign_state(config::kMaxGeneration)}})
                .value("ok", false),
            true);
  ASSERT_TRUE(eventually(
      [&] {
        return cp.dataplane_report().value("last_error", "").find("the maximum") !=
               std::string::npos;
      },
      ms(5000)))
      << cp.dataplane_report().dump();
  EXPECT_EQ(cp.dataplane_report().value("in_sync", true), false);
  std::this_thread::sleep_for(ms(1500));  // a poll or more: nothing else is tried
  EXPECT_EQ(dp.status().generation, config::kMaxGeneration);
  EXPECT_EQ(dp.log().find("refused state generation"), std::string::npos)
      << "the control plane pushed a wrapped or out-of-range generation\n"
      << dp.log();

  // 6. The way out: the dataplane restarts (with its --config generation, 1000) and is
  //    resynced with the control plane's current generation.
  ASSERT_EQ(dp.stop(SIGTERM), 0);
  ASSERT_TRUE(dp.start()) << dp.log();
  EXPECT_TRUE(eventually([&] { return forwarding(dp, 5002); }, ms(8000)))
      << dp.status().generation << "\n"
      << cp.log();
}

struct Restart {
  long long socket_ms = 0;      // start -> control socket answers
  long long pushed_ms = 0;      // start -> it runs the control plane's state
  long long forwarding_ms = 0;  // start -> VIP packets counted again
};

// The dataplane under traffic, killed, started again with the same prefix after `down` (a
// supervisor's restart delay: systemd's RestartSec=2 in docs/systemd).
Restart kill_and_restart(DataplaneRunner& dp, ControlPlaneRunner& cp, std::uint64_t& pushes_before,
                         std::chrono::milliseconds down = ms(0)) {
  pushes_before = cp.dataplane_report().value("pushes", 0u);
  EXPECT_EQ(dp.stop(SIGKILL), 128 + SIGKILL);
  std::this_thread::sleep_for(down);
  Restart r;
  const auto started = Clock::now();
  EXPECT_TRUE(dp.start());
  r.socket_ms = ms_since(started);
  EXPECT_TRUE(eventually([&] { return dp.status().vips == 1; }, ms(30000))) << cp.log();
  r.pushed_ms = ms_since(started);
  const std::uint64_t at_push = dp.vip_packets(kVip);
  EXPECT_TRUE(eventually([&] { return dp.vip_packets(kVip) > at_push; }, ms(5000)));
  r.forwarding_ms = ms_since(started);
  return r;
}

TEST_F(RecoveryTest, SigkillUnderTrafficWithoutHugepages) {
  DataplaneRunner dp(dir_, test_prefix("cprestart"), pcap_ports(pcap_), {"--no-huge", "-m", "512"});
  ASSERT_TRUE(dp.start()) << dp.log();
  ControlPlaneRunner cp(dir_, dp.socket());
  ASSERT_TRUE(cp.start(kVipYaml)) << cp.log();
  ASSERT_TRUE(eventually([&] { return forwarding(dp); }, ms(5000))) << cp.log();

  // Restarted at once (twice), then after 2 s and 12 s down (the control plane's retries back
  // off meanwhile: the time from the restart to forwarding must stay bounded anyway).
  for (const int down_ms : {0, 0, 2000, 12000}) {
    std::uint64_t pushes_before = 0;
    const std::size_t log_before = dp.log().size();
    const Restart r = kill_and_restart(dp, cp, pushes_before, ms(down_ms));
    std::printf(
        "restart after %d ms down (--no-huge): control socket after %lld ms, state pushed after "
        "%lld ms, forwarding after %lld ms\n",
        down_ms, r.socket_ms, r.pushed_ms, r.forwarding_ms);
    EXPECT_LT(r.forwarding_ms, 5000) << "restart to forwarding";
    EXPECT_TRUE(
        eventually([&] { return cp.dataplane_report().value("in_sync", false); }, ms(3000)));
    EXPECT_GT(cp.dataplane_report().value("pushes", 0u), pushes_before);
    EXPECT_NE(cp.log().find("resync after"), std::string::npos) << cp.log();
    // The dead process's runtime directory was found and replaced.
    EXPECT_NE(dp.log().substr(log_before).find("removed what a dead dataplane left"),
              std::string::npos)
        << dp.log().substr(log_before);
  }
  // A clean stop leaves nothing behind.
  EXPECT_EQ(dp.stop(SIGTERM), 0);
  EXPECT_FALSE(std::filesystem::exists(dp.runtime_dir())) << dp.log();
}

TEST_F(RecoveryTest, SigkillUnderTrafficOnHugepagesLeavesNoStaleFiles) {
  std::string why;
  const auto huge = Hugepages::reserve(128, dir_.file("huge"), why);
  if (!huge) GTEST_SKIP() << "no hugepages: " << why;
  DataplaneRunner dp(dir_, test_prefix("cphuge"), pcap_ports(pcap_),
                     {"--huge-dir", huge->dir(), "--socket-mem", "192"});
  ASSERT_TRUE(dp.start()) << dp.log();
  ControlPlaneRunner cp(dir_, dp.socket());
  ASSERT_TRUE(cp.start(kVipYaml)) << cp.log();
  ASSERT_TRUE(eventually([&] { return forwarding(dp); }, ms(5000))) << cp.log();

  const std::size_t free_running = Hugepages::free_pages();
  const std::vector<std::string> before = huge->files(dp.prefix());
  ASSERT_FALSE(before.empty());
  std::set<ino_t> old_inodes;
  for (const std::string& f : before) {
    struct stat st {};
    ::stat((huge->dir() + "/" + f).c_str(), &st);
    old_inodes.insert(st.st_ino);
  }

  std::uint64_t pushes_before = 0;
  const std::size_t log_before = dp.log().size();
  const Restart r = kill_and_restart(dp, cp, pushes_before);
  std::printf(
      "restart on hugepages (%zu files of 2 MiB): control socket after %lld ms, state pushed "
      "after %lld ms, forwarding after %lld ms\n",
      before.size(), r.socket_ms, r.pushed_ms, r.forwarding_ms);
  EXPECT_TRUE(eventually([&] { return cp.dataplane_report().value("in_sync", false); }, ms(3000)));
  EXPECT_GT(cp.dataplane_report().value("pushes", 0u), pushes_before);
  const std::string restart_log = dp.log().substr(log_before);
  EXPECT_NE(restart_log.find("removed what a dead dataplane left: " +
                             std::to_string(before.size()) + " hugepage files"),
            std::string::npos)
      << restart_log;
  // No file of the dead process is left: the ones there now are the new process's, and the
  // machine has as many free hugepages as before the kill.
  for (const std::string& f : huge->files(dp.prefix())) {
    struct stat st {};
    ::stat((huge->dir() + "/" + f).c_str(), &st);
    EXPECT_EQ(old_inodes.count(st.st_ino), 0u) << f << " survived the restart";
  }
  EXPECT_EQ(Hugepages::free_pages(), free_running);

  // Killed again, then removed by --remove-leftovers (what the systemd unit's ExecStopPost
  // runs) without starting: every hugepage is free again.
  ASSERT_EQ(dp.stop(SIGKILL), 128 + SIGKILL);
  EXPECT_FALSE(huge->files(dp.prefix()).empty()) << "DPDK leaves them after a crash";
  const Output removed =
      capture(env_or("SLUICE_DATAPLANE", "sluice-dataplane") + " --huge-dir " + huge->dir() +
              " --file-prefix " + dp.prefix() + " -- --remove-leftovers");
  EXPECT_EQ(removed.code, 0) << removed.text;
  EXPECT_TRUE(huge->files(dp.prefix()).empty()) << removed.text;
  EXPECT_FALSE(std::filesystem::exists(dp.runtime_dir()));

  // And a clean stop releases them too (DPDK itself would keep them).
  ASSERT_TRUE(dp.start()) << dp.log();
  ASSERT_TRUE(eventually([&] { return forwarding(dp); }, ms(8000))) << cp.log();
  EXPECT_FALSE(huge->files(dp.prefix()).empty());
  EXPECT_EQ(dp.stop(SIGTERM), 0);
  EXPECT_TRUE(huge->files(dp.prefix()).empty()) << dp.log();
  EXPECT_FALSE(std::filesystem::exists(dp.runtime_dir())) << dp.log();
}

}  // namespace
}  // namespace sluice::cp::testing

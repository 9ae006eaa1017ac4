// The control plane with the REAL sluice-dataplane (DPDK, --no-huge, net_pcap infinite_rx into
// net_null): pushes reach it, killing the control plane does not stop forwarding, a restarted
// control plane adopts it without a change, and a restarted dataplane is resynced.
#include <unistd.h>

#include "daemon_fixture.hpp"
#include "sluice/control/client.hpp"
#include "sluicectl/exit_codes.hpp"

namespace sluice::cp::testing {
namespace {

using ms = std::chrono::milliseconds;

const char* kVip = R"(  - address: 198.18.0.10
    port: 80
    protocol: tcp
    backends:
      - {address: 198.18.1.1}
      - {address: 198.18.1.2}
)";

class RealDataplaneTest : public DaemonTest {
 protected:
  void SetUp() override {
    DaemonTest::SetUp();
    if (::testing::Test::HasFatalFailure()) return;
    pcap_ = dir_.file("flows.pcap");
    const Output gen = capture(env_or("SLUICE_FLOWGEN", "sluice-flowgen") + " --out " + pcap_ +
                               " --flows 1000 --vip 198.18.0.10 --port 80");
    ASSERT_EQ(gen.code, 0) << gen.text;
  }

  void TearDown() override {
    stop_dataplane();
    DaemonTest::TearDown();
  }

  void start_dataplane() {
    const std::string prefix =
        "slcpdp" + std::to_string(::getpid()) + "_" + std::to_string(++starts_);
    dataplane_process_ = std::make_unique<Process>(
        std::vector<std::string>{env_or("SLUICE_DATAPLANE", "sluice-dataplane"),
                                 "-l",
                                 "0-1",
                                 "--main-lcore",
                                 "0",
                                 "--no-huge",
                                 "-m",
                                 "512",
                                 "--no-pci",
                                 "--file-prefix",
                                 prefix,
                                 "--log-level",
                                 "lib.eal:warning",
                                 "--vdev",
                                 "net_pcap0,rx_pcap=" + pcap_ + ",infinite_rx=1",
                                 "--vdev",
                                 "net_null0,no-rx=1",
                                 "--",
                                 "--control-socket",
                                 socket(),
                                 "--tx-port",
                                 "1",
                                 "--mbufs",
                                 "16383"},
        dir_.file("dataplane.log"));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (control::ControlClient::connect(socket(), ms(200)).ok()) return;
      std::this_thread::sleep_for(ms(100));
    }
    FAIL() << "sluice-dataplane did not open its control socket\n" << dataplane_process_->log();
  }

  void stop_dataplane() {
    if (dataplane_process_) {
      dataplane_process_->stop(SIGTERM, std::chrono::seconds(15));
      dataplane_process_.reset();
    }
  }

  control::DataplaneStatus status() {
    Result<control::ControlClient> c = control::ControlClient::connect(socket(), ms(1000));
    if (!c.ok()) return {};
    Result<control::DataplaneStatus> s = c->get_status();
    return s.ok() ? s.value() : control::DataplaneStatus{};
  }

  std::uint64_t vip_packets() {
    Result<control::ControlClient> c = control::ControlClient::connect(socket(), ms(1000));
    if (!c.ok()) return 0;
    Result<control::Counters> counters = c->get_counters();
    if (!counters.ok()) return 0;
    for (const auto& v : counters->per_vip) {
      if (v.vip == "198.18.0.10:80/tcp") return v.packets;
    }
    return 0;
  }

  bool wait_generation_at_least(std::uint64_t generation, ms timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      const control::DataplaneStatus s = status();
      if (s.generation >= generation && s.vips == 1) return true;
      std::this_thread::sleep_for(ms(100));
    }
    return false;
  }

  std::string socket() const { return dir_.file("real-dp.sock"); }

  std::string pcap_;
  int starts_ = 0;
  std::unique_ptr<Process> dataplane_process_;
};

TEST_F(RealDataplaneTest, PushesReachItForwardingSurvivesTheControlPlaneAndRestartsResync) {
  start_dataplane();
  ASSERT_EQ(status().generation, 0u) << "started without a config, it runs nothing yet";
  write_config(kVip, socket());
  start_daemon();

  // 1. The push reaches the dataplane (its own get_status says so) and traffic is forwarded.
  ASSERT_TRUE(wait_generation_at_least(1, ms(5000))) << daemon_->log() << dataplane_process_->log();
  const std::uint64_t pushed = status().generation;
  std::this_thread::sleep_for(ms(1500));
  const ctl::ApiReply st = api("GET", "/v1/status");
  EXPECT_EQ(st.body["dataplanes"][0]["in_sync"], true) << st.raw_body;
  EXPECT_EQ(st.body["dataplanes"][0]["generation"], pushed);
  const std::uint64_t p0 = vip_packets();
  EXPECT_GT(p0, 0u) << "no packet counted for the VIP\n" << dataplane_process_->log();
  const ctl::ApiReply stats = api("GET", "/v1/stats");
  EXPECT_GT(stats.body["vips"][0]["packets"].get<std::uint64_t>(), 0u) << stats.raw_body;

  // 2. Fail-static: the control plane dies, packets keep flowing, the state is unchanged.
  ASSERT_NE(daemon_->stop(SIGKILL), -1);
  const std::uint64_t p1 = vip_packets();
  std::this_thread::sleep_for(ms(1000));
  const std::uint64_t p2 = vip_packets();
  std::printf("forwarding with the control plane dead: %llu -> %llu VIP packets in 1 s\n",
              static_cast<unsigned long long>(p1), static_cast<unsigned long long>(p2));
  EXPECT_GT(p2, p1);
  EXPECT_EQ(status().generation, pushed);

  // 3. Adoption: the restarted control plane pushes the same content with a higher generation.
  start_daemon();
  ASSERT_TRUE(wait_generation_at_least(pushed + 1, ms(5000))) << daemon_->log();
  const std::uint64_t adopted = status().generation;
  EXPECT_EQ(adopted, pushed + 1);
  const std::uint64_t p3 = vip_packets();
  std::this_thread::sleep_for(ms(500));
  EXPECT_GT(vip_packets(), p3);
  EXPECT_NE(dataplane_process_->log().find("generation " + std::to_string(pushed) + " -> " +
                                           std::to_string(adopted) + " (1 VIPs, 0 changes)"),
            std::string::npos)
      << "the adoption push must change nothing\n"
      << dataplane_process_->log();

  // 4. The dataplane restarts empty: resynced.
  stop_dataplane();
  start_dataplane();
  const auto restarted = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_generation_at_least(1, ms(10000))) << daemon_->log();
  std::printf(
      "real dataplane resynced %lld ms after it came back\n",
      static_cast<long long>(
          std::chrono::duration_cast<ms>(std::chrono::steady_clock::now() - restarted).count()));
  EXPECT_EQ(status().vips, 1u);
}

// sluicectl explain goes through the control plane to the dataplane, which runs its workers'
// own flow decision: a flow it carries is a hit on its backend; a SYN on the same 5-tuple
// after the client's ACK would be a new connection.
TEST_F(RealDataplaneTest, ExplainRunsTheWorkersDecision) {
  start_dataplane();
  write_config(kVip, socket());
  start_daemon();
  ASSERT_TRUE(wait_generation_at_least(1, ms(5000))) << daemon_->log();
  std::this_thread::sleep_for(ms(1500));  // a status poll: the control plane sees it reachable

  const Output fresh = sluicectl("explain 198.18.3.1 198.18.0.10 40000 80 tcp --json");
  ASSERT_EQ(fresh.code, 0) << fresh.text;
  const auto answer = nlohmann::json::parse(fresh.text);
  EXPECT_EQ(answer["action"], "new_flow") << fresh.text;
  EXPECT_EQ(answer["source"], "scheduler");
  EXPECT_TRUE(answer["backend"] == "198.18.1.1" || answer["backend"] == "198.18.1.2") << fresh.text;

  const Output syn = sluicectl("explain 198.18.3.1 198.18.0.10 40000 80 tcp --syn --json");
  ASSERT_EQ(syn.code, 0) << syn.text;
  EXPECT_EQ(nlohmann::json::parse(syn.text)["action"], "new_flow");
  EXPECT_EQ(nlohmann::json::parse(syn.text)["flow"]["syn"], true);

  const Output udp_syn = sluicectl("explain 198.18.3.1 198.18.0.10 40000 80 udp --syn");
  EXPECT_EQ(udp_syn.code, ctl::kExitRefused) << udp_syn.text;
  EXPECT_NE(udp_syn.text.find("syn: only a TCP flow has SYNs"), std::string::npos) << udp_syn.text;

  const Output text = sluicectl("explain 198.18.3.1 198.18.0.10 40000 80 tcp");
  EXPECT_NE(text.text.find("action     new_flow"), std::string::npos) << text.text;
}

}  // namespace
}  // namespace sluice::cp::testing

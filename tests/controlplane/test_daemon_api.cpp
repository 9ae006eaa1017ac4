// The API and sluicectl against the real daemon: changes survive a restart and the restarted
// daemon adopts the dataplane without changing what it runs; bad input is refused with the
// documented exit codes and changes nothing; concurrent calls lose nothing; a restarted or
// unreachable dataplane is resynced.
#include <fstream>
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

config::State without_generation(config::State s) {
  s.generation = 0;
  return s;
}

TEST_F(DaemonTest, ApiChangesSurviveARestartAndTheDataplaneIsAdoptedWithoutAChange) {
  write_config(kTwoBackends);
  start_daemon();
  ASSERT_TRUE(dataplane_->wait_for_push([](const config::State& s) { return s.vips.size() == 1; },
                                        ms(3000)));

  Output out = sluicectl("backend add 198.18.0.10:80/tcp 198.18.1.3 --weight 5");
  ASSERT_EQ(out.code, 0) << out.text;
  out = sluicectl("backend drain 198.18.0.10:80/tcp 198.18.1.1");
  ASSERT_EQ(out.code, 0) << out.text;
  out = sluicectl("vip add 198.18.0.20:443/tcp --encap gue --backend 198.18.1.2,weight=7");
  ASSERT_EQ(out.code, 0) << out.text;

  const auto last = dataplane_->wait_for_push(
      [](const config::State& s) { return s.vips.size() == 2 && s.vips[0].backends.size() == 3; },
      ms(3000));
  ASSERT_TRUE(last.has_value()) << daemon_->log();
  EXPECT_EQ(
      pushed_backends(last->state, 0),
      (std::vector<std::string>{"198.18.1.1 draining/0", "198.18.1.2 up/2", "198.18.1.3 up/5"}));
  const std::uint64_t generation_before = dataplane_->generation();

  ASSERT_EQ(daemon_->stop(SIGTERM), 0) << daemon_->log();
  EXPECT_EQ(dataplane_->generation(), generation_before);  // fail-static: nothing pushed on exit
  const std::size_t pushes_before_restart = dataplane_->pushes().size();

  start_daemon();
  const auto adopted = dataplane_->wait_for_push([](const config::State&) { return true; },
                                                 ms(3000), pushes_before_restart);
  ASSERT_TRUE(adopted.has_value()) << daemon_->log();
  EXPECT_GT(adopted->state.generation, generation_before);
  EXPECT_EQ(without_generation(adopted->state),
            without_generation(dataplane_->pushes()[pushes_before_restart - 1].state))
      << "the restarted control plane must push exactly what the dataplane already runs";
  std::this_thread::sleep_for(ms(1500));
  EXPECT_EQ(dataplane_->pushes().size(), pushes_before_restart + 1)
      << "no further pushes after adoption";

  out = sluicectl("vip list --json");
  ASSERT_EQ(out.code, 0) << out.text;
  const json vips = json::parse(out.text)["vips"];
  ASSERT_EQ(vips.size(), 2u);
  EXPECT_EQ(vips[0]["backends"][0]["drained"], true);
  EXPECT_EQ(vips[0]["backends"][2]["weight"], 5);
  EXPECT_EQ(vips[1]["vip"], "198.18.0.20:443/tcp");
  EXPECT_EQ(vips[1]["encap"], "gue");
  EXPECT_NE(daemon_->log().find("adopting (found running generation " +
                                std::to_string(generation_before) + ")"),
            std::string::npos)
      << daemon_->log();
}

struct CliCase {
  std::string args;
  int exit_code;
  std::string message_part;
};

TEST_F(DaemonTest, BadInputIsRefusedWithExitCodesAndChangesNothing) {
  write_config(kTwoBackends);
  start_daemon();
  ASSERT_EQ(sluicectl("backend weight 198.18.0.10:80/tcp 198.18.1.1 3").code,
            0);  // creates the state file
  const std::string vips_before = api("GET", "/v1/vips").raw_body;
  const std::string file_before = read_file(state_file());
  ASSERT_FALSE(file_before.empty());

  std::ofstream(dir_.file("bad.yaml"))
      << "dataplane:\n  next_hop_mac: \"02:00:00:00:00:fe\"\nvips:\n"
      << "  - address: 198.18.0.300\n    port: 80\n    protocol: tcp\n";
  const std::vector<CliCase> cases = {
      {"backend weight 198.18.0.10:80/tcp 198.18.1.1 70000", 2, "weight"},
      {"backend add 198.18.0.10:80/tcp not-an-ip", 2, "backend.address"},
      {"backend add 198.18.0.99:80/tcp 198.18.1.1", 4, "198.18.0.99:80/tcp"},
      {"backend add 198.18.0.10:80/tcp 198.18.1.1", 5, "already has backend 198.18.1.1"},
      {"backend remove 198.18.0.10:80/tcp 198.18.1.9", 4, "no backend 198.18.1.9"},
      {"vip add 198.18.0.30:80/tcp --scheduler fastest", 2, "scheduler"},
      {"vip add 198.18.0.30:80/tcp --check http --interval-ms 100 --timeout-ms 500", 2,
       "timeout_ms"},
      {"vip add banana", 2, "VIP"},
      {"vip add 198.18.0.10:80/tcp", 5, "already exists"},
      {"vip remove 198.18.0.77:80/tcp", 4, "198.18.0.77"},
      {"backend frobnicate", 1, ""},
      {"vip add 198.18.0.30:80/tcp --rise 3", 1, "--check"},
      {"config validate " + dir_.file("bad.yaml"), 2, "bad.yaml:4"},
  };
  for (const CliCase& c : cases) {
    const Output out = sluicectl(c.args);
    EXPECT_EQ(out.code, c.exit_code) << "sluicectl " << c.args << "\n" << out.text;
    EXPECT_NE(out.text.find(c.message_part), std::string::npos) << "sluicectl " << c.args << "\n"
                                                                << out.text;
  }
  EXPECT_EQ(api("GET", "/v1/vips").raw_body, vips_before);
  EXPECT_EQ(read_file(state_file()), file_before);

  const Output unreachable = capture(env_or("SLUICECTL", "sluicectl") + " --socket " +
                                     dir_.file("nothing.sock") + " status");
  EXPECT_EQ(unreachable.code, 3) << unreachable.text;
  EXPECT_NE(unreachable.text.find("cannot reach sluice-controlplane"), std::string::npos);
  const Output valid =
      capture(env_or("SLUICECTL", "sluicectl") + " config validate " + config_path());
  EXPECT_EQ(valid.code, 0) << valid.text;
  EXPECT_NE(valid.text.find("valid (1 VIPs, 2 backends, 1 dataplanes)"), std::string::npos)
      << valid.text;
}

TEST_F(DaemonTest, FiftyParallelAddsLoseNothing) {
  write_config(kTwoBackends);
  start_daemon();
  constexpr int kAdds = 50;
  std::vector<std::thread> threads;
  std::vector<unsigned> statuses(kAdds, 0);
  for (int i = 0; i < kAdds; ++i) {
    threads.emplace_back([&, i] {
      statuses[i] = api("POST", "/v1/backends?vip=198.18.0.10:80/tcp",
                        R"({"address":"198.18.2.)" + std::to_string(i + 1) + R"("})")
                        .status;
    });
  }
  for (std::thread& t : threads)
    t.join();
  for (int i = 0; i < kAdds; ++i)
    EXPECT_EQ(statuses[i], 201u) << i;
  const ctl::ApiReply list = api("GET", "/v1/backends?vip=198.18.0.10:80/tcp");
  EXPECT_EQ(list.body["backends"].size(), 2u + kAdds);
  EXPECT_EQ(list.body["revision"], kAdds);
  ASSERT_TRUE(dataplane_->wait_for_push(
      [](const config::State& s) { return s.vips[0].backends.size() == 2 + kAdds; }, ms(3000)));
  // And after a restart, from the state file.
  ASSERT_EQ(daemon_->stop(SIGTERM), 0);
  start_daemon();
  EXPECT_EQ(api("GET", "/v1/backends").body["backends"].size(), 2u + kAdds);
}

TEST_F(DaemonTest, RestartedDataplaneIsResyncedAndAnUnreachableOneIsReported) {
  write_config(kTwoBackends);
  start_daemon();
  const auto first = dataplane_->wait_for_push([](const config::State&) { return true; }, ms(3000));
  ASSERT_TRUE(first.has_value());

  // The dataplane restarts empty (generation 0): the control plane notices and pushes again.
  std::size_t mark = dataplane_->pushes().size();
  const auto restarted = std::chrono::steady_clock::now();
  dataplane_->restart();
  const auto resync =
      dataplane_->wait_for_push([](const config::State&) { return true; }, ms(5000), mark);
  ASSERT_TRUE(resync.has_value()) << daemon_->log();
  std::printf(
      "resync after a dataplane restart: %lld ms\n",
      static_cast<long long>(std::chrono::duration_cast<ms>(resync->at - restarted).count()));
  EXPECT_EQ(without_generation(resync->state), without_generation(first->state));
  EXPECT_GE(resync->state.generation, first->state.generation);  // above the restarted one's 0
  EXPECT_LE(std::chrono::duration_cast<ms>(resync->at - restarted).count(), 1500);  // ~one poll

  // Gone: reported in status and metrics, retried with backoff.
  dataplane_->stop();
  std::this_thread::sleep_for(ms(2500));
  ctl::ApiReply status = api("GET", "/v1/status");
  EXPECT_EQ(status.body["dataplanes"][0]["reachable"], false) << status.raw_body;
  EXPECT_GE(status.body["dataplanes"][0]["consecutive_failures"], 1);
  EXPECT_GE(status.body["dataplanes"][0]["retry_in_ms"], 1000);
  EXPECT_NE(daemon_->log().find("dataplane dp1: unreachable"), std::string::npos);
  const Output metrics =
      capture("ip netns exec " + net_.client_ns() + " curl -s http://127.0.0.1:9780/metrics");
  EXPECT_NE(metrics.text.find("sluice_dataplane_up{dataplane=\"dp1\"} 0"), std::string::npos);
  const Output st = sluicectl("status");
  EXPECT_EQ(st.code, 0);
  EXPECT_NE(st.text.find("dp1        NO"), std::string::npos) << st.text;

  // Back (empty): found again within the backoff and resynced.
  mark = dataplane_->pushes().size();
  dataplane_->restart();
  const auto again =
      dataplane_->wait_for_push([](const config::State&) { return true; }, ms(10000), mark);
  ASSERT_TRUE(again.has_value()) << daemon_->log();
  EXPECT_EQ(without_generation(again->state), without_generation(first->state));
  EXPECT_NE(daemon_->log().find("dataplane dp1: reachable again"), std::string::npos);
}

TEST_F(DaemonTest, StatsAndExplainComeFromTheDataplane) {
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
  control::LcoreCounters lcore;
  lcore.lcore = 1;
  lcore.rx_packets = 1000;
  lcore.tx_packets = 997;
  lcore.forward = 997;
  lcore.drop = 3;
  lcore.rx_polls = 5000;
  lcore.idle_polls = 4000;
  lcore.busy_polls = 1000;
  counters.per_lcore.push_back(lcore);
  dataplane_->set_counters(counters);
  control::ExplainResult explain;
  explain.vip = "198.18.0.10:80/tcp";
  explain.backend = "198.18.1.2";
  explain.source = control::ExplainSource::scheduler;
  explain.reason = "new flow: maglev slot 4242 of 65537 belongs to 198.18.1.2";
  explain.flow_hash = 0xdeadbeef;
  explain.maglev_slot = 4242;
  dataplane_->set_explain(explain);
  start_daemon();
  ASSERT_TRUE(dataplane_->wait_for_push([](const config::State&) { return true; }, ms(3000)));
  std::this_thread::sleep_for(ms(1500));  // one counters poll

  Output out = sluicectl("stats --json");
  ASSERT_EQ(out.code, 0) << out.text;
  json stats = json::parse(out.text);
  EXPECT_EQ(stats["vips"][0]["packets"], 1000);
  EXPECT_EQ(stats["vips"][0]["backends"][1]["active_flows"], 3);
  EXPECT_EQ(stats["drops"][0]["reason"], "no_backend");

  out = sluicectl("status");
  EXPECT_NE(out.text.find("active flows 4"), std::string::npos) << out.text;

  out = sluicectl("explain 198.18.3.1 198.18.0.10 40000 80 tcp");
  ASSERT_EQ(out.code, 0) << out.text;
  EXPECT_NE(out.text.find("backend    198.18.1.2"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("decided by scheduler"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("maglev slot 4242"), std::string::npos) << out.text;

  out = sluicectl("stats --watch --count 2 --interval 0.2");
  EXPECT_EQ(out.code, 0) << out.text;
  std::size_t tables = 0;
  for (std::size_t p = out.text.find("VIP / BACKEND"); p != std::string::npos;
       p = out.text.find("VIP / BACKEND", p + 1))
    ++tables;
  EXPECT_EQ(tables, 2u) << out.text;
}

}  // namespace
}  // namespace sluice::cp::testing

// WeightController between a real StateStore, HealthTable and DataplaneSync, and a fake
// dataplane serving counters: check latency and SYN retransmissions become pushed effective
// weights (hundredths of the configured weight), each publication counted with its slots.
#include "state/weight_controller.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "harness/fake_dataplane.hpp"
#include "state/mutations.hpp"
#include "state/state_store.hpp"
#include "temp_dir.hpp"
#include "test_state.hpp"

namespace sluice::cp::testing {
namespace {

using ms = std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

class WeightControllerTest : public ::testing::Test {
 protected:
  WeightControllerTest()
      : dataplane_(dir_.file("dp.sock")),
        store_(desired(), ""),
        sync_(store_, health_, endpoints()) {
    sync_.set_weights_source([this] { return controller_.published(); });
    sync_.start();
  }
  ~WeightControllerTest() override { sync_.stop(); }

  static config::State desired() {
    config::State s = base_state();
    config::Vip v = vip("198.18.0.10", 80,
                        {backend("198.18.1.1"), backend("198.18.1.2"), backend("198.18.1.3")});
    v.weights = config::WeightPolicy::adaptive;
    s.vips.push_back(v);
    return s;
  }
  std::vector<config::DataplaneEndpoint> endpoints() { return {{"dp1", dir_.file("dp.sock")}}; }
  BackendRef ref(const char* address) const {
    return BackendRef{config::key_of(store_.desired().vips[0]), ip(address)};
  }
  // A fresh successful check of `latency` for each backend.
  void checked(double l1, double l2, double l3) {
    const double latencies[] = {l1, l2, l3};
    const char* addresses[] = {"198.18.1.1", "198.18.1.2", "198.18.1.3"};
    ++round_;
    for (int i = 0; i < 3; ++i) {
      BackendHealth h;
      h.type = config::HealthCheckType::tcp;
      h.rise = 2;
      h.checks = h.checks + round_;
      h.last = ProbeOutcome{true, std::chrono::microseconds(static_cast<long>(latencies[i] * 1000)),
                            "connected", false};
      h.last_checked = std::chrono::system_clock::time_point(std::chrono::seconds(round_));
      health_.set(ref(addresses[i]), h);
    }
  }
  void counters(std::uint64_t syns, std::uint64_t retransmits) {
    control::Counters c;
    control::VipCounters v;
    v.vip = config::to_string(config::key_of(store_.desired().vips[0]));
    for (const char* a : {"198.18.1.1", "198.18.1.2", "198.18.1.3"}) {
      control::BackendCounters b;
      b.address = a;
      if (std::string(a) == "198.18.1.1") {
        b.syns = syns;
        b.syn_retransmits = retransmits;
      }
      v.per_backend.push_back(b);
    }
    c.per_vip.push_back(v);
    dataplane_.set_counters(c);
  }
  // Until the sync thread has read counters with this many SYNs for 198.18.1.1.
  void wait_for_counters(std::uint64_t syns) {
    const auto deadline = Clock::now() + ms(5000);
    while (Clock::now() < deadline) {
      for (const DataplaneReport& r : sync_.reports()) {
        if (r.counters && !r.counters->counters.per_vip.empty() &&
            r.counters->counters.per_vip[0].per_backend[0].syns == syns)
          return;
      }
      std::this_thread::sleep_for(ms(10));
    }
    FAIL() << "the sync thread never read the counters";
  }
  std::optional<Push> pushed_weight(const char* address, std::uint32_t weight, const char* state) {
    return dataplane_.wait_for_push(
        [&](const config::State& s) {
          for (const config::Backend& b : s.vips.at(0).backends) {
            if (b.address == ip(address))
              return b.effective_weight == weight && config::to_string(*b.state) == state;
          }
          return false;
        },
        ms(5000));
  }

  TempDir dir_;
  FakeDataplane dataplane_;
  StateStore store_;
  HealthTable health_;
  DataplaneSync sync_;
  WeightController controller_{store_, health_, sync_};
  std::uint64_t round_ = 0;
};

TEST_F(WeightControllerTest, ASlowBackendIsPushedAtTheFloorAndTheOthersAtFullWeight) {
  const auto t0 = Clock::now();
  checked(5, 5, 5);
  controller_.step(t0);
  for (int i = 1; i <= 30; ++i) {  // 3 s of 100 ms steps, a check each
    checked(50, 5, 5);
    controller_.step(t0 + ms(100 * i));
  }
  const WeightFactors w = controller_.published();
  EXPECT_EQ(w.at(ref("198.18.1.1")).percent, 5u);
  EXPECT_EQ(w.at(ref("198.18.1.1")).reason, "latency x0.05");
  EXPECT_EQ(w.at(ref("198.18.1.2")).percent, 100u);
  const auto reports = controller_.reports();
  EXPECT_EQ(reports.at(ref("198.18.1.1")).check_p50_ms, 50.0) << "the last 20 checks all at 50 ms";
  EXPECT_EQ(reports.at(ref("198.18.1.2")).check_p99_ms, 5.0);
  sync_.notify();
  EXPECT_TRUE(pushed_weight("198.18.1.1", 5, "up")) << "1 x 5%, in hundredths";
  EXPECT_TRUE(pushed_weight("198.18.1.2", 100, "up"));

  const auto published = controller_.publications();
  const std::string vip = config::to_string(config::key_of(store_.desired().vips[0]));
  ASSERT_TRUE(published.contains(vip));
  // Paced at 4% of the table per step: several publications, about 31% of 65537 slots in all.
  EXPECT_GE(published.at(vip).first, 5u);
  EXPECT_GT(published.at(vip).second, 65537u * 25 / 100);
  EXPECT_LT(published.at(vip).second, 65537u * 40 / 100);
  EXPECT_EQ(controller_.reports().at(ref("198.18.1.1")).check_latency_ms, 50.0);
  EXPECT_EQ(controller_.source(), "local");
}

TEST_F(WeightControllerTest, RetransmittedSynsTakeABackendOutAtOnce) {
  counters(100, 0);
  wait_for_counters(100);
  const auto t0 = Clock::now();
  checked(5, 5, 5);
  controller_.step(t0);
  counters(200, 20);  // 100 new SYNs, 20 retransmitted, within the second
  wait_for_counters(200);
  controller_.step(t0 + ms(500));
  const WeightFactors w = controller_.published();
  EXPECT_TRUE(w.at(ref("198.18.1.1")).passive_out);
  EXPECT_EQ(w.at(ref("198.18.1.1")).reason, "passive: SYN retransmits");
  EXPECT_TRUE(pushed_weight("198.18.1.1", 0, "draining"))
      << "out of new flows, its flows stay (draining, not down)";
  EXPECT_NEAR(controller_.reports().at(ref("198.18.1.1")).syn_retransmits_per_s, 40, 0.5);
}

TEST_F(WeightControllerTest, AStaticVipIsLeftAlone) {
  const auto changed = store_.change([](config::State& s) {
    s.vips[0].weights = config::WeightPolicy::static_weights;
    return Mutation{};
  });
  ASSERT_TRUE(std::holds_alternative<std::uint64_t>(changed));
  const auto t0 = Clock::now();
  for (int i = 0; i <= 30; ++i) {
    checked(50, 5, 5);
    controller_.step(t0 + ms(100 * i));
  }
  EXPECT_TRUE(controller_.published().empty());
  sync_.notify();
  EXPECT_TRUE(pushed_weight("198.18.1.1", 1, "up"));
}

TEST_F(WeightControllerTest, AnAgentsPercentAndDrainAreItsBackendsWeight) {
  AgentSignals agents;
  agents[ref("198.18.1.2")] = AgentSignal{50, std::nullopt, lb::AgentWord::none, "50%"};
  agents[ref("198.18.1.3")] =
      AgentSignal{std::nullopt, std::nullopt, lb::AgentWord::drain, "drain"};
  controller_.set_agent_source([&agents] { return agents; });
  const auto t0 = Clock::now();
  for (int i = 0; i <= 10; ++i) {
    checked(5, 5, 5);
    controller_.step(t0 + ms(100 * i));
  }
  const WeightFactors w = controller_.published();
  EXPECT_EQ(w.at(ref("198.18.1.1")).percent, 100u);
  EXPECT_EQ(w.at(ref("198.18.1.2")).percent, 50u);
  EXPECT_EQ(w.at(ref("198.18.1.2")).reason, "agent 50%");
  EXPECT_EQ(w.at(ref("198.18.1.3")).percent, 0u);
  EXPECT_EQ(w.at(ref("198.18.1.3")).reason, "agent drain");
  sync_.notify();
  EXPECT_TRUE(pushed_weight("198.18.1.2", 50, "up"));
  EXPECT_TRUE(pushed_weight("198.18.1.3", 0, "draining")) << "drained: keeps its flows";
  const auto reports = controller_.reports();
  EXPECT_EQ(reports.at(ref("198.18.1.2")).agent, "50%");
}

}  // namespace
}  // namespace sluice::cp::testing

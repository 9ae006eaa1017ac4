// DataplaneSync against a FakeDataplane (no namespaces, no probes): generations. A dataplane
// found ahead is adopted (numbering goes on above its generation) and converges; a state that
// someone else pushed under the very number of our next change is replaced; a dataplane at the
// maximum generation is reported, never pushed a wrapped or out-of-range number.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "dataplanes/dataplane_sync.hpp"
#include "harness/fake_dataplane.hpp"
#include "sluice/config/validate.hpp"
#include "state/mutations.hpp"
#include "state/state_store.hpp"
#include "temp_dir.hpp"
#include "test_state.hpp"

namespace sluice::cp::testing {
namespace {

using ms = std::chrono::milliseconds;

constexpr std::uint64_t kMax = config::kMaxGeneration;

class SyncTest : public ::testing::Test {
 protected:
  SyncTest() : dataplane_(dir_.file("dp.sock")), store_(desired(), dir_.file("state.yaml")) {}

  static config::State desired() {
    config::State s = base_state();
    s.vips.push_back(vip("198.18.0.10", 80, {backend("198.18.1.1"), backend("198.18.1.2")}));
    return s;
  }

  // Someone else's state: another VIP.
  static config::State foreign(std::uint64_t generation) {
    config::State s = base_state();
    s.generation = generation;
    s.vips.push_back(vip("198.18.0.99", 80, {backend("198.18.1.9")}));
    return s;
  }

  // The sync thread wakes only when notified (the poll interval is an hour), so each step of a
  // test happens exactly when the test makes it happen.
  void start() {
    SyncOptions options;
    options.poll_interval = std::chrono::hours(1);
    options.min_backoff = ms(10);
    sync_ = std::make_unique<DataplaneSync>(
        store_, health_, std::vector<config::DataplaneEndpoint>{{"dp1", dir_.file("dp.sock")}},
        options);
    store_.add_listener([this] { sync_->notify(); });
    sync_->start();
  }

  DataplaneReport report_when(const std::function<bool(const DataplaneReport&)>& predicate) {
    const auto deadline = std::chrono::steady_clock::now() + ms(5000);
    DataplaneReport r;
    while (std::chrono::steady_clock::now() < deadline) {
      r = sync_->reports().at(0);
      if (predicate(r)) return r;
      std::this_thread::sleep_for(ms(10));
    }
    ADD_FAILURE() << "report never matched: generation " << r.generation << ", in_sync "
                  << r.in_sync << ", last_error " << r.last_error;
    return r;
  }

  bool runs_our_state() const {
    config::State running = dataplane_.running_state();
    running.generation = 0;
    return running.vips.size() == 1 && running.vips[0].address == ip("198.18.0.10");
  }

  void change_weight(std::uint32_t weight) {
    const auto applied = store_.change([&](config::State& s) {
      return set_weight(s, config::key_of(s.vips[0]), ip("198.18.1.1"), weight);
    });
    ASSERT_TRUE(std::holds_alternative<std::uint64_t>(applied));
  }

  TempDir dir_;
  FakeDataplane dataplane_;
  StateStore store_;
  HealthTable health_;
  std::unique_ptr<DataplaneSync> sync_;  // last: stopped first
};

TEST_F(SyncTest, ADataplaneAheadIsAdoptedAndConverges) {
  dataplane_.inject(foreign(1000));
  start();
  const auto pushed = dataplane_.wait_for_push([](const config::State&) { return true; }, ms(5000));
  ASSERT_TRUE(pushed);
  EXPECT_EQ(pushed->state.generation, 1001u);
  EXPECT_TRUE(runs_our_state());
  EXPECT_TRUE(report_when([](const DataplaneReport& r) { return r.in_sync; }).in_sync);
  EXPECT_EQ(sync_->generation(), 1001u);

  change_weight(5);  // the next change numbers on from there
  const auto next = dataplane_.wait_for_push(
      [](const config::State& s) { return s.vips[0].backends[0].weight == 5; }, ms(5000));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->state.generation, 1002u);
}

TEST_F(SyncTest, AForeignStateUnderOurNextNumberIsReplaced) {
  start();
  ASSERT_TRUE(dataplane_.wait_for_push([](const config::State&) { return true; }, ms(5000)));
  const std::uint64_t ours = sync_->generation();
  report_when([](const DataplaneReport& r) { return r.in_sync; });
  // Someone pushes the number our next change will get, then we change something: the
  // dataplane's generation equals ours, but it is not our state.
  dataplane_.inject(foreign(ours + 1));
  change_weight(7);
  const auto fixed = dataplane_.wait_for_push(
      [](const config::State& s) { return s.vips[0].backends[0].weight == 7; }, ms(5000), 1);
  ASSERT_TRUE(fixed) << "the dataplane keeps someone else's state under our generation";
  EXPECT_EQ(fixed->state.generation, ours + 2);
  EXPECT_TRUE(runs_our_state());
}

TEST_F(SyncTest, ADataplaneAtTheMaximumIsReportedNeverPushedAWrappedGeneration) {
  for (const std::uint64_t stuck : {kMax, ~std::uint64_t{0}}) {
    SCOPED_TRACE(stuck);
    dataplane_.restart();
    dataplane_.inject(foreign(stuck));
    sync_.reset();
    start();
    const auto r = report_when([](const DataplaneReport& r) { return !r.last_error.empty(); });
    EXPECT_NE(r.last_error.find("the maximum (2^53-1)"), std::string::npos) << r.last_error;
    EXPECT_FALSE(r.in_sync);
    EXPECT_TRUE(dataplane_.pushes().empty())
        << "pushed generation " << dataplane_.pushes().front().state.generation;
    EXPECT_LE(sync_->generation(), kMax);
  }
}

TEST_F(SyncTest, JustBelowTheMaximumTheLastNumberIsUsed) {
  dataplane_.inject(foreign(kMax - 1));
  start();
  const auto pushed = dataplane_.wait_for_push([](const config::State&) { return true; }, ms(5000));
  ASSERT_TRUE(pushed);
  EXPECT_EQ(pushed->state.generation, kMax);
  EXPECT_TRUE(config::validate(pushed->state).ok());
}

}  // namespace
}  // namespace sluice::cp::testing

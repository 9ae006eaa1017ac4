// Adaptive weights in a tier (docs/adaptive-weights.md, "In a tier") against a REAL etcd
// (/usr/bin/etcd on 127.0.0.1): one host holds the leased key <prefix>weights/leader and writes
// the weights, the others read and use them; a leader that stops hands over at once, one that
// dies (its lease is never kept alive again) after the lease's TTL.
#include "etcd/weight_share.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

#include "harness/etcd_member.hpp"
#include "test_state.hpp"

namespace sluice::cp::testing {
namespace {

using ms = std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr const char* kPrefix = "/sluice-wtest/";

bool eventually(const std::function<bool()>& condition, ms timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(ms(20));
  }
  return condition();
}

class WeightShareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    etcd_.start();
    settings_.endpoints = {etcd_.url()};
    settings_.prefix = kPrefix;
  }

  std::unique_ptr<EtcdWeightShare> host(const std::string& name) {
    auto share = std::make_unique<EtcdWeightShare>(settings_, name);
    const Status s = share->init();
    EXPECT_TRUE(s.ok()) << s.error().message;
    share->start();
    return share;
  }

  static BackendRef ref(const char* address) {
    return BackendRef{config::key_of(vip("198.18.0.10", 80, {})), ip(address)};
  }
  static WeightFactors weights(std::uint32_t be1_percent, const std::string& reason) {
    WeightFactors w;
    w[ref("198.18.1.1")] = lb::BackendWeight{be1_percent, false, false, reason};
    w[ref("198.18.1.2")] = lb::BackendWeight{100, false, false, ""};
    return w;
  }
  static std::uint32_t followed_percent(const EtcdWeightShare& share) {
    const std::optional<WeightFactors> f = share.followed();
    if (!f || !f->contains(ref("198.18.1.1"))) return 0;
    return f->at(ref("198.18.1.1")).percent;
  }

  RunDir dir_;
  Etcd etcd_{dir_};
  config::EtcdSettings settings_;
};

TEST(WeightDocument, RoundTripsAndRefusesGarbage) {
  WeightFactors w;
  const BackendRef r{config::key_of(vip("198.18.0.10", 80, {})), ip("198.18.1.1")};
  w[r] = lb::BackendWeight{40, false, true, "passive: SYN retransmits"};
  std::string by;
  Result<WeightFactors> back = decode_weights(encode_weights(w, "lb2"), &by);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(by, "lb2");
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ(back->at(r).percent, 40u);
  EXPECT_TRUE(back->at(r).passive_out);
  EXPECT_EQ(back->at(r).reason, "passive: SYN retransmits");
  EXPECT_FALSE(decode_weights("[]").ok());
  EXPECT_EQ(
      decode_weights(R"({"vips": {"nonsense": {}}})").error().message.rfind("weights: VIP", 0), 0u);
}

TEST_F(WeightShareTest, OneHostLeadsTheOthersFollowItsWeightsAndAStoppedLeaderHandsOver) {
  auto lb1 = host("lb1");
  ASSERT_TRUE(eventually([&] { return lb1->leading(); }, ms(3000))) << lb1->status().last_error;
  auto lb2 = host("lb2");
  auto lb3 = host("lb3");
  ASSERT_TRUE(eventually([&] { return lb2->status().leader == "lb1"; }, ms(3000)));
  EXPECT_FALSE(lb2->leading());
  EXPECT_FALSE(lb3->leading());

  lb1->publish(weights(5, "latency x0.05"));
  ASSERT_TRUE(eventually([&] { return followed_percent(*lb2) == 5 && followed_percent(*lb3) == 5; },
                         ms(3000)));
  EXPECT_EQ(lb2->followed()->at(ref("198.18.1.1")).reason, "latency x0.05");
  // What followers compute themselves is not written: only the leader's weights count.
  lb2->publish(weights(60, "latency x0.6"));
  std::this_thread::sleep_for(ms(600));
  EXPECT_EQ(followed_percent(*lb3), 5u);

  // A leader that stops revokes its lease: one of the others takes over within a round or two.
  const auto stopped = Clock::now();
  lb1->stop();
  ASSERT_TRUE(eventually([&] { return lb2->leading() || lb3->leading(); }, ms(2000)));
  const auto took_over = Clock::now() - stopped;
  EXPECT_LT(took_over, ms(1500));
  EXPECT_FALSE(lb2->leading() && lb3->leading()) << "exactly one leader";
  EtcdWeightShare& leader = lb2->leading() ? *lb2 : *lb3;
  EtcdWeightShare& follower = lb2->leading() ? *lb3 : *lb2;
  leader.publish(weights(45, "agent 45%"));
  EXPECT_TRUE(eventually([&] { return followed_percent(follower) == 45; }, ms(3000)));
}

TEST_F(WeightShareTest, ALeaderThatDiesIsReplacedWhenItsLeaseExpires) {
  // A host that died: its key is on a 5 s lease that nobody keeps alive, longer than the
  // follower's own 3 s TTL, so the follower must have kept its lease alive to take over.
  Result<json> lease = etcd_.client().post("/v3/lease/grant", json{{"TTL", "5"}}, ms(2000));
  ASSERT_TRUE(lease.ok()) << lease.error().message;
  const std::string id = (*lease)["ID"].is_string() ? (*lease)["ID"].get<std::string>()
                                                    : std::to_string((*lease)["ID"].get<long>());
  ASSERT_TRUE(etcd_.client()
                  .post("/v3/kv/put",
                        json{{"key", base64_encode(std::string(kPrefix) + "weights/leader")},
                             {"value", base64_encode("lb0")},
                             {"lease", id}},
                        ms(2000))
                  .ok());
  const auto died = Clock::now();
  auto lb1 = host("lb1");
  ASSERT_TRUE(eventually([&] { return lb1->status().leader == "lb0"; }, ms(2000)));
  EXPECT_FALSE(lb1->leading());
  // The follower's own lease has been kept alive meanwhile, so it can take the key at once.
  ASSERT_TRUE(eventually([&] { return lb1->leading(); }, ms(9000))) << lb1->status().last_error;
  const auto after = std::chrono::duration_cast<ms>(Clock::now() - died);
  EXPECT_GE(after.count(), 4000) << "not before the dead host's lease expired";
  EXPECT_LE(after.count(), 6500) << "the dead host's TTL 5 s plus a round or two";
  EXPECT_EQ(lb1->status().leader, "lb1");
}

}  // namespace
}  // namespace sluice::cp::testing

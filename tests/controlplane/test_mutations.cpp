#include "state/mutations.hpp"

#include <gtest/gtest.h>

#include "sluice/config/names.hpp"
#include "test_state.hpp"

namespace sluice::cp {
namespace {

using testing::backend;
using testing::base_state;
using testing::ip;
using testing::vip;

config::State one_vip() {
  config::State s = base_state();
  s.vips.push_back(vip("198.18.0.10", 80, {backend("198.18.1.1"), backend("198.18.1.2")}));
  return s;
}

const config::VipKey kVip{ip("198.18.0.10"), 80, config::Protocol::tcp};

TEST(Mutations, AddVipAppends) {
  config::State s = one_vip();
  EXPECT_FALSE(add_vip(s, vip("198.18.0.11", 443, {backend("198.18.1.5")})).has_value());
  ASSERT_EQ(s.vips.size(), 2u);
  EXPECT_EQ(config::vip_key(s.vips[1]), "198.18.0.11:443/tcp");
}

TEST(Mutations, AddDuplicateVipIsAConflictAndChangesNothing) {
  config::State s = one_vip();
  const config::State before = s;
  const Mutation m = add_vip(s, vip("198.18.0.10", 80));
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->kind, RefusalKind::conflict);
  EXPECT_NE(m->message.find("198.18.0.10:80/tcp already exists"), std::string::npos) << m->message;
  EXPECT_EQ(s, before);
}

TEST(Mutations, InvalidVipIsRefusedWithTheFieldNamed) {
  config::State s = one_vip();
  const config::State before = s;
  config::Vip bad = vip("198.18.0.12", 80, {backend("198.18.1.1", 70000)});
  const Mutation m = add_vip(s, bad);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->kind, RefusalKind::invalid);
  EXPECT_NE(m->message.find("vips[1].backends[0].weight"), std::string::npos) << m->message;
  EXPECT_EQ(s, before);
}

TEST(Mutations, RemoveVip) {
  config::State s = one_vip();
  EXPECT_FALSE(remove_vip(s, kVip).has_value());
  EXPECT_TRUE(s.vips.empty());
  const Mutation again = remove_vip(s, kVip);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->kind, RefusalKind::not_found);
}

TEST(Mutations, AddBackendAndRefuseDuplicate) {
  config::State s = one_vip();
  EXPECT_FALSE(add_backend(s, kVip, backend("198.18.1.3", 5)).has_value());
  ASSERT_EQ(s.vips[0].backends.size(), 3u);
  EXPECT_EQ(s.vips[0].backends[2].weight, 5u);
  const Mutation dup = add_backend(s, kVip, backend("198.18.1.3"));
  ASSERT_TRUE(dup.has_value());
  EXPECT_EQ(dup->kind, RefusalKind::conflict);
  EXPECT_EQ(s.vips[0].backends.size(), 3u);
}

TEST(Mutations, AddBackendToUnknownVipIsNotFound) {
  config::State s = one_vip();
  const Mutation m = add_backend(s, config::VipKey{ip("198.18.0.99"), 80, config::Protocol::tcp},
                                 backend("198.18.1.3"));
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->kind, RefusalKind::not_found);
  EXPECT_NE(m->message.find("198.18.0.99:80/tcp"), std::string::npos);
}

TEST(Mutations, RemoveBackend) {
  config::State s = one_vip();
  EXPECT_FALSE(remove_backend(s, kVip, ip("198.18.1.1")).has_value());
  ASSERT_EQ(s.vips[0].backends.size(), 1u);
  EXPECT_EQ(s.vips[0].backends[0].address, ip("198.18.1.2"));
  const Mutation m = remove_backend(s, kVip, ip("198.18.1.1"));
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->kind, RefusalKind::not_found);
}

TEST(Mutations, SetWeightValidatesTheRange) {
  config::State s = one_vip();
  EXPECT_FALSE(set_weight(s, kVip, ip("198.18.1.2"), 7).has_value());
  EXPECT_EQ(s.vips[0].backends[1].weight, 7u);
  const config::State before = s;
  const Mutation m = set_weight(s, kVip, ip("198.18.1.2"), 65536);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->kind, RefusalKind::invalid);
  EXPECT_NE(m->message.find("weight"), std::string::npos);
  EXPECT_EQ(s, before);
}

TEST(Mutations, DrainAndUndrain) {
  config::State s = one_vip();
  EXPECT_FALSE(set_drained(s, kVip, ip("198.18.1.1"), true).has_value());
  EXPECT_TRUE(s.vips[0].backends[0].drained);
  EXPECT_EQ(s.vips[0].backends[0].weight, 1u);  // the weight is kept for undrain
  EXPECT_FALSE(set_drained(s, kVip, ip("198.18.1.1"), false).has_value());
  EXPECT_FALSE(s.vips[0].backends[0].drained);
  const Mutation m = set_drained(s, kVip, ip("198.18.1.9"), true);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->kind, RefusalKind::not_found);
}

}  // namespace
}  // namespace sluice::cp

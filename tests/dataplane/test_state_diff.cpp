#include "state_diff.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sluice::dataplane {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

config::Backend backend(const char* address, std::uint32_t weight) {
  config::Backend b;
  b.address = *IpAddress::parse(address);
  b.weight = weight;
  return b;
}

config::Vip web_vip() {
  config::Vip v;
  v.address = *IpAddress::parse("198.18.0.10");
  v.port = 80;
  v.backends = {backend("198.18.1.1", 1), backend("198.18.1.2", 1)};
  return v;
}

config::State state_with(std::vector<config::Vip> vips, std::uint64_t generation) {
  config::State s;
  s.generation = generation;
  s.vips = std::move(vips);
  return s;
}

TEST(StateDiff, IdenticalStatesHaveNoChanges) {
  const auto s = state_with({web_vip()}, 1);
  auto later = s;
  later.generation = 2;  // the generation alone is not a change worth a line
  EXPECT_THAT(describe_changes(s, later), IsEmpty());
}

TEST(StateDiff, NamesAddedAndRemovedVips) {
  config::Vip dns = web_vip();
  dns.address = *IpAddress::parse("2001:db8::53");
  dns.port = 53;
  dns.protocol = config::Protocol::udp;
  dns.encap = config::Encap::gue;
  EXPECT_THAT(describe_changes(state_with({web_vip()}, 1), state_with({dns}, 2)),
              ElementsAre("vip [2001:db8::53]:53/udp added (2 backends, maglev, gue)",
                          "vip 198.18.0.10:80/tcp removed"));
}

TEST(StateDiff, NamesBackendChangesAndDrain) {
  config::Vip after = web_vip();
  after.backends = {backend("198.18.1.1", 3), backend("198.18.1.2", 0), backend("198.18.1.3", 1)};
  after.scheduler = config::Scheduler::round_robin;
  EXPECT_THAT(describe_changes(state_with({web_vip()}, 1), state_with({after}, 2)),
              ElementsAre("vip 198.18.0.10:80/tcp: scheduler maglev -> round-robin",
                          "vip 198.18.0.10:80/tcp: backend 198.18.1.1 up weight 1 -> up weight 3",
                          "vip 198.18.0.10:80/tcp: backend 198.18.1.2 up weight 1 -> draining: "
                          "it keeps its flows, gets no new ones",
                          "vip 198.18.0.10:80/tcp: backend 198.18.1.3 added (up weight 1)"));

  config::Vip failing = web_vip();
  failing.backends[1].state = config::BackendState::down;
  failing.backends[1].effective_weight = 0;
  EXPECT_THAT(describe_changes(state_with({web_vip()}, 1), state_with({failing}, 2)),
              ElementsAre("vip 198.18.0.10:80/tcp: backend 198.18.1.2 up weight 1 -> down: its "
                          "flows are rescheduled"));

  config::Vip fewer = web_vip();
  fewer.backends.pop_back();
  EXPECT_THAT(describe_changes(state_with({web_vip()}, 1), state_with({fewer}, 2)),
              ElementsAre("vip 198.18.0.10:80/tcp: backend 198.18.1.2 removed (its flows are "
                          "rescheduled)"));
}

TEST(StateDiff, NamesDataplaneSettingChanges) {
  auto before = state_with({web_vip()}, 1);
  auto after = before;
  after.dataplane.mtu = 9000;
  after.dataplane.tunnel_source_v4 = *IpAddress::parse("198.18.0.1");
  EXPECT_THAT(
      describe_changes(before, after),
      ElementsAre("dataplane.tunnel_source_v4 none -> 198.18.0.1", "dataplane.mtu 1500 -> 9000"));
}

}  // namespace
}  // namespace sluice::dataplane

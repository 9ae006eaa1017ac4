#include "worker_plan.hpp"

#include <gtest/gtest.h>

namespace sluice::dataplane {
namespace {

bool same(const RxQueue& a, const RxQueue& b) {
  return a.port == b.port && a.queue == b.queue && a.egress_port == b.egress_port;
}

TEST(WorkerPlan, EachWorkerTakesItsOwnQueueOfEveryRssPort) {
  PortRoles roles;
  roles.rx_ports = {0, 1};
  const auto plan = plan_workers(roles, {{0, 2}, {1, 2}}, {1, 2}, 1000);
  ASSERT_EQ(plan.size(), 2u);
  for (unsigned i = 0; i < 2; ++i) {
    const auto q = static_cast<std::uint16_t>(i);
    EXPECT_EQ(plan[i].index, i);
    EXPECT_EQ(plan[i].lcore, i + 1);
    EXPECT_EQ(plan[i].drain_ticks, 1000u);
    ASSERT_EQ(plan[i].traffic.size(), 2u);
    EXPECT_TRUE(same(plan[i].traffic[0], {0, q, 0}));  // one-armed: back out of port 0
    EXPECT_TRUE(same(plan[i].traffic[1], {1, q, 1}));
    EXPECT_EQ(plan[i].tx_ports, (std::vector<std::uint16_t>{0, 1}));
    EXPECT_FALSE(plan[i].host);
    EXPECT_FALSE(plan[i].host_port);
  }
}

TEST(WorkerPlan, ASingleQueuePortIsPolledByTheFirstWorkerOnly) {
  PortRoles roles;
  roles.rx_ports = {0};
  roles.tx_port = 1;
  const auto plan = plan_workers(roles, {{0, 1}, {1, 2}}, {1, 2}, 1);
  ASSERT_EQ(plan.size(), 2u);
  ASSERT_EQ(plan[0].traffic.size(), 1u);
  EXPECT_TRUE(same(plan[0].traffic[0], {0, 0, 1}));  // forwarded out of the --tx-port
  EXPECT_TRUE(plan[1].traffic.empty());
  EXPECT_EQ(plan[1].tx_ports, (std::vector<std::uint16_t>{0, 1}));
}

TEST(WorkerPlan, HostPortIsRelayedToTheUplink) {
  PortRoles roles;
  roles.rx_ports = {2, 0};
  roles.host_port = 3;
  const auto plan = plan_workers(roles, {{0, 1}, {2, 1}, {3, 1}}, {1}, 1);
  ASSERT_EQ(plan.size(), 1u);
  ASSERT_TRUE(plan[0].host);
  EXPECT_TRUE(same(*plan[0].host, {3, 0, 2}));  // kernel -> first RX port
  EXPECT_EQ(plan[0].host_port, 3);
  EXPECT_EQ(plan[0].tx_ports, (std::vector<std::uint16_t>{0, 2, 3}));
}

}  // namespace
}  // namespace sluice::dataplane

#include "port_roles.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

namespace sluice::dataplane {
namespace {

const std::vector<std::uint16_t> kThreePorts{0, 1, 2};
constexpr std::optional<std::uint16_t> kNone;

PortRoleRequest request(std::vector<std::uint16_t> rx, std::optional<std::uint16_t> tx,
                        std::optional<std::uint16_t> host) {
  PortRoleRequest r;
  r.rx_ports = std::move(rx);
  r.tx_port = tx;
  r.host_port = host;
  return r;
}

TEST(PortRoles, DefaultIsOneArmedOnEveryPort) {
  auto roles = assign_port_roles({}, kThreePorts);
  ASSERT_TRUE(roles.ok()) << roles.error().message;
  EXPECT_EQ(roles->rx_ports, (std::vector<std::uint16_t>{0, 1, 2}));
  EXPECT_FALSE(roles->tx_port);
  EXPECT_FALSE(roles->host_port);
  EXPECT_EQ(roles->egress_for(1), 1);
  EXPECT_EQ(roles->uplink(), 0);
}

TEST(PortRoles, TxPortTakesEveryForwardedPacketAndIsNotPolled) {
  auto roles = assign_port_roles(request({}, 1, kNone), std::vector<std::uint16_t>{0, 1});
  ASSERT_TRUE(roles.ok()) << roles.error().message;
  EXPECT_EQ(roles->rx_ports, (std::vector<std::uint16_t>{0}));
  EXPECT_EQ(roles->egress_for(0), 1);
  EXPECT_EQ(roles->all_ports(), (std::vector<std::uint16_t>{0, 1}));
}

TEST(PortRoles, HostPortIsExcludedFromTrafficPorts) {
  auto roles = assign_port_roles(request({}, kNone, 2), kThreePorts);
  ASSERT_TRUE(roles.ok()) << roles.error().message;
  EXPECT_EQ(roles->rx_ports, (std::vector<std::uint16_t>{0, 1}));
  EXPECT_EQ(roles->host_port, 2);
  EXPECT_EQ(roles->all_ports(), (std::vector<std::uint16_t>{0, 1, 2}));
}

TEST(PortRoles, ExplicitRxPortsKeepTheirOrder) {
  auto roles = assign_port_roles(request({2, 0}, 1, kNone), kThreePorts);
  ASSERT_TRUE(roles.ok()) << roles.error().message;
  EXPECT_EQ(roles->rx_ports, (std::vector<std::uint16_t>{2, 0}));
  EXPECT_EQ(roles->uplink(), 2);
  EXPECT_EQ(roles->egress_for(2), 1);
}

TEST(PortRoles, RefusesUnknownPortsNamingTheOption) {
  auto roles = assign_port_roles(request({}, 7, kNone), kThreePorts);
  ASSERT_FALSE(roles.ok());
  EXPECT_EQ(roles.error().message, "--tx-port: port 7 does not exist (DPDK ports: 0,1,2)");

  roles = assign_port_roles(request({0, 5}, kNone, kNone), kThreePorts);
  ASSERT_FALSE(roles.ok());
  EXPECT_EQ(roles.error().message, "--rx-ports: port 5 does not exist (DPDK ports: 0,1,2)");
}

TEST(PortRoles, RefusesConflictingRoles) {
  auto roles = assign_port_roles(request({}, 1, 1), kThreePorts);
  ASSERT_FALSE(roles.ok());
  EXPECT_EQ(roles.error().message, "--host-port: port 1 is also the --tx-port");

  roles = assign_port_roles(request({0, 2}, kNone, 2), kThreePorts);
  ASSERT_FALSE(roles.ok());
  EXPECT_EQ(roles.error().message, "--rx-ports: port 2 is the --host-port");

  roles = assign_port_roles(request({0, 0}, kNone, kNone), kThreePorts);
  ASSERT_FALSE(roles.ok());
  EXPECT_EQ(roles.error().message, "--rx-ports: port 0 listed twice");
}

TEST(PortRoles, RefusesWhenNoPortIsLeftForTraffic) {
  auto roles = assign_port_roles(request({}, 0, kNone), std::vector<std::uint16_t>{0});
  ASSERT_FALSE(roles.ok());
  EXPECT_NE(roles.error().message.find("no port left to receive client traffic"),
            std::string::npos);
  EXPECT_FALSE(assign_port_roles({}, std::vector<std::uint16_t>{}).ok());
}

}  // namespace
}  // namespace sluice::dataplane

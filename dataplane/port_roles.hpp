// Which port does what (dataplane/README.md, "Port roles"). Pure logic, unit-tested:
//   rx ports    polled for client traffic (default: every port without another role)
//   tx port     optional: forwarded packets and replies leave here instead of the arrival
//               port (default: one-armed, out of the port they came in on)
//   host port   optional exception path to the kernel (TAP, virtio-user, --host-port):
//               non-VIP packets go there; packets from it leave through the uplink (the first
//               rx port), so ARP, SSH and BGP keep working on a NIC bound to DPDK
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "sluice/result.hpp"

namespace sluice::dataplane {

struct PortRoles {
  std::vector<std::uint16_t> rx_ports;
  std::optional<std::uint16_t> tx_port;
  std::optional<std::uint16_t> host_port;

  // Where packets received on `rx_port` are sent.
  [[nodiscard]] std::uint16_t egress_for(std::uint16_t rx_port) const {
    return tx_port.value_or(rx_port);
  }
  [[nodiscard]] std::uint16_t uplink() const { return rx_ports.front(); }
  // Every port with a role, each once, ascending.
  [[nodiscard]] std::vector<std::uint16_t> all_ports() const;
};

struct PortRoleRequest {
  std::vector<std::uint16_t> rx_ports;  // empty: automatic
  std::optional<std::uint16_t> tx_port;
  std::optional<std::uint16_t> host_port;
};

// `available`: the ports DPDK probed, ascending. Errors name the offending option.
[[nodiscard]] Result<PortRoles> assign_port_roles(const PortRoleRequest& request,
                                                  std::span<const std::uint16_t> available);

}  // namespace sluice::dataplane

#include "port_roles.hpp"

#include <algorithm>
#include <string>

namespace sluice::dataplane {
namespace {

bool contains(std::span<const std::uint16_t> ports, std::uint16_t p) {
  return std::find(ports.begin(), ports.end(), p) != ports.end();
}

std::string list(std::span<const std::uint16_t> ports) {
  std::string out;
  for (auto p : ports) {
    if (!out.empty()) out.push_back(',');
    out.append(std::to_string(p));
  }
  return out.empty() ? "none" : out;
}

}  // namespace

std::vector<std::uint16_t> PortRoles::all_ports() const {
  std::vector<std::uint16_t> out = rx_ports;
  if (tx_port) out.push_back(*tx_port);
  if (host_port) out.push_back(*host_port);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<PortRoles> assign_port_roles(const PortRoleRequest& request,
                                    std::span<const std::uint16_t> available) {
  auto check_exists = [&](std::uint16_t p, const char* option) -> Status {
    if (contains(available, p)) return ok_status();
    return Error{std::string(option) + ": port " + std::to_string(p) +
                 " does not exist (DPDK ports: " + list(available) + ")"};
  };
  PortRoles roles;
  roles.tx_port = request.tx_port;
  roles.host_port = request.host_port;
  if (request.tx_port) {
    if (auto s = check_exists(*request.tx_port, "--tx-port"); !s) return s.error();
  }
  if (request.host_port) {
    if (auto s = check_exists(*request.host_port, "--host-port"); !s) return s.error();
    if (request.tx_port == request.host_port) {
      return Error{"--host-port: port " + std::to_string(*request.host_port) +
                   " is also the --tx-port"};
    }
  }
  if (request.rx_ports.empty()) {
    for (auto p : available) {
      if (p != request.tx_port && p != request.host_port) roles.rx_ports.push_back(p);
    }
    if (roles.rx_ports.empty()) {
      return Error{"no port left to receive client traffic (DPDK ports: " + list(available) +
                   "); add one with --vdev or -a"};
    }
    return roles;
  }
  for (auto p : request.rx_ports) {
    if (auto s = check_exists(p, "--rx-ports"); !s) return s.error();
    if (p == request.host_port) {
      return Error{"--rx-ports: port " + std::to_string(p) + " is the --host-port"};
    }
    if (contains(roles.rx_ports, p)) {
      return Error{"--rx-ports: port " + std::to_string(p) + " listed twice"};
    }
    roles.rx_ports.push_back(p);
  }
  return roles;
}

}  // namespace sluice::dataplane

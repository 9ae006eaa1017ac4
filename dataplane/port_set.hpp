// Every port sluice-dataplane uses, opened in order and released in reverse: the roles, the
// exception TAP (if asked for), the mbuf pool, then each port started with one RX and one TX
// queue per worker. Logs one line per port (role, queues, RSS, link).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "exception_tap.hpp"
#include "mempool.hpp"
#include "options.hpp"
#include "port.hpp"
#include "port_roles.hpp"
#include "sluice/result.hpp"

namespace sluice::dataplane {

struct PortSet {
  // Members are destroyed bottom-up: ports are stopped and closed before the pool they
  // receive into is freed and before the TAP device is removed.
  std::unique_ptr<ExceptionTap> tap;
  MempoolPtr pool;
  std::map<std::uint16_t, std::unique_ptr<Port>> ports;
  PortRoles roles;

  [[nodiscard]] const Port& port(std::uint16_t id) const { return *ports.at(id); }
  [[nodiscard]] std::map<std::uint16_t, std::uint16_t> rx_queue_counts() const;
};

// `worker_lcores[i]` polls RX queue i of every polled port (worker_plan.hpp); with --idle pause
// those queues get DPDK's PAUSE power management.
[[nodiscard]] Result<PortSet> open_ports(const Options& options,
                                         const std::vector<unsigned>& worker_lcores);

}  // namespace sluice::dataplane

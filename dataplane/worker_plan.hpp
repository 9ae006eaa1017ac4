// Which queues each worker polls and where its packets go: worker i takes RX queue i of every
// RX port that has one (RSS spreads flows over them) and of the host port, and transmits on
// TX queue i of every port. Pure; unit-tested.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "port_roles.hpp"
#include "worker.hpp"

namespace sluice::dataplane {

// `rx_queues`: RX queue count of every port in `roles`.
[[nodiscard]] std::vector<WorkerSetup> plan_workers(
    const PortRoles& roles, const std::map<std::uint16_t, std::uint16_t>& rx_queues,
    const std::vector<unsigned>& lcores, std::uint64_t drain_ticks);

}  // namespace sluice::dataplane

#include "worker_plan.hpp"

namespace sluice::dataplane {

std::vector<WorkerSetup> plan_workers(const PortRoles& roles,
                                      const std::map<std::uint16_t, std::uint16_t>& rx_queues,
                                      const std::vector<unsigned>& lcores,
                                      std::uint64_t drain_ticks) {
  std::vector<WorkerSetup> out;
  for (unsigned i = 0; i < lcores.size(); ++i) {
    const auto queue = static_cast<std::uint16_t>(i);
    WorkerSetup setup;
    setup.index = i;
    setup.lcore = lcores[i];
    setup.drain_ticks = drain_ticks;
    setup.tx_ports = roles.all_ports();
    setup.host_port = roles.host_port;
    for (std::uint16_t rx : roles.rx_ports) {
      if (queue < rx_queues.at(rx)) setup.traffic.push_back({rx, queue, roles.egress_for(rx)});
    }
    if (roles.host_port && queue < rx_queues.at(*roles.host_port)) {
      setup.host = RxQueue{*roles.host_port, queue, roles.uplink()};
    }
    out.push_back(std::move(setup));
  }
  return out;
}

}  // namespace sluice::dataplane

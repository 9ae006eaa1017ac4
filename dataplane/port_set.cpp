#include "port_set.hpp"

#include <rte_ethdev.h>
#include <rte_lcore.h>

#include <spdlog/spdlog.h>

#include <algorithm>

#include "tx_buffer.hpp"
#include "worker.hpp"

namespace sluice::dataplane {
namespace {

constexpr std::uint32_t kMempoolCache = 256;

std::vector<std::uint16_t> probed_ports() {
  std::vector<std::uint16_t> out;
  std::uint16_t port = 0;
  RTE_ETH_FOREACH_DEV(port) {
    out.push_back(port);
  }
  return out;
}

// Enough for every descriptor ring, every worker's bursts and buffers, and the caches.
std::uint32_t automatic_mbuf_count(const Options& o, std::size_t ports, std::size_t workers) {
  const std::uint64_t rings =
      ports * workers * (std::uint64_t{o.rx_descriptors} + o.tx_descriptors);
  const std::uint64_t in_flight = workers * (kRxBurst + std::uint64_t{kTxBurst} * (ports + 1));
  const std::uint64_t caches = (workers + 1) * std::uint64_t{kMempoolCache} * 3 / 2;
  const std::uint64_t n = rings + in_flight + caches + 4096;
  std::uint64_t pow2 = 1;
  while (pow2 - 1 < n)
    pow2 <<= 1;  // 2^k - 1 buffers: the mempool's sweet spot
  return static_cast<std::uint32_t>(pow2 - 1);
}

std::string describe_role(const PortRoles& roles, std::uint16_t id, bool polled) {
  if (id == roles.host_port) return "host (exception path)";
  if (!roles.tx_port) return "rx+tx (one-armed)";
  if (polled && id == roles.tx_port) return "rx+tx";
  return polled ? "rx" : "tx";
}

}  // namespace

std::map<std::uint16_t, std::uint16_t> PortSet::rx_queue_counts() const {
  std::map<std::uint16_t, std::uint16_t> out;
  for (const auto& [id, p] : ports)
    out[id] = p->rx_queues();
  return out;
}

Result<PortSet> open_ports(const Options& options, const std::vector<unsigned>& worker_lcores) {
  const auto workers = static_cast<std::uint16_t>(worker_lcores.size());
  PortSet set;
  auto roles =
      assign_port_roles({options.rx_ports, options.tx_port, options.host_port}, probed_ports());
  if (!roles) return roles.error();
  set.roles = std::move(roles.value());

  if (!options.exception_tap.empty()) {
    rte_ether_addr mac{};
    std::array<std::uint8_t, 6> uplink_mac{};
    if (rte_eth_macaddr_get(set.roles.uplink(), &mac) == 0) {
      std::copy_n(mac.addr_bytes, 6, uplink_mac.begin());
    }
    auto tap = ExceptionTap::create(options.exception_tap, uplink_mac);
    if (!tap) return tap.error();
    set.tap = std::move(tap.value());
    set.roles.host_port = set.tap->port_id();
  }
  const auto ids = set.roles.all_ports();

  const std::uint32_t mbufs =
      options.mbufs != 0 ? options.mbufs : automatic_mbuf_count(options, ids.size(), workers);
  auto pool = create_pktmbuf_pool({.name = "sluice_mbufs",
                                   .mbufs = mbufs,
                                   .data_room = options.mbuf_data_room,
                                   .cache_size = kMempoolCache,
                                   .socket = static_cast<int>(rte_socket_id())});
  if (!pool) return pool.error();
  set.pool = std::move(pool.value());

  for (std::uint16_t id : ids) {
    const auto& rx = set.roles.rx_ports;
    const bool polled =
        id == set.roles.host_port || std::find(rx.begin(), rx.end(), id) != rx.end();
    auto port = Port::start({.port_id = id,
                             .rx_queues = workers,
                             .tx_queues = workers,
                             .rx_descriptors = options.rx_descriptors,
                             .tx_descriptors = options.tx_descriptors,
                             .pool = set.pool.get(),
                             .pause_lcores = polled && options.idle == IdleMode::pause
                                                 ? worker_lcores
                                                 : std::vector<unsigned>{}});
    if (!port) return port.error();
    const Port& p = *port.value();
    if (p.tx_queues() < workers) {
      return Error{fmt::format(
          "port {} ({}) offers {} TX queues: run at most that many worker lcores (have {})", id,
          p.driver(), p.tx_queues(), workers)};
    }
    if (polled && p.rx_queues() == 0) {
      return Error{fmt::format("port {} ({}) cannot receive (no RX queue)", id, p.driver())};
    }
    spdlog::info(
        "port {} {} ({}) mac {}: {}, {} RX / {} TX queues{}{}, {}", id, p.name(), p.driver(),
        format_mac(p.mac()), describe_role(set.roles, id, polled), p.rx_queues(), p.tx_queues(),
        p.rss() ? " with RSS" : "",
        p.paused_queues() != 0 ? fmt::format(", PAUSE on {} RX", p.paused_queues()) : std::string(),
        p.link_status());
    set.ports.emplace(id, std::move(port.value()));
  }
  return set;
}

}  // namespace sluice::dataplane

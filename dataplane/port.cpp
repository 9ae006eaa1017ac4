#include "port.hpp"

// rte_power_pmd_mgmt.h is experimental API in DPDK 22.11.
#define ALLOW_EXPERIMENTAL_API 1
#include <rte_ethdev.h>
#include <rte_power_pmd_mgmt.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace sluice::dataplane {
namespace {

constexpr std::uint64_t kWantedRss = RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP;

Error port_error(std::uint16_t port, const char* what, int rc) {
  return Error{fmt::format("port {}: {} failed: {}", port, what, rte_strerror(-rc))};
}

}  // namespace

std::string format_mac(const std::array<std::uint8_t, 6>& mac) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", mac[0], mac[1], mac[2], mac[3],
                     mac[4], mac[5]);
}

Result<std::unique_ptr<Port>> Port::start(const PortRequest& request) {
  const std::uint16_t id = request.port_id;
  if (!rte_eth_dev_is_valid_port(id)) return Error{fmt::format("port {} does not exist", id)};

  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(id, &info); rc != 0) return port_error(id, "dev_info_get", rc);

  std::unique_ptr<Port> port(new Port(id));
  char name[RTE_ETH_NAME_MAX_LEN] = {};
  if (rte_eth_dev_get_name_by_port(id, name) == 0) port->name_ = name;
  port->driver_ = info.driver_name != nullptr ? info.driver_name : "";
  port->if_index_ = static_cast<int>(info.if_index);

  // 0 RX queues is legal for a transmit-only device (a pcap port with only tx_pcap).
  port->rx_queues_ = std::min(request.rx_queues, info.max_rx_queues);
  port->tx_queues_ = std::max<std::uint16_t>(1, std::min(request.tx_queues, info.max_tx_queues));

  rte_eth_conf conf{};
  const std::uint64_t rss_hf = kWantedRss & info.flow_type_rss_offloads;
  if (port->rx_queues_ > 1 && rss_hf != 0) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_key = nullptr;  // the PMD's default key
    conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
    port->rss_ = true;
  }
  // Every mbuf comes from one pool with refcount 1: the PMD may free without checks.
  if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE) {
    conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
  }

  if (int rc = rte_eth_dev_configure(id, port->rx_queues_, port->tx_queues_, &conf); rc != 0) {
    return port_error(id, "configure", rc);
  }
  std::uint16_t rx_desc = request.rx_descriptors;
  std::uint16_t tx_desc = request.tx_descriptors;
  if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(id, &rx_desc, &tx_desc); rc != 0) {
    return port_error(id, "adjust descriptors", rc);
  }
  const int socket = std::max(0, rte_eth_dev_socket_id(id));
  for (std::uint16_t q = 0; q < port->rx_queues_; ++q) {
    rte_eth_rxconf rxconf = info.default_rxconf;
    if (int rc = rte_eth_rx_queue_setup(id, q, rx_desc, socket, &rxconf, request.pool); rc != 0) {
      return port_error(id, "rx queue setup", rc);
    }
  }
  for (std::uint16_t q = 0; q < port->tx_queues_; ++q) {
    rte_eth_txconf txconf = info.default_txconf;
    txconf.offloads = conf.txmode.offloads;
    if (int rc = rte_eth_tx_queue_setup(id, q, tx_desc, socket, &txconf); rc != 0) {
      return port_error(id, "tx queue setup", rc);
    }
  }
  // Registered while the queues are stopped, as librte_power requires.
  const auto paused = std::min<std::size_t>(port->rx_queues_, request.pause_lcores.size());
  for (std::uint16_t q = 0; q < paused; ++q) {
    const unsigned lcore = request.pause_lcores[q];
    const int rc = rte_power_ethdev_pmgmt_queue_enable(lcore, id, q, RTE_POWER_MGMT_TYPE_PAUSE);
    if (rc != 0) {
      spdlog::warn(
          "port {} ({}) RX queue {}: DPDK power management PAUSE refused ({}): lcore {} "
          "busy-polls this queue",
          id, port->driver_, q, rte_strerror(-rc), lcore);
      continue;
    }
    port->paused_.push_back({lcore, q});
  }
  rte_ether_addr mac{};
  if (rte_eth_macaddr_get(id, &mac) == 0) std::copy_n(mac.addr_bytes, 6, port->mac_.begin());

  if (int rc = rte_eth_dev_start(id); rc != 0) return port_error(id, "start", rc);
  port->started_ = true;
  return port;
}

Port::~Port() {
  if (started_) rte_eth_dev_stop(id_);
  for (const PausedQueue& p : paused_)
    rte_power_ethdev_pmgmt_queue_disable(p.lcore, id_, p.queue);
  rte_eth_dev_close(id_);
}

std::string Port::link_status() const {
  rte_eth_link link{};
  if (rte_eth_link_get_nowait(id_, &link) != 0) return "link status unknown";
  if (link.link_status != RTE_ETH_LINK_UP) return "link down";
  return fmt::format("link up, {} Mbps, {}-duplex", link.link_speed,
                     link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX ? "full" : "half");
}

}  // namespace sluice::dataplane

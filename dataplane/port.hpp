// One started DPDK port as an RAII handle: configure (RSS across the worker queues when the
// PMD supports it), set up queues, start; stop and close on destruction.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sluice/result.hpp"

struct rte_mempool;

namespace sluice::dataplane {

struct PortRequest {
  std::uint16_t port_id = 0;
  std::uint16_t rx_queues = 1;  // wanted; capped by what the device offers
  std::uint16_t tx_queues = 1;
  std::uint16_t rx_descriptors = 1024;
  std::uint16_t tx_descriptors = 1024;
  rte_mempool* pool = nullptr;  // receive buffers
  // --idle pause: RX queue q is polled by lcore pause_lcores[q]; enable DPDK's PAUSE power
  // management on it before the port starts. Empty: none. A queue the PMD refuses is logged
  // and busy-polled.
  std::vector<unsigned> pause_lcores;
};

class Port {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Port>> start(const PortRequest& request);

  Port(const Port&) = delete;
  Port& operator=(const Port&) = delete;
  ~Port();

  [[nodiscard]] std::uint16_t id() const { return id_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const std::string& driver() const { return driver_; }
  [[nodiscard]] const std::array<std::uint8_t, 6>& mac() const { return mac_; }
  [[nodiscard]] std::uint16_t rx_queues() const { return rx_queues_; }
  [[nodiscard]] std::uint16_t tx_queues() const { return tx_queues_; }
  [[nodiscard]] bool rss() const { return rss_; }
  // RX queues with DPDK's PAUSE power management on (--idle pause).
  [[nodiscard]] std::uint16_t paused_queues() const {
    return static_cast<std::uint16_t>(paused_.size());
  }
  // Kernel interface index for kernel-backed PMDs (af_xdp, af_packet, tap); 0 otherwise.
  [[nodiscard]] int if_index() const { return if_index_; }
  // "link up, 10000 Mbps, full-duplex" or "link down", without waiting for autonegotiation.
  [[nodiscard]] std::string link_status() const;

 private:
  explicit Port(std::uint16_t id) : id_(id) {}
  std::uint16_t id_;
  bool started_ = false;
  std::string name_;
  std::string driver_;
  std::array<std::uint8_t, 6> mac_{};
  std::uint16_t rx_queues_ = 0;
  std::uint16_t tx_queues_ = 0;
  bool rss_ = false;
  int if_index_ = 0;
  struct PausedQueue {
    unsigned lcore;
    std::uint16_t queue;
  };
  std::vector<PausedQueue> paused_;  // disabled again after the port stops
};

// Human-readable MAC "02:00:00:00:00:01".
[[nodiscard]] std::string format_mac(const std::array<std::uint8_t, 6>& mac);

}  // namespace sluice::dataplane

// The exception path to the host kernel as a TAP device that DPDK creates (net_tap PMD):
// non-VIP packets received on a NIC bound to DPDK are written to it, and whatever the kernel
// sends through it (ARP replies, SSH, BGP) goes back out of the uplink. The TAP gets the
// uplink's MAC address so the kernel accepts frames addressed to the NIC. Removed on
// destruction. (virtio-user works the same way: create it with --vdev and pass --host-port.)
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "sluice/result.hpp"

namespace sluice::dataplane {

class ExceptionTap {
 public:
  [[nodiscard]] static Result<std::unique_ptr<ExceptionTap>> create(
      const std::string& interface_name, const std::array<std::uint8_t, 6>& mac);
  ExceptionTap(const ExceptionTap&) = delete;
  ExceptionTap& operator=(const ExceptionTap&) = delete;
  ~ExceptionTap();

  [[nodiscard]] std::uint16_t port_id() const { return port_id_; }

 private:
  ExceptionTap(std::string device, std::uint16_t port)
      : device_(std::move(device)), port_id_(port) {}
  std::string device_;
  std::uint16_t port_id_;
};

}  // namespace sluice::dataplane

#include "exception_tap.hpp"

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

#include <fmt/format.h>

#include "port.hpp"

namespace sluice::dataplane {
namespace {
constexpr const char* kDeviceName = "net_tap_sluice";
}

Result<std::unique_ptr<ExceptionTap>> ExceptionTap::create(const std::string& interface_name,
                                                           const std::array<std::uint8_t, 6>& mac) {
  const std::string devargs =
      fmt::format("{},iface={},mac={}", kDeviceName, interface_name, format_mac(mac));
  if (int rc = rte_dev_probe(devargs.c_str()); rc != 0) {
    return Error{fmt::format("--exception-tap: cannot create TAP '{}' ({}): {}", interface_name,
                             devargs, rte_strerror(-rc))};
  }
  std::uint16_t port = 0;
  if (rte_eth_dev_get_port_by_name(kDeviceName, &port) != 0) {
    (void)rte_eal_hotplug_remove("vdev", kDeviceName);
    return Error{"--exception-tap: TAP created but its port was not found"};
  }
  return std::unique_ptr<ExceptionTap>(new ExceptionTap(kDeviceName, port));
}

ExceptionTap::~ExceptionTap() {
  (void)rte_eal_hotplug_remove("vdev", device_.c_str());
}

}  // namespace sluice::dataplane

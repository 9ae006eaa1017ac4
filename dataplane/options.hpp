// sluice-dataplane's own command line: everything after "--" (EAL options come before it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "control_limits.hpp"
#include "idle.hpp"

namespace sluice::dataplane {

inline constexpr const char* kDefaultControlSocket = "/run/sluice/dataplane.sock";

struct Options {
  std::string config_path;  // YAML state loaded at start; empty: start with no state
  std::string control_socket = kDefaultControlSocket;

  // Port roles (dataplane/README.md, "Port roles").
  std::vector<std::uint16_t> rx_ports;     // polled for client traffic; empty: every port without
                                           // another role
  std::optional<std::uint16_t> tx_port;    // forwarded packets and replies leave here; default:
                                           // the port they arrived on (one-armed)
  std::optional<std::uint16_t> host_port;  // exception path to the kernel (TAP, virtio-user)
  std::string exception_tap;               // create a TAP named this as the host port
  std::string xdp_steering;  // pin root of the steering program's maps; empty: do not sync
  std::string source_mac;    // source MAC of encapsulated frames; empty: the egress port's MAC

  // Buffers and queues.
  std::uint32_t mbufs = 0;              // 0: sized from ports, queues and descriptors
  std::uint16_t mbuf_data_room = 2176;  // RTE_MBUF_DEFAULT_BUF_SIZE
  std::uint16_t rx_descriptors = 1024;
  std::uint16_t tx_descriptors = 1024;
  std::uint32_t drain_us = 100;    // TX drain timer
  IdleMode idle = IdleMode::poll;  // what a worker does while its queues are empty (idle.hpp)

  // Operations.
  // Control socket: close connections idle this long.
  std::uint32_t control_idle_timeout_s = kDefaultControlIdleTimeout.count();
  std::string log_level = "info";
  // Remove what a dead dataplane with the EAL options' --file-prefix left (hugepage files, the
  // DPDK runtime directory), then exit without starting (systemd ExecStopPost).
  bool remove_leftovers = false;
  std::uint32_t stats_interval_s = 0;  // 0: no periodic rate log
};

struct ParsedOptions {
  std::optional<Options> options;  // set: run
  int exit_code = 0;               // when options is empty: exit with this (help: 0)
};

// `args` are the application arguments, program name first. Prints help or errors itself.
[[nodiscard]] ParsedOptions parse_options(const std::vector<std::string>& args);

}  // namespace sluice::dataplane

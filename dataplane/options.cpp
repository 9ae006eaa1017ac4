#include "options.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>

#include "sluice/config/names.hpp"

namespace sluice::dataplane {
namespace {

constexpr const char* kDescription =
    "sluice-dataplane: the Sluice layer-4 load balancer's DPDK forwarding engine.\n\n"
    "Usage: sluice-dataplane [EAL options] -- [options]\n\n"
    "EAL options (before \"--\") pick lcores and ports, e.g.\n"
    "  -l 0-2 --main-lcore 0 -a 0000:3b:00.0\n"
    "  -l 0-1 --no-huge -m 512 --no-pci --vdev net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap\n"
    "The main lcore runs the control thread; every other lcore is a worker with its own RX/TX\n"
    "queue on each port (RSS spreads flows when the PMD supports it).\n\n"
    "Ports: by default every port is one-armed: packets are received and sent back out on the\n"
    "same port. --tx-port sends everything out of one port (e.g. pcap in, null out).\n"
    "Packets that are not for a VIP go to the host port (--host-port, or a TAP created with\n"
    "--exception-tap); without one they are dropped and counted as no_host_port.";

}  // namespace

ParsedOptions parse_options(const std::vector<std::string>& args) {
  Options o;
  CLI::App app{kDescription, "sluice-dataplane"};
  app.get_formatter()->column_width(34);

  app.add_option("--config", o.config_path, "YAML state to load at start (docs/config.md)")
      ->check(CLI::ExistingFile);
  app.add_option("--control-socket", o.control_socket,
                 "Unix control socket (mode 0600), for sluice-controlplane and sluicectl")
      ->capture_default_str();
  app.add_option("--rx-ports", o.rx_ports,
                 "ports polled for client traffic (default: every port without another role)")
      ->delimiter(',');
  app.add_option("--tx-port", o.tx_port,
                 "send forwarded packets and replies out of this port (default: the port they "
                 "arrived on)");
  auto* host = app.add_option("--host-port", o.host_port,
                              "exception-path port to the kernel: non-VIP packets go there, "
                              "packets from it go out of the first RX port");
  app.add_option("--exception-tap", o.exception_tap,
                 "create a TAP interface with this name (MAC of the first RX port) as the host "
                 "port")
      ->excludes(host);
  app.add_option("--xdp-steering", o.xdp_steering,
                 "af_xdp mode: keep the VIP maps of the XDP steering program (pinned under this "
                 "bpffs directory, e.g. /sys/fs/bpf, else found on the af_xdp interfaces) equal "
                 "to the running VIPs")
      ->type_name("PIN_ROOT");
  app.add_option("--source-mac", o.source_mac,
                 "source MAC of encapsulated frames (default: the MAC of the --tx-port, else "
                 "of the first RX port)")
      ->check([](const std::string& text) {
        return config::parse_mac(text) ? std::string() : "not a MAC address: " + text;
      });
  app.add_option("--mbufs", o.mbufs, "packet buffers in the pool (0: automatic)")
      ->capture_default_str();
  app.add_option("--mbuf-size", o.mbuf_data_room, "bytes per packet buffer, headroom included")
      ->capture_default_str()
      ->check(CLI::Range(192, 65535));
  app.add_option("--rx-descriptors", o.rx_descriptors, "RX ring size per queue")
      ->capture_default_str();
  app.add_option("--tx-descriptors", o.tx_descriptors, "TX ring size per queue")
      ->capture_default_str();
  app.add_option("--drain-us", o.drain_us, "flush partially filled TX bursts after this long")
      ->capture_default_str()
      ->check(CLI::Range(1u, 100000u));
  std::string idle = std::string(to_string(o.idle));
  app.add_option("--idle", idle,
                 "worker on empty queues: poll (spin: lowest latency, a whole core), pause "
                 "(DPDK power management PAUSE: less power, same CPU time) or sleep (adaptive "
                 "sleep, 10-500 us, after 256 empty polls: frees the core)")
      ->capture_default_str()
      ->check(CLI::IsMember({"poll", "pause", "sleep"}));
  app.add_option("--control-idle-timeout", o.control_idle_timeout_s,
                 "close control-socket connections that send nothing for S seconds")
      ->type_name("S")
      ->capture_default_str()
      ->check(CLI::Range(1u, 86400u));
  app.add_flag("--remove-leftovers", o.remove_leftovers,
               "remove the hugepage files and DPDK runtime directory a dead dataplane with the "
               "same --file-prefix left (never those of a live process), then exit");
  app.add_option("--log-level", o.log_level, "trace|debug|info|warn|error")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  app.add_option("--stats-interval", o.stats_interval_s,
                 "log RX/TX rates every S seconds (0: never)")
      ->type_name("S");

  std::vector<std::string> reversed(args.size() > 1 ? args.begin() + 1 : args.end(), args.end());
  std::reverse(reversed.begin(), reversed.end());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return {std::nullopt, app.exit(e)};
  }
  o.idle = *parse_idle_mode(idle);
  return {o, 0};
}

}  // namespace sluice::dataplane

#include "daemon/options.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <variant>

#include "sluice/ip_address.hpp"

namespace sluice::cp {

std::variant<DaemonOptions, int> parse_daemon_options(int argc, char** argv) {
  DaemonOptions options;
  CLI::App app{
      "sluice-controlplane: owns the desired state of Sluice, health-checks backends and keeps\n"
      "every dataplane programmed. Operator's guide: docs/operations.md."};
  app.add_option("--config", options.config_path, "YAML configuration (docs/config.md)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--state-file", options.state_file,
                 "persisted runtime changes (default: controlplane.state_file, "
                 "/var/lib/sluice/state.yaml)");
  app.add_option("--api-socket", options.api_socket,
                 "Unix socket of the API (default: controlplane.api_socket, "
                 "/run/sluice/controlplane.sock)");
  app.add_option("--metrics-listen", options.metrics_listen,
                 "loopback address:port for Prometheus GET /metrics (default: "
                 "controlplane.metrics_listen, 127.0.0.1:9780)");
  app.add_option("--api-group", options.api_group,
                 "group allowed to use the API socket (mode 0660); default: root only");
  app.add_option("--log-level", options.log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 1;
  }
  return options;
}

config::ControlplaneSettings effective_settings(const DaemonOptions& options,
                                                const config::State& config) {
  config::ControlplaneSettings settings =
      config.controlplane.value_or(config::ControlplaneSettings{});
  if (options.state_file) settings.state_file = *options.state_file;
  if (options.api_socket) settings.api_socket = *options.api_socket;
  if (options.metrics_listen) settings.metrics_listen = *options.metrics_listen;
  return settings;
}

std::size_t api_connection_limit(std::uint32_t configured, std::uint64_t max_descriptors) {
  const std::uint64_t cap = std::max<std::uint64_t>(max_descriptors / 2, 1);
  return static_cast<std::size_t>(std::min<std::uint64_t>(std::max(configured, 1u), cap));
}

std::size_t metrics_connection_limit(std::uint64_t max_descriptors) {
  const std::uint64_t cap = std::max<std::uint64_t>(max_descriptors / 8, 1);
  return static_cast<std::size_t>(std::min<std::uint64_t>(kMetricsMaxConnections, cap));
}

Result<ListenAddress> parse_metrics_listen(const std::string& text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos) {
    return Error{"metrics_listen: expected ADDRESS:PORT, e.g. 127.0.0.1:9780, got \"" + text +
                 "\""};
  }
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const std::string port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return Error{"metrics_listen: port must be 1..65535, got \"" + port_text + "\""};
  }
  const std::optional<IpAddress> address = IpAddress::parse(host);
  if (!address) return Error{"metrics_listen: \"" + host + "\" is not an IP address"};
  const bool loopback =
      address->is_v4() ? (address->bytes[0] == 127) : *address == *IpAddress::parse("::1");
  if (!loopback) {
    return Error{"metrics_listen: " + host +
                 " is not a loopback address; metrics are served on 127.0.0.0/8 or ::1 only "
                 "(put a proxy in front to export them)"};
  }
  return ListenAddress{host, static_cast<std::uint16_t>(port)};
}

}  // namespace sluice::cp

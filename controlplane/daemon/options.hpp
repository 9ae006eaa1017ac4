// Command line of sluice-controlplane. Flags override the `controlplane:` section of the
// config file, which overrides the built-in defaults (model.hpp ControlplaneSettings).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "sluice/config/model.hpp"
#include "sluice/result.hpp"

namespace sluice::cp {

struct DaemonOptions {
  std::string config_path;
  std::optional<std::string> state_file;
  std::optional<std::string> api_socket;
  std::optional<std::string> metrics_listen;
  std::string api_group;  // group that may use the API socket; empty: the process's group
  std::string log_level = "info";
};

// Parses argv; on --help or a usage error returns the process exit code to use instead.
[[nodiscard]] std::variant<DaemonOptions, int> parse_daemon_options(int argc, char** argv);

// The settings in force: flags over the config's `controlplane:` over defaults.
[[nodiscard]] config::ControlplaneSettings effective_settings(const DaemonOptions& options,
                                                              const config::State& config);

// The API's connection limit in force: `configured` (controlplane.api_max_connections), but at
// most half of `max_descriptors` (RLIMIT_NOFILE), so that API clients can never take the
// descriptors the health checks and the dataplane connections need.
[[nodiscard]] std::size_t api_connection_limit(std::uint32_t configured,
                                               std::uint64_t max_descriptors);
// The metrics endpoint's: 16, at most an eighth of RLIMIT_NOFILE.
inline constexpr std::size_t kMetricsMaxConnections = 16;
[[nodiscard]] std::size_t metrics_connection_limit(std::uint64_t max_descriptors);

struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;
};
// "127.0.0.1:9780" or "[::1]:9780"; only loopback addresses are accepted (the metrics carry
// no authentication).
[[nodiscard]] Result<ListenAddress> parse_metrics_listen(const std::string& text);

}  // namespace sluice::cp

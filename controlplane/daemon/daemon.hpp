// Wires the control plane together: state store, health monitor, dataplane sync, API server
// and metrics server, and runs them until SIGINT/SIGTERM.
#pragma once

#include "daemon/options.hpp"

namespace sluice::cp {

// Returns the process exit code: 0 after a clean shutdown, 2 when the configuration or state
// file is refused, 3 when a socket cannot be opened.
[[nodiscard]] int run_daemon(const DaemonOptions& options);

}  // namespace sluice::cp

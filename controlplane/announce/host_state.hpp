// The host's drain state (controlplane.host_state_file): local to the host, never shared, and
// kept across control-plane restarts. Written atomically (lib/sluice/atomic_file.hpp) as a small
// JSON document (valid YAML too):
//   {"drained": true, "since_unix_ms": 1764633603000, "graceful_shutdown": true}
#pragma once

#include <chrono>
#include <string>

#include "sluice/result.hpp"

namespace sluice::cp {

struct HostDrain {
  bool drained = false;
  std::chrono::system_clock::time_point since{};  // of the drain
  bool graceful_shutdown = false;                 // tag first, withdraw after the hold

  friend bool operator==(const HostDrain&, const HostDrain&) = default;
};

[[nodiscard]] std::string encode_host_drain(const HostDrain& drain);
// Error names the file and what is wrong in it.
[[nodiscard]] Result<HostDrain> decode_host_drain(const std::string& text, const std::string& path);

// A missing file is a host in service (not drained).
[[nodiscard]] Result<HostDrain> load_host_drain(const std::string& path);
[[nodiscard]] Status save_host_drain(const std::string& path, const HostDrain& drain);

}  // namespace sluice::cp

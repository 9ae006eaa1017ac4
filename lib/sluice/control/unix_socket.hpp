// Unix stream sockets for the control protocol and the control plane's API. All descriptors
// are close-on-exec and non-blocking; frame.hpp reads and writes them with deadlines.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

#include "sluice/result.hpp"
#include "sluice/unique_fd.hpp"

namespace sluice::control {

// Wait forever.
inline constexpr std::chrono::milliseconds kNoTimeout{-1};

struct ListenOptions {
  mode_t mode = 0600;          // root-only by default; 0660 with `group` for the API socket
  std::optional<gid_t> group;  // chown the socket file to this group
  int backlog = 64;
};

// Binds and listens on PATH. A stale socket file (nobody listening) is removed first; a live
// one ("another process is listening") or a non-socket file at PATH is an error. Permissions
// are applied before listen(), so no client can connect through wider ones.
[[nodiscard]] Result<UniqueFd> listen_unix(const std::string& path, const ListenOptions& options);
[[nodiscard]] Result<UniqueFd> listen_unix(const std::string& path, mode_t mode = 0600);

// Accepts one connection; the error message is "would block" when none is pending.
[[nodiscard]] Result<UniqueFd> accept_unix(int listen_fd);

// Connects to PATH, retrying a full backlog until the timeout.
[[nodiscard]] Result<UniqueFd> connect_unix(const std::string& path,
                                            std::chrono::milliseconds timeout);

}  // namespace sluice::control

// Who may talk to a Sluice control socket (the dataplane's control socket, the control plane's
// API): checked on every accepted connection with SO_PEERCRED, not only through the socket
// file's mode, so a socket file opened up by mistake (or inherited through a bind mount) still
// refuses strangers.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "sluice/result.hpp"

namespace sluice::control {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;  // primary group
};

// The connected peer of a Unix socket (SO_PEERCRED).
[[nodiscard]] Result<PeerCredentials> peer_credentials(int fd);

class CallerPolicy {
 public:
  // root and the server's own user only.
  CallerPolicy() = default;
  // Also the members of `group` (primary or supplementary). Fails when the group is unknown.
  [[nodiscard]] static Result<CallerPolicy> with_group(const std::string& group);

  // ok, or an Error that names the caller ("uid 1000 (pid 4242) is neither root nor in group
  // sluice"): log it and close the connection.
  [[nodiscard]] Status admit(const PeerCredentials& caller) const;
  // peer_credentials() + admit().
  [[nodiscard]] Status admit_peer(int fd) const;

 private:
  std::optional<gid_t> group_;
  std::string group_name_;
};

}  // namespace sluice::control

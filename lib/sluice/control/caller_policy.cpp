#include "sluice/control/caller_policy.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace sluice::control {
namespace {

// Whether `uid` (whose primary group is `primary`) is in `group`, supplementary groups included.
bool in_group(uid_t uid, gid_t primary, gid_t group) {
  if (primary == group) return true;
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
    return false;  // a uid without a name has no supplementary groups
  }
  int count = 64;
  std::vector<gid_t> groups(static_cast<std::size_t>(count));
  if (::getgrouplist(entry.pw_name, primary, groups.data(), &count) < 0) {
    groups.resize(static_cast<std::size_t>(count));
    if (::getgrouplist(entry.pw_name, primary, groups.data(), &count) < 0) return false;
  }
  groups.resize(static_cast<std::size_t>(count));
  for (const gid_t g : groups) {
    if (g == group) return true;
  }
  return false;
}

}  // namespace

Result<PeerCredentials> peer_credentials(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return Error{std::string("getsockopt(SO_PEERCRED): ") + std::strerror(errno)};
  }
  return PeerCredentials{cred.pid, cred.uid, cred.gid};
}

Result<CallerPolicy> CallerPolicy::with_group(const std::string& group) {
  for (std::size_t size = 16384; size <= (1u << 20); size *= 4) {
    std::vector<char> buffer(size);
    ::group entry{};
    ::group* found = nullptr;
    const int rc = ::getgrnam_r(group.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (rc == ERANGE) continue;  // a group with many members: a larger buffer
    if (rc != 0 || found == nullptr) break;
    CallerPolicy policy;
    policy.group_ = entry.gr_gid;
    policy.group_name_ = group;
    return policy;
  }
  return Error{"group \"" + group + "\" does not exist"};
}

Status CallerPolicy::admit(const PeerCredentials& caller) const {
  if (caller.uid == 0 || caller.uid == ::geteuid()) return ok_status();
  if (group_ && in_group(caller.uid, caller.gid, *group_)) return ok_status();
  return Error{"uid " + std::to_string(caller.uid) + " (pid " + std::to_string(caller.pid) +
               ") is neither root" +
               (group_ ? " nor in group " + group_name_ : std::string(" nor this server's user"))};
}

Status CallerPolicy::admit_peer(int fd) const {
  auto caller = peer_credentials(fd);
  if (!caller) return caller.error();
  return admit(*caller);
}

}  // namespace sluice::control

#include "sluice/control/unix_socket.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "sluice/control/deadline.hpp"

namespace sluice::control {
namespace {

std::string errno_text(int err) {
  return std::strerror(err);
}

Result<sockaddr_un> make_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return Error{"socket path \"" + path + "\" must be 1.." +
                 std::to_string(sizeof(addr.sun_path) - 1) + " bytes"};
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

Result<UniqueFd> new_socket() {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return Error{"socket(AF_UNIX): " + errno_text(errno)};
  return fd;
}

// True when something accepts connections at `addr` right now.
bool someone_listens(const sockaddr_un& addr) {
  auto fd = new_socket();
  if (!fd) return false;
  const int rc = ::connect(fd->get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  return rc == 0 || errno == EAGAIN;  // EAGAIN: alive but its backlog is full
}

}  // namespace

Result<UniqueFd> listen_unix(const std::string& path, const ListenOptions& options) {
  auto addr = make_address(path);
  if (!addr) return addr.error();

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Error{"cannot listen on " + path + ": a file that is not a socket is in the way"};
    }
    if (someone_listens(*addr)) {
      return Error{"cannot listen on " + path + ": another process is listening on it"};
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Error{"cannot remove stale socket " + path + ": " + errno_text(errno)};
    }
  }

  auto fd = new_socket();
  if (!fd) return fd.error();
  if (::bind(fd->get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0) {
    return Error{"cannot bind " + path + ": " + errno_text(errno)};
  }
  // Nobody can connect before listen(), so the permissions are in force from the first client.
  const auto undo = [&](const std::string& what) -> Result<UniqueFd> {
    const std::string why = errno_text(errno);
    ::unlink(path.c_str());
    return Error{"cannot " + what + " " + path + ": " + why};
  };
  if (options.group && ::chown(path.c_str(), static_cast<uid_t>(-1), *options.group) != 0) {
    return undo("chown");
  }
  if (::chmod(path.c_str(), options.mode) != 0) return undo("chmod");
  if (::listen(fd->get(), options.backlog) != 0) return undo("listen on");
  return fd;
}

Result<UniqueFd> listen_unix(const std::string& path, mode_t mode) {
  ListenOptions options;
  options.mode = mode;
  return listen_unix(path, options);
}

Result<UniqueFd> accept_unix(int listen_fd) {
  for (;;) {
    UniqueFd fd(::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (fd) return fd;
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Error{"would block"};
    return Error{"accept: " + errno_text(errno)};
  }
}

Result<UniqueFd> connect_unix(const std::string& path, std::chrono::milliseconds timeout) {
  auto addr = make_address(path);
  if (!addr) return addr.error();
  const Deadline deadline(timeout);
  for (;;) {
    auto fd = new_socket();
    if (!fd) return fd.error();
    if (::connect(fd->get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) == 0) {
      return fd;
    }
    const int err = errno;
    // A Unix socket connects at once or not at all; EAGAIN means the server's backlog is
    // full, so try again until the deadline.
    if ((err != EAGAIN && err != EINTR) || deadline.expired()) {
      return Error{"cannot connect to " + path + ": " + errno_text(err)};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace sluice::control

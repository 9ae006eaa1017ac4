// A Unix-socket client that sends raw bytes, for what sluicectl never sends: malformed,
// oversized, slow and idle requests. Non-blocking descriptor, poll() for every wait.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <string_view>

#include "sluice/unique_fd.hpp"

namespace sluice::cp::testing {

class RawClient {
 public:
  using Clock = std::chrono::steady_clock;

  // A socket, not connected yet (so that a test can hold the descriptor before it lowers
  // RLIMIT_NOFILE and connect later).
  RawClient() : fd_(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) {}
  explicit RawClient(const std::string& path) : RawClient() { connect(path); }

  // True when connected; false when the listen queue is full (EAGAIN) or the connect failed.
  bool connect(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    connected_ = fd_.valid() &&
                 ::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    return connected_;
  }
  // Connects, trying again while the listen queue is full (the server accepts a little later).
  bool connect_retrying(const std::string& path, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!connect(path) && errno == EAGAIN && Clock::now() < deadline) {
      fd_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      ::usleep(1000);
    }
    return connected_;
  }
  [[nodiscard]] bool connected() const { return connected_; }
  [[nodiscard]] int fd() const { return fd_.get(); }

  // Sends everything (false when the peer is gone).
  bool send(std::string_view bytes, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = Clock::now() + timeout;
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno != EAGAIN) return false;
      if (!wait(POLLOUT, deadline)) return false;
    }
    return true;
  }

  // Reads until the peer closes (EOF or reset) or the timeout; what arrived.
  std::string read_until_closed(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::string out;
    closed_ = false;
    for (;;) {
      char buffer[4096];
      const ssize_t n = ::recv(fd_.get(), buffer, sizeof buffer, 0);
      if (n > 0) {
        out.append(buffer, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        closed_ = true;
        return out;
      }
      if (!wait(POLLIN, deadline)) return out;
    }
  }
  // Whether the last read_until_closed() saw the peer close.
  [[nodiscard]] bool closed() const { return closed_; }

  // Without waiting: has the peer closed (pending data is discarded)?
  bool peer_closed_now() {
    read_until_closed(std::chrono::milliseconds(0));
    return closed_;
  }

 private:
  bool wait(short events, Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left < 0) return false;
    pollfd p{fd_.get(), events, 0};
    return ::poll(&p, 1, static_cast<int>(left)) > 0;
  }

  UniqueFd fd_;
  bool connected_ = false;
  bool closed_ = false;
};

// The status line of an HTTP answer ("HTTP/1.1 400 Bad Request"), or "" when there is none.
inline std::string status_line(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

}  // namespace sluice::cp::testing

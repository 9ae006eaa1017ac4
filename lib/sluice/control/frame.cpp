#include "sluice/control/frame.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "sluice/config/strict_json.hpp"
#include "sluice/control/deadline.hpp"

namespace sluice::control {
namespace {

using nlohmann::json;

std::string errno_text(int err) {
  return std::strerror(err);
}

std::string timeout_text(std::chrono::milliseconds timeout) {
  return "timed out after " + std::to_string(timeout.count()) + " ms";
}

// Waits until fd is readable/writable or the deadline passes. false: timed out or error.
Status wait_for(int fd, short events, const Deadline& deadline, std::chrono::milliseconds timeout) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, deadline.poll_timeout_ms());
    if (rc > 0) return ok_status();  // ready, or an error/hangup the next call will report
    if (rc == 0) return Error{timeout_text(timeout)};
    if (errno != EINTR) return Error{"poll: " + errno_text(errno)};
  }
}

// Reads exactly `size` bytes. A clean close before the first byte of a frame (frame_started
// false) sets eof_at_start instead of failing.
Status read_exact(int fd, char* data, std::size_t size, const Deadline& deadline,
                  std::chrono::milliseconds timeout, bool& eof_at_start, bool frame_started) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::recv(fd, data + done, size - done, MSG_DONTWAIT);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0) {
      if (done == 0 && !frame_started) {
        eof_at_start = true;
        return ok_status();
      }
      return Error{"connection closed in the middle of a frame"};
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return Error{"recv: " + errno_text(errno)};
    if (auto ready = wait_for(fd, POLLIN, deadline, timeout); !ready) {
      return Error{ready.error().message + " waiting for " +
                   (done == 0 && !frame_started ? "a frame" : "the rest of a frame")};
    }
  }
  return ok_status();
}

}  // namespace

std::string encode_frame_header(std::uint32_t length) {
  return std::string{static_cast<char>(length >> 24), static_cast<char>(length >> 16),
                     static_cast<char>(length >> 8), static_cast<char>(length)};
}

std::uint32_t decode_frame_header(const unsigned char* h) {
  return (std::uint32_t{h[0]} << 24) | (std::uint32_t{h[1]} << 16) | (std::uint32_t{h[2]} << 8) |
         std::uint32_t{h[3]};
}

Status write_frame_bytes(int fd, std::string_view payload, std::chrono::milliseconds timeout) {
  if (payload.empty()) return Error{"refusing to send an empty frame"};
  if (payload.size() > kMaxFrameBytes) {
    return Error{"frame of " + std::to_string(payload.size()) + " bytes exceeds the limit of " +
                 std::to_string(kMaxFrameBytes) + " bytes"};
  }
  const std::string header = encode_frame_header(static_cast<std::uint32_t>(payload.size()));
  const std::size_t total = header.size() + payload.size();
  const Deadline deadline(timeout);
  std::size_t sent = 0;
  while (sent < total) {
    iovec iov[2];
    int count = 0;
    if (sent < header.size()) {
      iov[count++] = {const_cast<char*>(header.data() + sent), header.size() - sent};
      iov[count++] = {const_cast<char*>(payload.data()), payload.size()};
    } else {
      const std::size_t off = sent - header.size();
      iov[count++] = {const_cast<char*>(payload.data() + off), payload.size() - off};
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<std::size_t>(count);
    const ssize_t n = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      return Error{"send: " + errno_text(errno)};
    }
    if (auto ready = wait_for(fd, POLLOUT, deadline, timeout); !ready) {
      return Error{ready.error().message + " sending a frame (" + std::to_string(sent) + " of " +
                   std::to_string(total) + " bytes sent)"};
    }
  }
  return ok_status();
}

Status write_frame(int fd, const json& body, std::chrono::milliseconds timeout) {
  return write_frame_bytes(fd, body.dump(-1, ' ', false, json::error_handler_t::replace), timeout);
}

Result<std::optional<json>> read_frame_or_eof(int fd, std::chrono::milliseconds timeout) {
  const Deadline deadline(timeout);
  unsigned char header[kFrameHeaderBytes];
  bool eof = false;
  if (auto got = read_exact(fd, reinterpret_cast<char*>(header), sizeof header, deadline, timeout,
                            eof, false);
      !got) {
    return got.error();
  }
  if (eof) return std::optional<json>{};

  const std::uint32_t length = decode_frame_header(header);
  if (length == 0) return Error{"received an empty frame"};
  if (length > kMaxFrameBytes) {
    return Error{"received a frame of " + std::to_string(length) + " bytes, above the limit of " +
                 std::to_string(kMaxFrameBytes) + " bytes"};
  }
  // Grow with what actually arrives: a bare header must not make us allocate 64 MiB.
  constexpr std::size_t kChunkBytes = 1u << 20;
  std::string body;
  while (body.size() < length) {
    const std::size_t old_size = body.size();
    const std::size_t chunk = std::min<std::size_t>(kChunkBytes, length - old_size);
    body.resize(old_size + chunk);
    if (auto got = read_exact(fd, body.data() + old_size, chunk, deadline, timeout, eof, true);
        !got) {
      return got.error();
    }
  }
  auto parsed = parse_frame_payload(body);
  if (!parsed) return parsed.error();
  return std::optional<json>(std::move(parsed).value());
}

Result<json> parse_frame_payload(std::string_view payload) {
  Result<json> parsed = config::parse_strict_json(payload, "frame");
  if (!parsed) return parsed.error();
  if (!parsed->is_object()) return Error{"frame is not a JSON object"};
  return parsed;
}

Result<json> read_frame(int fd, std::chrono::milliseconds timeout) {
  auto got = read_frame_or_eof(fd, timeout);
  if (!got) return got.error();
  if (!got->has_value()) return Error{"connection closed by peer"};
  return std::move(**got);
}

}  // namespace sluice::control

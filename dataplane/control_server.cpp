#include "control_server.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "sluice/control/caller_policy.hpp"
#include "sluice/control/frame.hpp"
#include "sluice/control/messages.hpp"
#include "sluice/control/unix_socket.hpp"

namespace sluice::dataplane {
namespace {

using Clock = std::chrono::steady_clock;

// Bytes read from one connection per turn: a big push_state frame is read in several turns,
// so the other connections are served between them.
constexpr std::size_t kReadBudgetBytes = 1u << 20;
// Pipelined requests answered per connection and turn, for the same reason.
constexpr std::size_t kRequestsPerTurn = 16;
// After accept() fails (descriptors exhausted), the listener is left alone this long instead
// of being polled (it stays readable: polling it would spin).
constexpr std::chrono::milliseconds kAcceptPause{100};
constexpr std::chrono::seconds kAcceptErrorLogInterval{1};

long long ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

bool idle(const auto& c) {
  return c.out.empty() && c.in.buffered() == 0;
}

}  // namespace

Result<std::unique_ptr<ControlServer>> ControlServer::listen(const std::string& path,
                                                             Handler handler,
                                                             ControlServerLimits limits) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) return Error{"cannot create " + parent.string() + ": " + ec.message()};
  }
  auto listener = control::listen_unix(path, 0600);
  if (!listener) return Error{"control socket " + path + ": " + listener.error().message};
  return std::unique_ptr<ControlServer>(
      new ControlServer(path, std::move(listener.value()), std::move(handler), limits));
}

ControlServer::~ControlServer() {
  connections_.clear();
  listener_.reset();
  ::unlink(path_.c_str());
}

int ControlServer::poll_timeout_ms(std::chrono::milliseconds timeout, Clock::time_point now) const {
  Clock::time_point wake = now + timeout;
  for (const auto& c : connections_) {
    if (c->backlog && c->out.empty()) return 0;
    if (c->frame_started) wake = std::min(wake, *c->frame_started + limits_.frame_deadline);
    if (c->reply_started) wake = std::min(wake, *c->reply_started + limits_.frame_deadline);
    if (idle(*c)) wake = std::min(wake, c->last_activity + limits_.idle_timeout);
  }
  if (accept_paused_until > now) wake = std::min(wake, accept_paused_until);
  if (wake <= now) return 0;
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(wake - now).count());
}

void ControlServer::poll(std::chrono::milliseconds timeout) {
  const bool accepting = Clock::now() >= accept_paused_until;
  std::vector<pollfd> fds;
  fds.reserve(connections_.size() + 1);
  fds.push_back({accepting ? listener_.get() : -1, POLLIN, 0});
  for (const auto& c : connections_) {
    // A connection with a reply pending is not read: it only holds up itself.
    fds.push_back({c->fd.get(), static_cast<short>(c->out.empty() ? POLLIN : POLLOUT), 0});
  }
  const int ready = ::poll(fds.data(), fds.size(), poll_timeout_ms(timeout, Clock::now()));
  if (ready < 0 && errno != EINTR) {
    spdlog::error("control socket: poll: {}", std::strerror(errno));
    return;
  }
  if (ready > 0) {
    // Indices stay valid: connections are only removed at the end, new ones appended after.
    const std::size_t count = connections_.size();
    for (std::size_t i = 0; i < count; ++i) {
      Connection& c = *connections_[i];
      const short ev = fds[i + 1].revents;
      if (ev == 0 || c.closed) continue;
      if (!c.out.empty()) {
        send_pending(c);                            // POLLOUT, or an error the send reports
        if (!c.closed && c.out.empty()) answer(c);  // a pipelined request may be waiting
      } else if ((ev & (POLLIN | POLLHUP | POLLERR)) != 0) {
        receive(c);
      } else if ((ev & POLLNVAL) != 0) {
        close(c, "invalid descriptor", true);
      }
    }
    if ((fds[0].revents & POLLIN) != 0) accept_pending();
  }
  for (const auto& c : connections_) {
    if (c->backlog && !c->closed && c->out.empty()) answer(*c);
  }
  expire(Clock::now());
  std::erase_if(connections_, [](const auto& c) { return c->closed; });
}

void ControlServer::accept_pending() {
  for (;;) {
    auto accepted = control::accept_unix(listener_.get());
    if (!accepted) {
      if (accepted.error().message == "would block") return;
      const auto now = Clock::now();
      accept_paused_until = now + kAcceptPause;
      if (now - last_accept_error_log >= kAcceptErrorLogInterval) {
        last_accept_error_log = now;
        spdlog::error("control socket: {}; not accepting for {} ms", accepted.error().message,
                      kAcceptPause.count());
      }
      return;
    }
    UniqueFd fd = std::move(accepted.value());
    auto caller = control::peer_credentials(fd.get());
    const Status admitted =
        caller ? control::CallerPolicy{}.admit(*caller) : Status{caller.error()};
    if (!admitted) {
      spdlog::warn("control socket: refusing a client: {}", admitted.error().message);
      continue;
    }
    auto c = std::make_unique<Connection>();
    c->peer = "uid " + std::to_string(caller->uid) + " pid " + std::to_string(caller->pid);
    c->fd = std::move(fd);
    c->last_activity = Clock::now();
    make_room(c->peer);
    connections_.push_back(std::move(c));
  }
}

void ControlServer::make_room(const std::string& newcomer) {
  std::size_t open = 0;
  for (const auto& c : connections_)
    open += c->closed ? 0 : 1;
  if (open < limits_.max_clients) return;
  // The connection that did something longest ago, whatever it is doing (ties: the oldest).
  Connection* victim = nullptr;
  for (const auto& c : connections_) {
    if (!c->closed && (victim == nullptr || c->last_activity < victim->last_activity)) {
      victim = c.get();
    }
  }
  if (victim == nullptr) return;
  spdlog::warn(
      "control socket: {} clients connected: closing the connection idle longest ({}, last "
      "active {} ms ago) to admit {}",
      open, victim->peer, ms_between(victim->last_activity, Clock::now()), newcomer);
  close(*victim, "", false);
}

void ControlServer::receive(Connection& c) {
  static std::array<char, 64 * 1024> buffer;  // control thread only
  std::size_t budget = kReadBudgetBytes;
  while (budget > 0) {
    const ssize_t n = ::recv(c.fd.get(), buffer.data(), std::min(buffer.size(), budget), 0);
    if (n > 0) {
      const auto now = Clock::now();
      if (!c.in.partial() && !c.frame_started) c.frame_started = now;
      c.in.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
      c.last_activity = now;
      budget -= static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0) {
      if (c.in.partial()) {
        close(c,
              "closed by the peer in the middle of a frame (" + std::to_string(c.in.buffered()) +
                  " bytes received)",
              true);
      } else {
        // Requests sent before the peer shut down its side still get their replies.
        c.peer_done = true;
        answer(c);
      }
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    close(c, std::string("recv: ") + std::strerror(errno), true);
    return;
  }
  answer(c);
}

void ControlServer::answer(Connection& c) {
  c.backlog = false;
  for (std::size_t answered = 0; !c.closed && c.out.empty(); ++answered) {
    if (answered == kRequestsPerTurn) {
      c.backlog = true;  // more pipelined requests: the next turn, after the others
      return;
    }
    auto next = c.in.next();
    if (!next) {
      spdlog::warn("control socket: {}: {}; closing the connection", c.peer, next.error().message);
      c.close_after_reply = true;
      queue_reply(c, control::error_reply(next.error().message));
      return;
    }
    if (!next->has_value()) break;
    const auto started = Clock::now();
    nlohmann::json reply;
    if (auto request = control::parse_frame_payload(**next); !request) {
      spdlog::warn("control socket: {}: {}; closing the connection", c.peer,
                   request.error().message);
      c.close_after_reply = true;
      reply = control::error_reply(request.error().message);
    } else {
      try {
        reply = handler_(*request);
      } catch (const std::exception& e) {  // a bug in a handler must not take the process down
        reply = control::error_reply(std::string("internal error: ") + e.what());
      }
    }
    const auto done = Clock::now();
    credit_others(c, done - started);
    c.last_activity = done;
    queue_reply(c, reply);
  }
  if (!c.in.partial()) c.frame_started.reset();
  if (c.peer_done && c.out.empty()) close(c, "", false);
}

void ControlServer::queue_reply(Connection& c, const nlohmann::json& reply) {
  std::string payload = reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (payload.size() > control::kMaxFrameBytes) {
    payload = control::error_reply("the reply (" + std::to_string(payload.size()) +
                                   " bytes) exceeds the frame limit")
                  .dump();
  }
  c.out = control::encode_frame_header(static_cast<std::uint32_t>(payload.size()));
  c.out += payload;
  c.out_sent = 0;
  c.reply_started = Clock::now();
  send_pending(c);
}

void ControlServer::send_pending(Connection& c) {
  while (c.out_sent < c.out.size()) {
    const ssize_t n = ::send(c.fd.get(), c.out.data() + c.out_sent, c.out.size() - c.out_sent,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      c.out_sent += static_cast<std::size_t>(n);
      c.last_activity = Clock::now();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // wait for POLLOUT
    // The peer went away without reading its reply: nothing to report to anyone.
    close(c, "", false);
    return;
  }
  c.out.clear();
  c.out_sent = 0;
  c.reply_started.reset();
  if (c.close_after_reply) close(c, "", false);
}

void ControlServer::close(Connection& c, const std::string& why, bool warn) {
  if (c.closed) return;
  if (!why.empty()) {
    if (warn) {
      spdlog::warn("control socket: closing the connection of {}: {}", c.peer, why);
    } else {
      spdlog::info("control socket: closing the connection of {}: {}", c.peer, why);
    }
  }
  c.closed = true;
  c.fd.reset();
}

void ControlServer::expire(Clock::time_point now) {
  for (const auto& p : connections_) {
    Connection& c = *p;
    if (c.closed) continue;
    if (c.frame_started && now - *c.frame_started >= limits_.frame_deadline) {
      close(c,
            "frame not complete within " + std::to_string(limits_.frame_deadline.count()) +
                " ms (" + std::to_string(c.in.buffered()) + " bytes received)",
            true);
    } else if (c.reply_started && now - *c.reply_started >= limits_.frame_deadline) {
      close(c,
            "reply not read within " + std::to_string(limits_.frame_deadline.count()) + " ms (" +
                std::to_string(c.out_sent) + " of " + std::to_string(c.out.size()) + " bytes sent)",
            true);
    } else if (idle(c) && now - c.last_activity >= limits_.idle_timeout) {
      close(c,
            "idle for " + std::to_string(ms_between(c.last_activity, now)) + " ms (idle timeout " +
                std::to_string(limits_.idle_timeout.count()) + " ms)",
            false);
    }
  }
}

void ControlServer::credit_others(const Connection& busy, Clock::duration spent) {
  for (const auto& p : connections_) {
    Connection& c = *p;
    if (&c == &busy || c.closed) continue;
    c.last_activity += spent;
    if (c.frame_started) *c.frame_started += spent;
    if (c.reply_started) *c.reply_started += spent;
  }
}

}  // namespace sluice::dataplane

// The dataplane's Unix control socket: length-prefixed JSON frames (lib/sluice/control), one
// request -> one reply, served from the control thread without ever waiting for a client.
//
// Every connection is non-blocking: its bytes are assembled into frames as they arrive
// (control::FrameAssembler) and its replies are sent as its peer reads them, so a client that
// sends half a frame, stops reading, or just sits there delays nobody else's request. Limits:
//   - a frame must arrive within `frame_deadline` of its first byte, and a reply must be read
//     within `frame_deadline` of being queued; otherwise that connection is closed;
//   - a connection with nothing in flight for `idle_timeout` is closed;
//   - at most `max_clients` connections: a new one then closes the connection idle longest
//     (never refused), so a restarted control plane always gets in.
// Time the control thread spends on one client's request (a push_state builds Maglev tables)
// is not counted against the others' deadlines. Callers are checked with SO_PEERCRED
// (control::CallerPolicy). The socket file is created with mode 0600 (its directory is created
// if missing) and removed on destruction.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "control_limits.hpp"
#include "sluice/control/frame_assembler.hpp"
#include "sluice/result.hpp"
#include "sluice/unique_fd.hpp"

namespace sluice::dataplane {

struct ControlServerLimits {
  std::chrono::milliseconds frame_deadline = kFrameDeadline;
  std::chrono::milliseconds idle_timeout = kDefaultControlIdleTimeout;
  std::size_t max_clients = kMaxControlClients;
};

class ControlServer {
 public:
  // Turns one request object into one reply object ({"ok": ...}); never throws.
  using Handler = std::function<nlohmann::json(const nlohmann::json& request)>;

  [[nodiscard]] static Result<std::unique_ptr<ControlServer>> listen(
      const std::string& path, Handler handler, ControlServerLimits limits = {});
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;
  ~ControlServer();

  // Waits at most `timeout` for an event, then accepts, reads, answers and writes what is
  // ready and closes connections past a deadline. Call it in a loop.
  void poll(std::chrono::milliseconds timeout);

  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::size_t connections() const { return connections_.size(); }

 private:
  using Clock = std::chrono::steady_clock;
  struct Connection {
    UniqueFd fd;
    std::string peer;  // "uid 0 pid 4242", for logs
    control::FrameAssembler in;
    std::string out;  // the reply being sent (header + payload)
    std::size_t out_sent = 0;
    Clock::time_point last_activity;
    std::optional<Clock::time_point> frame_started;  // first byte of the partial frame in
    std::optional<Clock::time_point> reply_started;  // reply queued, not yet all read
    bool close_after_reply = false;                  // a framing error was answered
    bool peer_done = false;                          // the peer shut down its sending side
    bool backlog = false;  // complete requests left for the next turn (kRequestsPerTurn)
    bool closed = false;
  };

  ControlServer(std::string path, UniqueFd listener, Handler handler, ControlServerLimits limits)
      : path_(std::move(path)),
        listener_(std::move(listener)),
        handler_(std::move(handler)),
        limits_(limits) {}

  void accept_pending();
  void make_room(const std::string& newcomer);
  void receive(Connection& c);
  // Answers the complete frames received, one at a time, while no reply is pending.
  void answer(Connection& c);
  void queue_reply(Connection& c, const nlohmann::json& reply);
  void send_pending(Connection& c);
  void close(Connection& c, const std::string& why, bool warn);
  void expire(Clock::time_point now);
  // Moves every other connection's clocks forward by the time spent on `busy`'s request.
  void credit_others(const Connection& busy, Clock::duration spent);
  [[nodiscard]] int poll_timeout_ms(std::chrono::milliseconds timeout, Clock::time_point now) const;

  std::string path_;
  UniqueFd listener_;
  Handler handler_;
  ControlServerLimits limits_;
  std::vector<std::unique_ptr<Connection>> connections_;  // in order of acceptance
  Clock::time_point accept_paused_until{};                // after accept() failed (EMFILE)
  Clock::time_point last_accept_error_log{};
};

}  // namespace sluice::dataplane

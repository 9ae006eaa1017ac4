// A stand-in for sluice-dataplane's control socket: speaks the real protocol (lib/sluice/control),
// records every pushed state with the time it arrived, serves configurable counters, and can
// "restart" (generation back to 0, uptime reset, connections dropped) or go away.
#pragma once

#include <poll.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "sluice/control/frame.hpp"
#include "sluice/control/messages.hpp"
#include "sluice/control/unix_socket.hpp"

namespace sluice::cp::testing {

struct Push {
  config::State state;
  std::chrono::steady_clock::time_point at;
};

class FakeDataplane {
 public:
  explicit FakeDataplane(std::string socket_path) : path_(std::move(socket_path)) { start(); }
  ~FakeDataplane() { stop(); }

  void start() {
    Result<UniqueFd> fd = control::listen_unix(path_, 0600);
    if (!fd.ok()) throw std::runtime_error(fd.error().message);
    listen_ = std::move(fd.value());
    running_ = true;
    started_ = std::chrono::steady_clock::now();
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  // Closes the socket and every connection (the process "died").
  void stop() {
    if (!running_) return;
    running_ = false;
    acceptor_.join();
    for (std::thread& t : connections_)
      t.join();
    connections_.clear();
    listen_.reset();
    ::unlink(path_.c_str());
  }

  // A restart: gone, then back with nothing loaded.
  void restart() {
    stop();
    {
      std::lock_guard lock(mutex_);
      generation_ = 0;
      running_state_ = {};
    }
    start();
  }

  // A state pushed by someone else (another controller, an operator): runs it without
  // recording it as a push.
  void inject(const config::State& state) {
    std::lock_guard lock(mutex_);
    generation_ = state.generation;
    running_state_ = state;
  }
  [[nodiscard]] config::State running_state() const {
    std::lock_guard lock(mutex_);
    return running_state_;
  }

  void set_counters(control::Counters counters) {
    std::lock_guard lock(mutex_);
    counters_ = std::move(counters);
  }
  void set_explain(control::ExplainResult result) {
    std::lock_guard lock(mutex_);
    explain_ = std::move(result);
  }

  [[nodiscard]] std::vector<Push> pushes() const {
    std::lock_guard lock(mutex_);
    return pushes_;
  }
  [[nodiscard]] std::uint64_t generation() const {
    std::lock_guard lock(mutex_);
    return generation_;
  }

  // Waits until a pushed state satisfies `predicate`; returns it (nullopt on timeout).
  std::optional<Push> wait_for_push(const std::function<bool(const config::State&)>& predicate,
                                    std::chrono::milliseconds timeout, std::size_t from_index = 0) {
    std::unique_lock lock(mutex_);
    std::optional<Push> found;
    pushed_.wait_for(lock, timeout, [&] {
      for (std::size_t i = from_index; i < pushes_.size(); ++i) {
        if (predicate(pushes_[i].state)) {
          found = pushes_[i];
          return true;
        }
      }
      return false;
    });
    return found;
  }

 private:
  void accept_loop() {
    while (running_) {
      pollfd p{listen_.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      Result<UniqueFd> conn = control::accept_unix(listen_.get());
      if (!conn.ok()) continue;
      auto fd = std::make_shared<UniqueFd>(std::move(conn.value()));
      connections_.emplace_back([this, fd] { serve(fd->get()); });
    }
  }

  void serve(int fd) {
    while (running_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      Result<std::optional<nlohmann::json>> frame =
          control::read_frame_or_eof(fd, std::chrono::milliseconds(2000));
      if (!frame.ok() || !frame.value().has_value()) return;
      const nlohmann::json reply = handle(**frame);
      if (!control::write_frame(fd, reply, std::chrono::milliseconds(2000)).ok()) return;
    }
  }

  nlohmann::json handle(const nlohmann::json& request) {
    Result<control::Request> parsed = control::parse_request(request);
    if (!parsed.ok()) return control::error_reply(parsed.error().message);
    std::lock_guard lock(mutex_);
    if (auto* push = std::get_if<control::PushStateRequest>(&*parsed)) {
      if (push->state.generation <= generation_) {
        return control::error_reply("generation: " + std::to_string(push->state.generation) +
                                    " is not newer than the running generation " +
                                    std::to_string(generation_));
      }
      generation_ = push->state.generation;
      running_state_ = push->state;
      pushes_.push_back(Push{push->state, std::chrono::steady_clock::now()});
      pushed_.notify_all();
      return control::ok_reply(control::to_json(control::PushStateReply{generation_}));
    }
    if (std::holds_alternative<control::GetStatusRequest>(*parsed)) {
      control::DataplaneStatus status;
      status.version = "fake";
      status.generation = generation_;
      status.uptime_ms =
          static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - started_)
                                         .count());
      return control::ok_reply(control::to_json(status));
    }
    if (std::holds_alternative<control::GetCountersRequest>(*parsed)) {
      control::Counters c = counters_;
      c.generation = generation_;
      return control::ok_reply(control::to_json(c));
    }
    return control::ok_reply(control::to_json(explain_));
  }

  std::string path_;
  UniqueFd listen_;
  std::atomic<bool> running_{false};
  std::thread acceptor_;
  std::vector<std::thread> connections_;
  std::chrono::steady_clock::time_point started_;

  mutable std::mutex mutex_;
  std::condition_variable pushed_;
  std::uint64_t generation_ = 0;
  config::State running_state_;
  std::vector<Push> pushes_;
  control::Counters counters_;
  control::ExplainResult explain_;
};

}  // namespace sluice::cp::testing

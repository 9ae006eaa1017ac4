// The one asio thread of a set of timer-driven checks (HealthMonitor, AgentMonitor): each
// target has a timer and at most one check in flight, all on this thread.
#pragma once

#include <functional>
#include <thread>
#include <utility>

#include "common/asio.hpp"

namespace sluice::cp {

class CheckThread {
 public:
  CheckThread() : work_(asio::make_work_guard(io_)) {
    // The io_context opens its epoll and eventfd descriptors with its first I/O object: do it
    // now, so that a later shortage of descriptors fails a check (a local error), not the thread.
    asio::steady_timer create_reactor_now(io_);
  }
  CheckThread(const CheckThread&) = delete;
  CheckThread& operator=(const CheckThread&) = delete;

  [[nodiscard]] asio::io_context& io() { return io_; }

  void start() {
    thread_ = std::thread([this] { io_.run(); });
  }

  // Runs `cancel` on the thread (it stops the targets' timers); run() then returns once the
  // checks in flight have finished, each within its timeout. Idempotent.
  void stop(std::function<void()> cancel) {
    if (!thread_.joinable()) return;
    asio::post(io_, [this, cancel = std::move(cancel)] {
      cancel();
      work_.reset();
    });
    thread_.join();
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

// The usual `cancel` for CheckThread::stop: every target (shared_ptr with `stopped` and
// `timer`) marked stopped, its timer cancelled, the map emptied.
template <typename Targets>
void cancel_targets(Targets& targets) {
  for (auto& [key, target] : targets) {
    target->stopped = true;
    target->timer.cancel();
  }
  targets.clear();
}

}  // namespace sluice::cp

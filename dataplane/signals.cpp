#include "signals.hpp"

#include <atomic>
#include <csignal>

namespace sluice::dataplane {
namespace {

std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "used from a signal handler");

extern "C" void on_stop_signal(int signo) {
  g_stop_signal.store(signo, std::memory_order_relaxed);
}

}  // namespace

void install_stop_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

bool stop_requested() {
  return g_stop_signal.load(std::memory_order_relaxed) != 0;
}
int stop_signal() {
  return g_stop_signal.load(std::memory_order_relaxed);
}

}  // namespace sluice::dataplane

// SIGINT/SIGTERM request a clean shutdown: the handler only sets a lock-free flag that the
// control thread polls.
#pragma once

namespace sluice::dataplane {

// Installs the handlers (idempotent).
void install_stop_signal_handlers();
[[nodiscard]] bool stop_requested();
// The signal that asked to stop (0 when none): logged at shutdown.
[[nodiscard]] int stop_signal();

}  // namespace sluice::dataplane

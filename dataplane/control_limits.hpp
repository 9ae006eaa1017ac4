// Limits of the dataplane's control socket (control_server.hpp), defined once for the server,
// its command-line option and the docs (dataplane/README.md, "Control socket").
#pragma once

#include <chrono>
#include <cstddef>

namespace sluice::dataplane {

// A request frame must arrive within this long of its first byte, and a reply must be read
// within this long of being queued.
inline constexpr std::chrono::milliseconds kFrameDeadline{5000};
// A connection with nothing in flight is closed after this long (--control-idle-timeout).
inline constexpr std::chrono::seconds kDefaultControlIdleTimeout{60};
// Connections kept at once; one more closes the connection idle longest.
inline constexpr std::size_t kMaxControlClients = 64;

}  // namespace sluice::dataplane

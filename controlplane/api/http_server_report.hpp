// What an HttpServer reports about its connections (metrics: sluice_http_*).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sluice::cp {

struct HttpServerReport {
  std::string name;      // "api", "metrics"
  std::size_t open = 0;  // connections now
  std::size_t limit = 0;
  // Since start:
  std::uint64_t accepted = 0;
  std::uint64_t accept_errors = 0;
  std::uint64_t refused_callers = 0;   // 403 (SO_PEERCRED)
  std::uint64_t idle_timeouts = 0;     // closed: no request began in time
  std::uint64_t request_timeouts = 0;  // 408
  std::uint64_t write_timeouts = 0;    // closed: the response was not taken in time
  std::uint64_t closed_for_room = 0;   // closed to make room for a new connection
  std::uint64_t bad_requests = 0;      // 400, 413, 431
};

}  // namespace sluice::cp

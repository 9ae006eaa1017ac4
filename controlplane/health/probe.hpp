// One health probe of one backend: TCP connect, HTTP or HTTPS GET, UDP request/reply. Probes
// are asynchronous on the caller's io_context (thousands in flight on one thread) and always
// complete exactly once, within the timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "common/asio.hpp"
#include "health/health_table.hpp"
#include "sluice/config/model.hpp"
#include "sluice/ip_address.hpp"

namespace sluice::cp {

struct ProbeSpec {
  IpAddress address;
  std::uint16_t port = 0;
  config::HealthCheck check;  // type, path, host, expectations
  std::chrono::milliseconds timeout{1000};
};

// "198.18.1.1:80 GET /healthz", for logs and the health view.
[[nodiscard]] std::string describe(const ProbeSpec& spec);

using ProbeDone = std::function<void(ProbeOutcome)>;

// `tls` is used by HTTPS probes only (certificates are not verified: a health check asks
// "does it answer", it is not a trust decision).
void start_probe(asio::io_context& io, asio::ssl::context& tls, const ProbeSpec& spec,
                 ProbeDone done);

}  // namespace sluice::cp

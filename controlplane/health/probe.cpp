#include "health/probe.hpp"

#include <fmt/format.h>

#include "health/probe_session.hpp"
#include "sluice/config/names.hpp"

namespace sluice::cp {

std::string describe(const ProbeSpec& spec) {
  // fmt rather than operator+: GCC 12 reports a false -Wrestrict on the chained concatenation.
  const std::string address = spec.address.to_string();
  const std::string_view type = config::to_string(spec.check.type);
  std::string out = spec.address.is_v6() ? fmt::format("{} [{}]:{}", type, address, spec.port)
                                         : fmt::format("{} {}:{}", type, address, spec.port);
  if (spec.check.type == config::HealthCheckType::http ||
      spec.check.type == config::HealthCheckType::https) {
    out += fmt::format(" GET {} expect {}", spec.check.http_path, spec.check.expect_status);
  }
  return out;
}

void start_probe(asio::io_context& io, asio::ssl::context& tls, const ProbeSpec& spec,
                 ProbeDone done) {
  if (spec.port == 0) {
    // The VIP listens on any port and the check names none: nothing sensible to probe.
    asio::post(io, [done = std::move(done)] {
      done(ProbeOutcome{false, {}, "no port to probe: set health_check.port"});
    });
    return;
  }
  switch (spec.check.type) {
    case config::HealthCheckType::tcp:
      return start_tcp_probe(io, spec, std::move(done));
    case config::HealthCheckType::http:
      return start_http_probe(io, nullptr, spec, std::move(done));
    case config::HealthCheckType::https:
      return start_http_probe(io, &tls, spec, std::move(done));
    case config::HealthCheckType::udp:
      return start_udp_probe(io, spec, std::move(done));
    case config::HealthCheckType::none:
      break;
  }
  asio::post(io, [done = std::move(done)] { done(ProbeOutcome{true, {}, "no check"}); });
}

}  // namespace sluice::cp

// Which check a backend gets: apart from the monitor, so that code which only needs to know
// (the announcer's "first round of health checks done") links without the probes.
#include <algorithm>

#include "health/health_monitor.hpp"

namespace sluice::cp {

std::optional<ProbeSpec> probe_spec_for(const config::Vip& vip, const config::Backend& backend) {
  const std::optional<config::HealthCheck>& check =
      backend.health_check ? backend.health_check : vip.health_check;
  if (!check || check->type == config::HealthCheckType::none) return std::nullopt;
  ProbeSpec spec;
  spec.address = backend.address;
  spec.port = check->port != 0 ? check->port : vip.port;
  spec.check = *check;
  // A probe never outlives its interval: the next one would overlap it.
  spec.timeout = std::chrono::milliseconds(std::min(check->timeout_ms, check->interval_ms));
  return spec;
}

}  // namespace sluice::cp

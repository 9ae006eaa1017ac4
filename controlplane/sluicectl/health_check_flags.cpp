#include "sluicectl/health_check_flags.hpp"

namespace sluice::ctl {

void HealthCheckFlags::add_to(CLI::App* command) {
  auto* check = command->add_option("--check", type, "health check: none, tcp, http, https, udp")
                    ->check(CLI::IsMember({"none", "tcp", "http", "https", "udp"}))
                    ->group("Health check");
  auto needs_check = [&](CLI::Option* o) { o->needs(check)->group("Health check"); };
  needs_check(command->add_option("--check-port", port, "port to probe (default: the VIP's port)"));
  needs_check(command->add_option("--interval-ms", interval_ms,
                                  "between checks, ms (100..3600000; default 2000)"));
  needs_check(command->add_option("--timeout-ms", timeout_ms,
                                  "per check, ms, below the interval (default 1000)"));
  needs_check(
      command->add_option("--rise", rise, "successes to become healthy (1..100; default 2)"));
  needs_check(
      command->add_option("--fall", fall, "failures to become unhealthy (1..100; default 3)"));
  needs_check(command->add_option("--path", path, "http/https: path to GET (default /)"));
  needs_check(command->add_option("--host", host, "http/https: Host header and TLS SNI"));
  needs_check(
      command->add_option("--expect-status", expect_status, "http/https: status (default 200)"));
  needs_check(command->add_option("--expect-body", expect_body, "http/https: body substring"));
  needs_check(command->add_option("--udp-request", udp_request, "udp: payload to send"));
  needs_check(command->add_option("--udp-expect", udp_expect, "udp: reply substring"));
}

std::optional<nlohmann::json> HealthCheckFlags::to_json() const {
  if (!type) return std::nullopt;
  nlohmann::json j{{"type", *type}};
  if (port) j["port"] = *port;
  if (interval_ms) j["interval_ms"] = *interval_ms;
  if (timeout_ms) j["timeout_ms"] = *timeout_ms;
  if (rise) j["rise"] = *rise;
  if (fall) j["fall"] = *fall;
  if (path) j["path"] = *path;
  if (host) j["host"] = *host;
  if (expect_status) j["expect_status"] = *expect_status;
  if (expect_body) j["expect_body"] = *expect_body;
  if (udp_request) j["request"] = *udp_request;
  if (udp_expect) j["expect"] = *udp_expect;
  return j;
}

}  // namespace sluice::ctl

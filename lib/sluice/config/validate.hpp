// Semantic checks of a State, whatever it came from (YAML file, JSON push, API change).
// Structural checks (types, unknown keys, address syntax) happen while decoding; this checks
// what only makes sense on the whole state: ranges, duplicates, combinations. Limits are
// documented in docs/config.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sluice/config/model.hpp"
#include "sluice/limits.hpp"
#include "sluice/result.hpp"

namespace sluice::config {

// Limits (inclusive).
// Generations stay exact in JSON readers that hold numbers as doubles (JavaScript, jq), and a
// controller adding 1 can never wrap around (docs/config.md, "Generations").
inline constexpr std::uint64_t kMaxGeneration = (std::uint64_t{1} << 53) - 1;
inline constexpr std::uint16_t kMinMtuV4 = 576;
inline constexpr std::uint16_t kMinMtuV6 = 1280;  // when any VIP or backend is IPv6
inline constexpr std::uint16_t kMaxMtu = 9000;
inline constexpr std::uint32_t kMaxWeight = 65535;
inline constexpr std::uint32_t kMaxSlowStartS = 3600;      // vips[].slow_start_s
inline constexpr std::uint32_t kMinAgentIntervalMs = 100;  // vips[].agent_check.interval_ms
inline constexpr std::uint32_t kMaxAgentIntervalMs = 3600000;
inline constexpr std::uint32_t kMinAgentTimeoutMs = 10;         // vips[].agent_check.timeout_ms
inline constexpr std::uint32_t kMaxNewFlowsPerS = 100'000'000;  // vips[].new_flows_per_s
inline constexpr std::uint32_t kMinFlowTableEntries = 1024;
inline constexpr std::uint32_t kMaxFlowTableEntries = 1u << 27;
inline constexpr std::uint32_t kMaxFlowTimeoutS = 86400;
inline constexpr std::uint32_t kMaxGracefulShutdownHoldMs = 600'000;  // controlplane.bgp
inline constexpr std::uint32_t kMinHealthIntervalMs = 100;
inline constexpr std::uint32_t kMaxHealthIntervalMs = 3'600'000;
inline constexpr std::uint32_t kMinHealthTimeoutMs = 10;
inline constexpr std::uint32_t kMaxHealthThreshold = 100;  // rise, fall
inline constexpr std::size_t kMaxHealthTextBytes = 1024;   // path, host, body, request, expect
using sluice::kMaxBackends;                                // over all VIPs (sluice/limits.hpp)
inline constexpr std::uint16_t kMinHttpStatus = 100;       // expect_status
inline constexpr std::uint16_t kMaxHttpStatus = 599;
using sluice::kMaxVips;  // sluice/limits.hpp: shared with the dataplane and bpf/
inline constexpr std::size_t kMaxNameBytes = 64;            // dataplanes[].name
inline constexpr std::size_t kMaxPathBytes = 107;           // Unix socket paths (sun_path)
inline constexpr std::uint32_t kMaxApiConnections = 65536;  // controlplane.api_max_connections
inline constexpr std::size_t kMaxHostNameBytes = 64;        // controlplane.host_name

// One problem, located by its field path: "vips[1].backends[0].weight".
struct FieldError {
  std::string path;
  std::string message;

  [[nodiscard]] std::string to_string() const { return path + ": " + message; }
};

// Every problem found, in field order (empty: valid).
[[nodiscard]] std::vector<FieldError> find_errors(const State& state);

// ok, or an Error whose message lists the problems one per line as "path: message" (at most
// kMaxReportedErrors lines, then "... and N more").
inline constexpr std::size_t kMaxReportedErrors = 20;
[[nodiscard]] Status validate(const State& state);

// The desired state (the control plane's config file, state file and API changes) holds the
// operator's intent only: a backend's pushed layer (state, effective_weight) is computed by the
// control plane from the intent and the health checks. validate() plus that rule.
[[nodiscard]] std::vector<FieldError> find_pushed_fields(const State& state);
[[nodiscard]] Status validate_desired(const State& state);

// Joins errors the way validate() does; `prefix(path)` may prepend a location to each line.
template <typename Prefix>
[[nodiscard]] std::string format_errors(const std::vector<FieldError>& errors, Prefix&& prefix) {
  std::string out;
  const std::size_t shown = errors.size() < kMaxReportedErrors ? errors.size() : kMaxReportedErrors;
  for (std::size_t i = 0; i < shown; ++i) {
    if (i != 0) out += '\n';
    out += prefix(errors[i].path);
    out += errors[i].to_string();
  }
  if (errors.size() > shown) {
    out += "\n... and " + std::to_string(errors.size() - shown) + " more";
  }
  return out;
}

}  // namespace sluice::config

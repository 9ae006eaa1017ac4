// Sluice's commands in DPDK telemetry, so `dpdk-telemetry.py` (and any client of the
// telemetry socket) can read the counters:
//   /sluice/status                 generation, uptime, VIPs, lcores
//   /sluice/counters               totals and per-lcore rx/tx/idle polls
//   /sluice/drops                  every drop reason by name
//   /sluice/vips                   per VIP ("vip_<i>": {"vip": "198.18.0.10:80/tcp", ...}):
//                                  packets, bytes, new and active flows, backends
//   /sluice/backends,<vip key>     the same per backend of one VIP ("backend_<i>":
//                                  {"address": ...}); e.g. /sluice/backends,198.18.0.10:80/tcp
// (telemetry dict keys allow only letters, digits, '_' and '/', hence the indexed keys)
// Telemetry callbacks are plain C functions run on DPDK's telemetry thread; they reach the
// dataplane through the source installed here, which is removed (under a lock) before the
// dataplane is torn down. DPDK cannot unregister commands: after that they answer an error.
#pragma once

#include <functional>
#include <string_view>

#include <nlohmann/json.hpp>

namespace sluice::dataplane {

struct TelemetrySource {
  // Each returns a JSON object (one level of nesting is kept; telemetry limits dicts to 256
  // entries). `params` is what follows the comma in the command.
  std::function<nlohmann::json()> status;
  std::function<nlohmann::json()> counters;
  std::function<nlohmann::json()> drops;
  std::function<nlohmann::json()> vips;
  std::function<nlohmann::json(std::string_view params)> backends;
};

// Registers the commands (first call only) and installs `source`.
void register_telemetry(TelemetrySource source);
// Removes the source; commands answer an error from then on.
void unregister_telemetry();

}  // namespace sluice::dataplane

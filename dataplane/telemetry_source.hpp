// The JSON answers of Sluice's telemetry commands, built from the same counters as the control
// socket's get_counters.
#pragma once

#include "control_handlers.hpp"
#include "telemetry.hpp"

namespace sluice::dataplane {

// `view` must outlive unregister_telemetry().
[[nodiscard]] TelemetrySource make_telemetry_source(const DataplaneView& view);

}  // namespace sluice::dataplane

// sluice-dataplane after EAL initialisation: sets up ports, workers, the state, the control
// socket and telemetry, runs the control loop on the main lcore until SIGINT/SIGTERM, then
// tears everything down in order.
#pragma once

#include "eal.hpp"
#include "options.hpp"
#include "sluice/result.hpp"

namespace sluice::dataplane {

[[nodiscard]] Status run_dataplane(const Options& options, const Eal& eal);

}  // namespace sluice::dataplane

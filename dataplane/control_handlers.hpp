// The control protocol's operations (lib/sluice/control/messages.hpp) on a running dataplane:
// push_state, get_status, get_counters (summed over the worker lcores on read) and explain.
// Runs on the control thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/worker_state.hpp"
#include "sluice/control/messages.hpp"
#include "state_controller.hpp"

namespace sluice::dataplane {

class Port;

struct DataplaneView {
  StateController* state = nullptr;
  std::vector<const pipeline::WorkerState*> workers;  // one per worker lcore
  std::vector<std::uint32_t> worker_lcores;           // worker_lcores[i] runs workers[i]
  std::vector<const Port*> ports;
  std::uint32_t main_lcore = 0;
  std::string idle_mode = "poll";  // --idle, reported per worker lcore in get_status
  std::chrono::steady_clock::time_point started;
};

[[nodiscard]] control::DataplaneStatus collect_status(const DataplaneView& view);
// Needs the snapshot the counters' VIP and backend ids refer to: call on the control thread,
// or under StateController::readers_mutex().
[[nodiscard]] control::Counters collect_counters(const DataplaneView& view);

// One request object in, one reply object out ({"ok": true, ...} or {"ok": false, "error"}).
[[nodiscard]] nlohmann::json handle_control_request(DataplaneView& view,
                                                    const nlohmann::json& request);

}  // namespace sluice::dataplane

// The fast liveness watch of the local dataplanes, separate from DataplaneSync's 1 s poll: every
// round (about 100 ms) it asks each dataplane for its counters on its own control connection
// with a short timeout, and tells the announcer what it saw:
//   process gone (connect refused, EOF)                      -> unreachable at once
//   no answer and the process is stopped (SIGSTOP, /proc)    -> unreachable at once
//   no answer from a process that runs (its control thread
//   busy, e.g. building a large state)                       -> unreachable after busy_grace
//   a worker lcore whose rx_polls stop moving                -> stalled after stall_after
// The dataplane's pid comes from SO_PEERCRED on connect (0 in another pid namespace: then
// every unanswered request counts as a hung process).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "announce/decision.hpp"
#include "sluice/config/model.hpp"
#include "sluice/control/client.hpp"

namespace sluice::cp {

struct LivenessOptions {
  std::chrono::milliseconds interval{100};
  std::chrono::milliseconds connect_timeout{100};
  std::chrono::milliseconds request_timeout{250};
  std::chrono::milliseconds stall_after{300};
  std::chrono::milliseconds busy_grace{10000};
};

// The state of a process by pid, from /proc/PID/stat: 'R', 'S', 'T' (stopped), 'Z', or
// nullopt when it is gone.
[[nodiscard]] std::optional<char> process_state(pid_t pid);

class LivenessWatch {
 public:
  LivenessWatch(std::vector<config::DataplaneEndpoint> dataplanes, LivenessOptions options = {});

  // One round over every dataplane (bounded: about request_timeout per unanswering one).
  // `generation` is the current effective generation.
  void sample(std::uint64_t generation);

  [[nodiscard]] std::vector<DataplaneLiveness> state() const;
  [[nodiscard]] const LivenessOptions& options() const { return options_; }

 private:
  using Steady = std::chrono::steady_clock;
  struct Lcore {
    std::uint64_t rx_polls = 0;
    Steady::time_point moved{};
  };
  struct Watched {
    config::DataplaneEndpoint endpoint;
    std::optional<control::ControlClient> client;
    pid_t pid = 0;
    DataplaneLiveness live;
    std::map<std::uint32_t, Lcore> lcores;
    std::optional<Steady::time_point> unanswered_since;
  };

  void sample_one(Watched& w, std::uint64_t generation);
  void lost(Watched& w, const std::string& error);

  LivenessOptions options_;
  std::vector<Watched> watched_;
};

}  // namespace sluice::cp

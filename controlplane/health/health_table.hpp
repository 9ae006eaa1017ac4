// What is known about every checked backend: dampened state, last probe, latency histogram.
// Written by the health thread, read by the API, the metrics endpoint and the state pusher.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "health/latency_histogram.hpp"
#include "sluice/config/model.hpp"
#include "state/backend_ref.hpp"
#include "state/effective_state.hpp"

namespace sluice::cp {

struct ProbeOutcome {
  bool success = false;
  std::chrono::microseconds latency{0};
  std::string
      detail;  // "HTTP 200 in 1.2 ms", "connect: Connection refused", "timeout after 1000 ms"
  // The probe could not be made: the control plane ran out of descriptors, buffers or memory
  // (EMFILE, ENFILE, ENOBUFS, ENOMEM). Says nothing about the backend: "unknown", never a
  // failure; the backend keeps its state.
  bool local_error = false;
};

struct BackendHealth {
  config::HealthCheckType type = config::HealthCheckType::none;
  std::string target;  // what is probed: "198.18.1.1:80 GET /healthz"
  bool healthy = true;
  std::uint32_t streak = 0;  // consecutive outcomes towards a flip
  std::uint32_t rise = 1;
  std::uint32_t fall = 1;
  std::optional<ProbeOutcome> last;
  std::chrono::system_clock::time_point last_checked{};
  std::chrono::system_clock::time_point since{};  // of the current state
  std::string reason;                             // why it is in its current state
  std::uint64_t checks = 0;                       // every probe, local errors included
  std::uint64_t failures = 0;
  std::uint64_t local_errors = 0;  // probes that could not be made (ProbeOutcome::local_error)
  LatencyHistogram latency;        // successful probes only
};

class HealthTable {
 public:
  void set(const BackendRef& ref, BackendHealth health);
  void erase(const BackendRef& ref);
  // Applies `update` to an existing entry; false when the entry is gone.
  template <typename Update>
  bool update(const BackendRef& ref, Update&& update) {
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(ref);
    if (it == entries_.end()) return false;
    update(it->second);
    return true;
  }

  [[nodiscard]] HealthMap healthy_map() const;
  [[nodiscard]] std::vector<std::pair<BackendRef, BackendHealth>> snapshot() const;
  [[nodiscard]] std::optional<BackendHealth> find(const BackendRef& ref) const;

 private:
  mutable std::mutex mutex_;
  std::map<BackendRef, BackendHealth> entries_;
};

}  // namespace sluice::cp

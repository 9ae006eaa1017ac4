// Adaptive weights of one VIP (docs/adaptive-weights.md): from each backend's signals (check
// latency, agent reply, slow start, passive SYN retransmits) to the percent of its configured
// weight that new flows see. Pure and deterministic: time comes in as a number, so every host
// that runs it on the same inputs publishes the same weights, and tests replay any history.
//
// What keeps the Maglev table from churning: latency factors in 5% steps with hysteresis and a
// dwell before reversing; a cap on the share of the table one step may move; no change at all
// when every backend is equally slow (latency counts only against the other backends).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sluice::lb {

struct AdaptiveTuning {
  double slow_ratio = 2.0;                // latency / peers' latency above which the factor drops
  std::uint32_t floor_percent = 5;        // what latency alone can take a backend down to
  std::uint32_t quantum_percent = 5;      // latency and slow-start factors move in these steps
  std::uint32_t hysteresis_percent = 10;  // a smaller latency move is not published
  std::uint64_t dwell_ms = 5000;          // after a latency move, none the other way for this long
  double max_moved_share = 0.10;          // of the table per step (urgent changes excepted)
  std::uint32_t slow_start_min_percent = 10;
  std::uint32_t passive_min_retransmits = 5;  // in the window, and
  double passive_retransmit_ratio = 0.10;     // ... at least this share of its new flows' SYNs
  std::uint64_t passive_hold_ms = 10000;  // without active checks, how long a passive mark holds
};

enum class AgentWord : std::uint8_t { none, drain, down };

struct BackendSignals {
  std::string key;                   // the backend address: identity and tie-break
  std::uint32_t weight = 0;          // configured; 0 (or drained) takes no part
  bool serving = false;              // healthy (or kept by the all-down policy) and not drained
  std::optional<double> latency_ms;  // windowed check latency (peak EWMA); none yet: no opinion
  std::optional<std::uint32_t> agent_percent;  // the agent's percent, 0..100
  AgentWord agent = AgentWord::none;
  std::uint64_t window_syns = 0;         // new flows' SYNs over the passive window
  std::uint64_t window_retransmits = 0;  // SYN retransmissions over the same window
  bool has_active_check = false;
  std::uint64_t check_successes = 0;  // successful active checks so far (only grows)
  std::uint32_t rise = 1;             // successes after a passive mark that clear it
};

struct BackendWeight {
  std::uint32_t percent = 100;  // of the configured weight, for new flows
  bool down = false;            // the agent said down: treat as failed
  bool passive_out = false;     // taken out by the passive signal
  std::string reason;           // "latency x0.25, slow-start 40%"; empty at 100%
};

struct StepResult {
  bool changed = false;            // a percent, down or passive_out changed: publish
  double moved_share = 0;          // estimated share of the table this step moves
  std::vector<std::string> notes;  // one line per backend that changed, for the log
};

class AdaptiveVip {
 public:
  explicit AdaptiveVip(AdaptiveTuning tuning = {}, std::uint32_t slow_start_s = 0,
                       bool passive_failure = true);

  void set_slow_start(std::uint32_t slow_start_s) { slow_start_ms_ = slow_start_s * 1000ULL; }
  void set_passive_failure(bool on) { passive_failure_ = on; }

  // One step at `now_ms` (monotonic). Backends absent from `signals` are forgotten; a backend
  // seen for the first time after the first step counts as added (slow start).
  StepResult step(std::uint64_t now_ms, const std::vector<BackendSignals>& signals);

  // The published weight of a backend (100%, nothing special, for an unknown one).
  [[nodiscard]] BackendWeight weight(const std::string& key) const;

 private:
  struct Track {
    std::uint32_t latency_percent = 100;  // after hysteresis and dwell
    std::uint64_t latency_changed_ms = 0;
    int latency_direction = 0;  // -1 down, +1 up: the last move
    bool was_serving = false;
    bool ramping = false;
    std::uint64_t ramp_progress_ms = 0;
    std::uint64_t last_step_ms = 0;
    bool passive_out = false;
    std::uint64_t passive_since_ms = 0;
    std::uint64_t successes_at_mark = 0;
    std::optional<std::uint64_t> passive_cleared_ms;  // the re-arm delay runs from here
    BackendWeight published;
  };

  std::uint32_t latency_target(const BackendSignals& s,
                               const std::vector<BackendSignals>& all) const;
  void update_latency(Track& t, std::uint32_t target, std::uint64_t now_ms) const;
  void update_ramp(Track& t, const BackendSignals& s, std::uint64_t now_ms, bool fresh) const;
  void update_passive(Track& t, const BackendSignals& s, std::uint64_t now_ms) const;
  [[nodiscard]] BackendWeight target_weight(const Track& t, const BackendSignals& s) const;

  AdaptiveTuning tuning_;
  std::uint64_t slow_start_ms_;
  bool passive_failure_;
  bool started_ = false;
  std::map<std::string, Track> tracks_;
};

// Peak-EWMA of a latency, over spike-filtered samples: each sample is replaced by the median
// of the last three (so one slow check among fast ones, a scheduling hiccup, moves nothing,
// while two in a row do), then a higher value is taken at once and a lower one pulls the
// estimate down with time constant tau (Finagle's and Linkerd's peak EWMA).
class PeakEwma {
 public:
  explicit PeakEwma(double tau_ms = 2000) : tau_ms_(tau_ms) {}
  void add(double sample_ms, std::uint64_t now_ms);
  [[nodiscard]] std::optional<double> value() const { return value_; }

 private:
  double tau_ms_;
  double recent_[3] = {0, 0, 0};  // the last samples, oldest first
  std::uint32_t samples_ = 0;
  std::optional<double> value_;
  std::uint64_t at_ms_ = 0;
};

}  // namespace sluice::lb

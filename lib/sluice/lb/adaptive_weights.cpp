#include "sluice/lb/adaptive_weights.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace sluice::lb {
namespace {

// A latency this close to the peers' is never "slow", whatever the ratio: sub-millisecond
// checks differ by large ratios from noise alone.
constexpr double kMinLatencyGapMs = 5.0;
// After a passive mark clears, the window still holds the retransmissions that caused it.
constexpr std::uint64_t kPassiveRearmMs = 2000;

std::uint32_t quantise_down(double percent, std::uint32_t quantum) {
  const auto p = static_cast<std::uint32_t>(std::clamp(percent, 0.0, 100.0));
  return quantum == 0 ? p : p / quantum * quantum;
}

std::string factor_text(std::uint32_t percent) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "x%.2f", percent / 100.0);
  return buf;
}

bool participates(const BackendSignals& s) {
  return s.weight > 0;
}

// Estimated share of the table each backend holds with these percents (Maglev shares follow
// the weights closely).
std::vector<double> shares(const std::vector<BackendSignals>& signals,
                           const std::vector<BackendWeight>& weights) {
  std::vector<double> out(signals.size(), 0.0);
  double total = 0;
  for (std::size_t i = 0; i < signals.size(); ++i) {
    const bool takes = participates(signals[i]) && signals[i].serving && !weights[i].down &&
                       !weights[i].passive_out;
    if (takes) out[i] = static_cast<double>(signals[i].weight) * weights[i].percent;
    total += out[i];
  }
  for (double& s : out)
    s = total > 0 ? s / total : 0;
  return out;
}

double moved_share(const std::vector<double>& before, const std::vector<double>& after) {
  double sum = 0;
  for (std::size_t i = 0; i < before.size(); ++i)
    sum += std::abs(after[i] - before[i]);
  return sum / 2;
}

std::string describe(const BackendWeight& w) {
  std::string out = std::to_string(w.percent) + "%";
  if (w.down) out = "down";
  if (!w.reason.empty()) out += " (" + w.reason + ")";
  return out;
}

}  // namespace

void PeakEwma::add(double raw_ms, std::uint64_t now_ms) {
  recent_[0] = recent_[1];
  recent_[1] = recent_[2];
  recent_[2] = raw_ms;
  ++samples_;
  // Fewer than three samples: the lowest so far (no spike is believed before it repeats).
  double sample_ms = raw_ms;
  if (samples_ == 2) sample_ms = std::min(recent_[1], recent_[2]);
  if (samples_ >= 3) {
    sample_ms = std::max(std::min(recent_[0], recent_[1]),
                         std::min(std::max(recent_[0], recent_[1]), recent_[2]));
  }
  if (!value_ || sample_ms >= *value_) {
    value_ = sample_ms;
  } else {
    const double elapsed = static_cast<double>(now_ms > at_ms_ ? now_ms - at_ms_ : 0);
    const double alpha = 1.0 - std::exp(-elapsed / tau_ms_);
    *value_ += (sample_ms - *value_) * alpha;
  }
  at_ms_ = now_ms;
}

AdaptiveVip::AdaptiveVip(AdaptiveTuning tuning, std::uint32_t slow_start_s, bool passive_failure)
    : tuning_(tuning), slow_start_ms_(slow_start_s * 1000ULL), passive_failure_(passive_failure) {}

std::uint32_t AdaptiveVip::latency_target(const BackendSignals& s,
                                          const std::vector<BackendSignals>& all) const {
  if (!s.latency_ms || !s.serving) return 100;
  std::vector<double> peers;
  for (const BackendSignals& p : all) {
    if (&p != &s && participates(p) && p.serving && p.latency_ms) peers.push_back(*p.latency_ms);
  }
  if (peers.empty()) return 100;
  std::sort(peers.begin(), peers.end());
  const double reference = peers[(peers.size() - 1) / 2];  // lower median: the faster middle
  const double latency = *s.latency_ms;
  if (latency - reference < kMinLatencyGapMs) return 100;
  const double ratio = latency / std::max(reference, 1e-3);
  if (ratio <= tuning_.slow_ratio) return 100;
  const double factor = (tuning_.slow_ratio / ratio) * (tuning_.slow_ratio / ratio);
  return std::max(tuning_.floor_percent, quantise_down(factor * 100, tuning_.quantum_percent));
}

void AdaptiveVip::update_latency(Track& t, std::uint32_t target, std::uint64_t now_ms) const {
  if (target == t.latency_percent) return;
  const std::uint32_t gap =
      target > t.latency_percent ? target - t.latency_percent : t.latency_percent - target;
  const bool bound = target == 100 || target == tuning_.floor_percent;
  if (gap < tuning_.hysteresis_percent && !bound) return;
  const int direction = target > t.latency_percent ? 1 : -1;
  if (t.latency_direction != 0 && direction != t.latency_direction &&
      now_ms - t.latency_changed_ms < tuning_.dwell_ms) {
    return;
  }
  t.latency_percent = target;
  t.latency_direction = direction;
  t.latency_changed_ms = now_ms;
}

void AdaptiveVip::update_ramp(Track& t, const BackendSignals& s, std::uint64_t now_ms,
                              bool fresh) const {
  if (slow_start_ms_ == 0) {
    t.ramping = false;
  } else {
    // A ramp starts when the backend comes up (or is added up); it pauses while it is down.
    if (s.serving && (!t.was_serving || fresh) && !t.ramping) {
      t.ramping = true;
      t.ramp_progress_ms = 0;
    } else if (t.ramping && s.serving && t.was_serving) {
      t.ramp_progress_ms += now_ms - t.last_step_ms;
    }
    if (t.ramping && t.ramp_progress_ms >= slow_start_ms_) t.ramping = false;
  }
  t.was_serving = s.serving;
  t.last_step_ms = now_ms;
}

void AdaptiveVip::update_passive(Track& t, const BackendSignals& s, std::uint64_t now_ms) const {
  if (!passive_failure_) {
    t.passive_out = false;
    return;
  }
  if (t.passive_out) {
    const bool checked_back =
        s.has_active_check && s.serving && s.check_successes >= t.successes_at_mark + s.rise;
    const bool held = !s.has_active_check && now_ms - t.passive_since_ms >= tuning_.passive_hold_ms;
    if (checked_back || held) {
      t.passive_out = false;
      t.passive_cleared_ms = now_ms;
    }
    return;
  }
  if (!s.serving || (t.passive_cleared_ms && now_ms - *t.passive_cleared_ms < kPassiveRearmMs)) {
    return;
  }
  if (s.window_retransmits >= tuning_.passive_min_retransmits &&
      static_cast<double>(s.window_retransmits) >=
          tuning_.passive_retransmit_ratio * static_cast<double>(s.window_syns)) {
    t.passive_out = true;
    t.passive_since_ms = now_ms;
    t.successes_at_mark = s.check_successes;
  }
}

BackendWeight AdaptiveVip::target_weight(const Track& t, const BackendSignals& s) const {
  BackendWeight w;
  w.passive_out = t.passive_out;
  if (s.agent == AgentWord::down) {
    w.down = true;
    w.percent = 0;
    w.reason = "agent down";
    return w;
  }
  if (t.passive_out) {
    w.percent = 0;
    w.reason = "passive: SYN retransmits";
    return w;
  }
  if (s.agent == AgentWord::drain) {
    w.percent = 0;
    w.reason = "agent drain";
    return w;
  }
  std::uint32_t ramp = 100;
  if (t.ramping) {
    const double progress =
        static_cast<double>(t.ramp_progress_ms) / static_cast<double>(slow_start_ms_);
    const double min = tuning_.slow_start_min_percent;
    ramp = std::max(tuning_.slow_start_min_percent,
                    quantise_down(min + (100 - min) * progress, tuning_.quantum_percent));
  }
  const std::uint32_t agent = std::min<std::uint32_t>(s.agent_percent.value_or(100), 100);
  const std::uint64_t product = std::uint64_t{t.latency_percent} * agent * ramp;
  w.percent = static_cast<std::uint32_t>((product + 5000) / 10000);
  if (product != 0 && w.percent == 0) w.percent = 1;
  std::vector<std::string> parts;
  if (t.latency_percent != 100) parts.push_back("latency " + factor_text(t.latency_percent));
  if (agent != 100) parts.push_back("agent " + std::to_string(agent) + "%");
  if (ramp != 100) parts.push_back("slow-start " + std::to_string(ramp) + "%");
  for (const std::string& p : parts)
    w.reason += (w.reason.empty() ? "" : ", ") + p;
  return w;
}

StepResult AdaptiveVip::step(std::uint64_t now_ms, const std::vector<BackendSignals>& signals) {
  std::erase_if(tracks_, [&](const auto& entry) {
    return std::none_of(signals.begin(), signals.end(),
                        [&](const BackendSignals& s) { return s.key == entry.first; });
  });
  std::vector<BackendWeight> current, target;
  std::vector<bool> urgent;
  // The shares before this step, with each backend's serving state of the last step: health
  // changes are not this controller's to pace.
  std::vector<BackendSignals> last_signals = signals;
  for (std::size_t i = 0; i < signals.size(); ++i) {
    const BackendSignals& s = signals[i];
    const auto [it, fresh] = tracks_.try_emplace(s.key);
    Track& t = it->second;
    if (fresh) {
      t.last_step_ms = now_ms;
      t.was_serving = started_ ? false : s.serving;  // at start-up nothing ramps
    }
    last_signals[i].serving = t.was_serving;
    update_latency(t, latency_target(s, signals), now_ms);
    update_ramp(t, s, now_ms, fresh && started_);
    update_passive(t, s, now_ms);
    BackendWeight next = target_weight(t, s);
    current.push_back(t.published);
    // Failure signals act at once; only shifts of load between working backends are paced.
    urgent.push_back(next.down != t.published.down || next.passive_out != t.published.passive_out ||
                     (next.percent == 0) != (t.published.percent == 0) || fresh ||
                     last_signals[i].serving != s.serving);
    target.push_back(std::move(next));
  }
  started_ = true;

  const std::vector<double> before = shares(last_signals, current);
  auto blend = [&](double fraction) {
    std::vector<BackendWeight> out = target;
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (urgent[i]) continue;
      const double from = current[i].percent, to = target[i].percent;
      out[i].percent = static_cast<std::uint32_t>(std::lround(from + (to - from) * fraction));
    }
    return out;
  };
  std::vector<BackendWeight> next = target;
  double moved = moved_share(before, shares(signals, next));
  if (moved > tuning_.max_moved_share) {
    double lo = 0, hi = 1;
    for (int i = 0; i < 16; ++i) {
      const double mid = (lo + hi) / 2;
      (moved_share(before, shares(signals, blend(mid))) <= tuning_.max_moved_share ? lo : hi) = mid;
    }
    next = blend(lo);
    moved = moved_share(before, shares(signals, next));
  }

  StepResult result;
  result.moved_share = moved;
  for (std::size_t i = 0; i < signals.size(); ++i) {
    Track& t = tracks_[signals[i].key];
    const BackendWeight& was = t.published;
    if (next[i].percent == was.percent && next[i].down == was.down &&
        next[i].passive_out == was.passive_out && next[i].reason == was.reason) {
      continue;
    }
    const bool moves = next[i].percent != was.percent || next[i].down != was.down ||
                       next[i].passive_out != was.passive_out;
    result.changed = result.changed || moves;
    if (moves)
      result.notes.push_back(signals[i].key + " " + describe(was) + " -> " + describe(next[i]));
    t.published = std::move(next[i]);
  }
  return result;
}

BackendWeight AdaptiveVip::weight(const std::string& key) const {
  const auto it = tracks_.find(key);
  return it == tracks_.end() ? BackendWeight{} : it->second.published;
}

}  // namespace sluice::lb

#include "state/weight_controller.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "sluice/config/names.hpp"
#include "sluice/lb/maglev.hpp"

namespace sluice::cp {
namespace {

// Without adaptive VIPs the controller only looks once a second whether one appeared.
constexpr std::chrono::milliseconds kIdleStep{1000};
constexpr std::chrono::milliseconds kIdlePoll{1000};

using CounterKey = std::pair<std::string, std::string>;  // VIP key text, backend address

// SYNs and SYN retransmissions per backend, summed over the dataplanes' latest counters.
std::map<CounterKey, std::pair<std::uint64_t, std::uint64_t>> syn_totals(
    const std::vector<DataplaneReport>& dataplanes) {
  std::map<CounterKey, std::pair<std::uint64_t, std::uint64_t>> out;
  for (const DataplaneReport& d : dataplanes) {
    if (!d.counters) continue;
    for (const control::VipCounters& v : d.counters->counters.per_vip) {
      for (const control::BackendCounters& b : v.per_backend) {
        auto& [syns, retransmits] = out[{v.vip, b.address}];
        syns += b.syns;
        retransmits += b.syn_retransmits;
      }
    }
  }
  return out;
}

std::uint32_t scheduled_weight(const config::Backend& b, bool serving, const lb::BackendWeight& w) {
  if (!serving || w.down || w.passive_out || b.drained) return 0;
  return b.weight * w.percent;
}

// Slots of the VIP's Maglev table whose backend differs between the two weight sets.
std::uint64_t moved_slots(const config::Vip& vip, const std::vector<std::uint32_t>& before,
                          const std::vector<std::uint32_t>& after) {
  if (vip.scheduler != config::Scheduler::maglev) return 0;
  std::vector<lb::MaglevBackend> a, b;
  for (std::size_t i = 0; i < vip.backends.size(); ++i) {
    a.push_back({vip.backends[i].address.to_string(), before[i]});
    b.push_back({vip.backends[i].address.to_string(), after[i]});
  }
  Result<lb::MaglevTable> ta = lb::build_maglev(a, vip.maglev_table_size);
  Result<lb::MaglevTable> tb = lb::build_maglev(b, vip.maglev_table_size);
  if (!ta.ok() || !tb.ok()) return 0;
  std::uint64_t moved = 0;
  for (std::uint32_t i = 0; i < ta->size(); ++i)
    moved += ta->slots()[i] != tb->slots()[i];
  return moved;
}

std::string describe(const lb::BackendWeight& w) {
  std::string out = w.down ? std::string("down") : std::to_string(w.percent) + "%";
  if (!w.reason.empty()) out += " (" + w.reason + ")";
  return out;
}

}  // namespace

WeightController::WeightController(StateStore& store, HealthTable& health, DataplaneSync& sync,
                                   WeightControllerOptions options)
    : store_(store), health_(health), sync_(sync), options_(options) {}

WeightController::~WeightController() {
  stop();
}

void WeightController::set_agent_source(std::function<AgentSignals()> source) {
  agent_source_ = std::move(source);
}

void WeightController::set_share(EtcdWeightShare* share) {
  share_ = share;
}

WeightFactors WeightController::choose(const WeightFactors& mine, const WeightFactors& before) {
  if (share_ == nullptr) return mine;
  if (share_->leading()) {
    share_->publish(mine);
    return mine;
  }
  const std::optional<WeightFactors> followed = share_->followed();
  if (!followed) return before;  // nothing read yet: keep what runs
  // The leader's word for every backend this host has; one it does not know yet keeps 100%.
  WeightFactors out;
  for (const auto& [ref, w] : mine) {
    const auto it = followed->find(ref);
    out.emplace(ref, it != followed->end() ? it->second : lb::BackendWeight{});
  }
  return out;
}

std::string WeightController::source_note() const {
  if (share_ == nullptr) return "";
  const WeightShareStatus s = share_->status();
  return s.leading ? " (this host computes the tier's weights)" : " (from " + s.leader + ")";
}

std::string WeightController::source() const {
  if (share_ == nullptr) return "local";
  const WeightShareStatus s = share_->status();
  if (s.leading) return "this host (etcd lease)";
  return s.leader.empty() ? "etcd (no leader yet)" : "etcd: " + s.leader;
}

void WeightController::start() {
  thread_ = std::thread([this] { run(); });
}

void WeightController::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

WeightFactors WeightController::published() const {
  std::lock_guard lock(mutex_);
  return published_;
}

std::map<BackendRef, WeightReport> WeightController::reports() const {
  std::lock_guard lock(mutex_);
  return reports_;
}

std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> WeightController::publications()
    const {
  std::lock_guard lock(mutex_);
  return publications_;
}

void WeightController::run() {
  for (;;) {
    bool idle = false;
    {
      std::lock_guard lock(mutex_);
      idle = published_.empty() && reports_.empty();
    }
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, idle ? kIdleStep : options_.step, [this] { return stopping_; });
      if (stopping_) return;
    }
    step(std::chrono::steady_clock::now());
  }
}

void WeightController::step(std::chrono::steady_clock::time_point now) {
  const config::State desired = store_.desired();
  const bool any_adaptive = std::any_of(desired.vips.begin(), desired.vips.end(),
                                        [](const config::Vip& v) { return adaptive_weights(v); });
  if (!any_adaptive && vips_.empty()) return;
  sync_.set_poll_interval(any_adaptive ? options_.step : kIdlePoll);

  std::map<BackendRef, BackendHealth> health;
  for (auto& [ref, h] : health_.snapshot())
    health.emplace(ref, std::move(h));
  const auto totals = syn_totals(sync_.reports());
  const AgentSignals agents = agent_source_ ? agent_source_() : AgentSignals{};
  const auto now_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now - epoch_).count());

  WeightFactors factors;
  std::map<BackendRef, WeightReport> reports;
  std::map<std::string, std::uint64_t> moved_by_vip;  // VIPs that changed, and slots moved
  std::map<std::string, lb::AdaptiveVip> vips;
  std::map<BackendRef, BackendTrack> tracks;
  std::map<BackendRef, bool> serving_of;
  const WeightFactors before = published();

  for (const config::Vip& vip : desired.vips) {
    if (!adaptive_weights(vip)) continue;
    const config::VipKey key = config::key_of(vip);
    const std::string key_text = config::to_string(key);
    auto found = vips_.find(key_text);
    lb::AdaptiveVip adaptive =
        found != vips_.end() ? std::move(found->second) : lb::AdaptiveVip(options_.tuning);
    adaptive.set_slow_start(vip.slow_start_s);
    adaptive.set_passive_failure(config::passive_failure_enabled(vip));

    std::vector<lb::BackendSignals> signals;
    std::vector<bool> serving;
    for (const config::Backend& b : vip.backends) {
      const BackendRef ref{key, b.address};
      auto kept = tracks_.find(ref);
      BackendTrack track = kept != tracks_.end()
                               ? std::move(kept->second)
                               : BackendTrack{lb::PeakEwma(options_.latency_tau_ms), {}, {}};
      const auto h = health.find(ref);
      const BackendHealth* checked = h != health.end() ? &h->second : nullptr;
      lb::BackendSignals s;
      s.key = b.address.to_string();
      s.weight = b.drained ? 0 : b.weight;
      s.serving = (checked == nullptr || checked->healthy) && s.weight > 0;
      if (checked != nullptr && checked->type != config::HealthCheckType::none) {
        if (checked->last && checked->last->success && checked->last_checked != track.last_probe) {
          track.latency.add(static_cast<double>(checked->last->latency.count()) / 1000.0, now_ms);
          track.last_probe = checked->last_checked;
        }
        s.has_active_check = true;
        s.check_successes = checked->checks - checked->failures - checked->local_errors;
        s.rise = checked->rise;
      }
      s.latency_ms = track.latency.value();
      // The passive window: from the newest sample at least a window old (or the oldest).
      const auto total = totals.find({key_text, s.key});
      const std::uint64_t syns = total != totals.end() ? total->second.first : 0;
      const std::uint64_t retransmits = total != totals.end() ? total->second.second : 0;
      track.samples.push_back(Sample{now, syns, retransmits});
      while (track.samples.size() > 2 && now - track.samples[1].at >= options_.passive_window) {
        track.samples.pop_front();
      }
      const Sample& base = track.samples.front();
      const std::uint64_t window_retransmits =
          retransmits >= base.retransmits ? retransmits - base.retransmits : 0;
      const std::uint64_t window_syns = syns >= base.syns ? syns - base.syns : 0;
      s.window_retransmits = window_retransmits;
      s.window_syns = window_syns >= window_retransmits ? window_syns - window_retransmits : 0;
      const auto agent = agents.find(ref);
      if (agent != agents.end()) {
        s.agent_percent = agent->second.percent;
        if (agent->second.weight) {  // an absolute weight: its share of the configured one
          s.agent_percent = static_cast<std::uint32_t>(std::min<std::uint64_t>(
              100, std::uint64_t{*agent->second.weight} * 100 / std::max(b.weight, 1u)));
        }
        s.agent = agent->second.word;
      }
      const double window_s = std::max(std::chrono::duration<double>(now - base.at).count(), 1e-3);
      WeightReport report;
      report.check_latency_ms = s.latency_ms;
      report.syns_per_s = base.at == now ? 0 : static_cast<double>(s.window_syns) / window_s;
      report.syn_retransmits_per_s =
          base.at == now ? 0 : static_cast<double>(window_retransmits) / window_s;
      report.agent = agent != agents.end() ? agent->second.text : std::string();
      reports.emplace(ref, std::move(report));
      serving.push_back(s.serving);
      signals.push_back(std::move(s));
      tracks.emplace(ref, std::move(track));
    }

    (void)adaptive.step(now_ms, signals);
    for (std::size_t i = 0; i < vip.backends.size(); ++i) {
      const BackendRef ref{key, vip.backends[i].address};
      factors.emplace(ref, adaptive.weight(signals[i].key));
      serving_of.emplace(ref, serving[i]);
    }
    vips.emplace(key_text, std::move(adaptive));
  }
  vips_ = std::move(vips);
  tracks_ = std::move(tracks);

  // In a tier the leader's weights are pushed everywhere (its own included).
  WeightFactors chosen = choose(factors, before);
  for (auto& [ref, report] : reports) {
    const auto it = chosen.find(ref);
    if (it != chosen.end()) report.weight = it->second;
  }
  for (const config::Vip& vip : desired.vips) {
    if (!adaptive_weights(vip)) continue;
    const config::VipKey key = config::key_of(vip);
    std::vector<std::uint32_t> old_weights, new_weights;
    std::string notes;
    for (const config::Backend& b : vip.backends) {
      const BackendRef ref{key, b.address};
      const lb::BackendWeight now_w = chosen.contains(ref) ? chosen.at(ref) : lb::BackendWeight{};
      const lb::BackendWeight was = before.contains(ref) ? before.at(ref) : lb::BackendWeight{};
      const bool serving = serving_of.contains(ref) && serving_of.at(ref);
      old_weights.push_back(scheduled_weight(b, serving, was));
      new_weights.push_back(scheduled_weight(b, serving, now_w));
      if (was.percent != now_w.percent || was.down != now_w.down ||
          was.passive_out != now_w.passive_out) {
        notes += (notes.empty() ? "" : "; ") + b.address.to_string() + " " + describe(was) +
                 " -> " + describe(now_w);
      }
    }
    if (notes.empty()) continue;
    const std::uint64_t moved = moved_slots(vip, old_weights, new_weights);
    moved_by_vip[config::to_string(key)] = moved;
    spdlog::info("weights: VIP {}: {}; {} of {} Maglev slots moved{}", config::vip_key(vip), notes,
                 moved, vip.maglev_table_size, source_note());
  }
  factors = std::move(chosen);

  const bool changed = !moved_by_vip.empty() || factors.size() != before.size();
  {
    std::lock_guard lock(mutex_);
    published_ = std::move(factors);
    reports_ = std::move(reports);
    for (const auto& [vip, moved] : moved_by_vip) {
      ++publications_[vip].first;
      publications_[vip].second += moved;
    }
  }
  if (changed) sync_.notify();
}

}  // namespace sluice::cp

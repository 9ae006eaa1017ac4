#include "api/signals_view.hpp"

#include <cmath>
#include <string>

#include "sluice/config/names.hpp"

namespace sluice::cp {
namespace {

using nlohmann::json;

const control::BackendCounters* find_counters(const control::Counters& c, const std::string& vip,
                                              const std::string& address) {
  for (const control::VipCounters& v : c.per_vip) {
    if (v.vip != vip) continue;
    for (const control::BackendCounters& b : v.per_backend) {
      if (b.address == address) return &b;
    }
  }
  return nullptr;
}

std::uint64_t minus(std::uint64_t a, std::uint64_t b) {
  return a >= b ? a - b : 0;
}

// Over the dataplanes' last rate interval (about a second): the handshake buckets that moved,
// and new flows, SYNs and SYN retransmissions per second.
struct Window {
  std::array<std::uint64_t, control::kHandshakeBucketCount> handshakes{};
  double new_flows_per_s = 0, syns_per_s = 0, syn_retransmits_per_s = 0;
};

Window window_of(const std::vector<DataplaneReport>& dataplanes, const std::string& vip,
                 const std::string& address) {
  Window w;
  for (const DataplaneReport& d : dataplanes) {
    if (!d.counters || !d.previous_counters) continue;
    const control::BackendCounters* now = find_counters(d.counters->counters, vip, address);
    const control::BackendCounters* before =
        find_counters(d.previous_counters->counters, vip, address);
    const double dt =
        std::chrono::duration<double>(d.counters->at - d.previous_counters->at).count();
    if (now == nullptr || before == nullptr || dt <= 0) continue;
    for (std::size_t i = 0; i < w.handshakes.size(); ++i)
      w.handshakes[i] += minus(now->handshake_ms_buckets[i], before->handshake_ms_buckets[i]);
    w.new_flows_per_s += static_cast<double>(minus(now->new_flows, before->new_flows)) / dt;
    w.syns_per_s += static_cast<double>(minus(now->syns, before->syns)) / dt;
    w.syn_retransmits_per_s +=
        static_cast<double>(minus(now->syn_retransmits, before->syn_retransmits)) / dt;
  }
  return w;
}

json rounded(double v) {
  return std::round(v * 100) / 100;
}

}  // namespace

json check_latency_quantile(const LatencyHistogram& h, double q) {
  if (h.count() == 0) return nullptr;
  const double rank = q * static_cast<double>(h.count());
  for (std::size_t i = 0; i < LatencyHistogram::kBounds.size(); ++i) {
    if (static_cast<double>(h.bucket(i)) >= rank) return LatencyHistogram::kBounds[i] * 1000;
  }
  return "+Inf";
}

json handshake_quantile(const std::array<std::uint64_t, control::kHandshakeBucketCount>& buckets,
                        double q) {
  std::uint64_t total = 0;
  for (const std::uint64_t n : buckets)
    total += n;
  if (total == 0) return nullptr;
  const double rank = q * static_cast<double>(total);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    seen += buckets[i];
    if (static_cast<double>(seen) >= rank) {
      if (i + 1 == buckets.size()) return "+Inf";
      return static_cast<double>(std::uint64_t{1} << i);  // the bucket's upper bound, ms
    }
  }
  return "+Inf";
}

void add_backend_signals(json& entry, const config::Vip& vip, const config::Backend& pushed,
                         const BackendHealth* health, const WeightReport* weight,
                         const std::vector<DataplaneReport>& dataplanes) {
  const std::string vip_text = config::to_string(config::key_of(vip));
  const std::string address = pushed.address.to_string();
  const Window w = window_of(dataplanes, vip_text, address);
  const std::uint32_t full = pushed.weight * config::weight_scale(vip);
  const std::uint32_t scheduled = config::scheduling_weight(pushed);
  entry["weight_percent"] =
      weight != nullptr ? weight->weight.percent
                        : (full == 0 ? 0u : static_cast<std::uint32_t>(100ull * scheduled / full));
  entry["weight_reason"] = weight != nullptr ? weight->weight.reason : std::string();
  json latency{{"ewma", nullptr}, {"p50", nullptr}, {"p99", nullptr}};
  if (weight != nullptr && weight->check_latency_ms)
    latency["ewma"] = rounded(*weight->check_latency_ms);
  if (health != nullptr) {
    latency["p50"] = check_latency_quantile(health->latency, 0.5);
    latency["p99"] = check_latency_quantile(health->latency, 0.99);
  }
  entry["check_latency_ms"] = std::move(latency);
  entry["handshake_ms"] = json{{"p50", handshake_quantile(w.handshakes, 0.5)},
                               {"p99", handshake_quantile(w.handshakes, 0.99)}};
  entry["new_flows_per_s"] = rounded(w.new_flows_per_s);
  entry["syns_per_s"] = rounded(weight != nullptr ? weight->syns_per_s : w.syns_per_s);
  entry["syn_retransmits_per_s"] =
      rounded(weight != nullptr ? weight->syn_retransmits_per_s : w.syn_retransmits_per_s);
  entry["passive_out"] = weight != nullptr && weight->weight.passive_out;
  if (weight != nullptr && !weight->agent.empty()) entry["agent"] = weight->agent;
}

}  // namespace sluice::cp

#include "api/views.hpp"

#include <chrono>
#include <string>

#include "api/signals_view.hpp"
#include "dataplanes/lcore_load.hpp"
#include "sluice/config/names.hpp"
#include "sluice/lb/maglev.hpp"

namespace sluice::cp {
namespace {

using nlohmann::json;

double unix_seconds(std::chrono::system_clock::time_point t) {
  if (t == std::chrono::system_clock::time_point{}) return 0;
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

const BackendHealth* find_health(const HealthSnapshot& health, const BackendRef& ref) {
  for (const auto& [r, h] : health) {
    if (r == ref) return &h;
  }
  return nullptr;
}

std::string health_word(const BackendHealth* h) {
  if (h == nullptr) return "unchecked";
  return h->healthy ? "up" : "down";
}

std::uint64_t delta(std::uint64_t now, std::uint64_t before) {
  return now >= before ? now - before : 0;
}

// Per-VIP and per-backend counters of one dataplane, keyed for summing.
struct Totals {
  std::uint64_t packets = 0, bytes = 0, new_flows = 0, active_flows = 0;
  double pps = 0, bps = 0, new_flows_per_s = 0;
  // Backends only: the passive signals (docs/dataplane.md), counters and rates.
  std::uint64_t syns = 0, syn_retransmits = 0, handshakes = 0, unanswered = 0, syn_rescued = 0;
  double syn_retransmits_per_s = 0;
};

void add(Totals& t, std::uint64_t packets, std::uint64_t bytes, std::uint64_t new_flows,
         std::uint64_t active_flows) {
  t.packets += packets;
  t.bytes += bytes;
  t.new_flows += new_flows;
  t.active_flows += active_flows;
}

json totals_json(const Totals& t) {
  return json{{"packets", t.packets},
              {"bytes", t.bytes},
              {"new_flows", t.new_flows},
              {"active_flows", t.active_flows},
              {"packets_per_s", t.pps},
              {"bits_per_s", t.bps},
              {"new_flows_per_s", t.new_flows_per_s}};
}

const control::VipCounters* find_vip_counters(const control::Counters& c, const std::string& vip) {
  for (const control::VipCounters& v : c.per_vip) {
    if (v.vip == vip) return &v;
  }
  return nullptr;
}

const control::BackendCounters* find_backend_counters(const control::VipCounters* v,
                                                      const std::string& address) {
  if (v == nullptr) return nullptr;
  for (const control::BackendCounters& b : v->per_backend) {
    if (b.address == address) return &b;
  }
  return nullptr;
}

// Active flows of one backend (or the VIP when address is empty) over every dataplane.
std::uint64_t active_flows(const std::vector<DataplaneReport>& dataplanes, const std::string& vip,
                           const std::string& address) {
  std::uint64_t sum = 0;
  for (const DataplaneReport& d : dataplanes) {
    if (!d.counters) continue;
    const control::VipCounters* v = find_vip_counters(d.counters->counters, vip);
    if (address.empty()) {
      if (v != nullptr) sum += v->active_flows;
    } else if (const control::BackendCounters* b = find_backend_counters(v, address)) {
      sum += b->active_flows;
    }
  }
  return sum;
}

}  // namespace

std::map<IpAddress, double> maglev_shares(const config::Vip& effective_vip) {
  std::map<IpAddress, double> shares;
  if (effective_vip.scheduler != config::Scheduler::maglev || effective_vip.backends.empty()) {
    return shares;
  }
  std::vector<lb::MaglevBackend> backends;
  backends.reserve(effective_vip.backends.size());
  for (const config::Backend& b : effective_vip.backends) {
    backends.push_back(lb::MaglevBackend{b.address.to_string(), config::scheduling_weight(b)});
  }
  Result<lb::MaglevTable> table = lb::build_maglev(backends, effective_vip.maglev_table_size);
  if (!table.ok()) return shares;
  std::vector<std::uint64_t> slots(backends.size(), 0);
  for (const std::uint16_t slot : table->slots()) {
    if (slot < slots.size()) ++slots[slot];
  }
  for (std::size_t i = 0; i < backends.size(); ++i) {
    shares[effective_vip.backends[i].address] =
        static_cast<double>(slots[i]) / static_cast<double>(table->size());
  }
  return shares;
}

json dataplanes_view(const std::vector<DataplaneReport>& dataplanes) {
  json out = json::array();
  for (const DataplaneReport& d : dataplanes) {
    out.push_back(json{{"name", d.name},
                       {"socket", d.socket},
                       {"reachable", d.reachable},
                       {"in_sync", d.in_sync},
                       {"generation", d.generation},
                       {"uptime_ms", d.uptime_ms},
                       {"pushes", d.pushes},
                       {"push_failures", d.push_failures},
                       {"consecutive_failures", d.consecutive_failures},
                       {"retry_in_ms", d.retry_in.count()},
                       {"last_error", d.last_error}});
  }
  return out;
}

json status_view(const StatusInputs& in) {
  json vips = json::array();
  for (const config::Vip& vip : in.desired.vips) {
    const config::VipKey key = config::key_of(vip);
    const std::string key_text = config::to_string(key);
    const config::Vip* effective = config::find_vip(in.effective.state, key);
    const std::map<IpAddress, double> shares =
        effective ? maglev_shares(*effective) : std::map<IpAddress, double>{};

    bool all_down = false;
    for (const AllDownVip& d : in.effective.all_down)
      all_down = all_down || d.vip == key_text;

    json backends = json::array();
    for (const config::Backend& b : vip.backends) {
      const BackendHealth* h = find_health(in.health, BackendRef{key, b.address});
      const config::Backend* pushed =
          effective != nullptr ? config::find_backend(*effective, b.address) : nullptr;
      // Not pushed yet (a change in flight): what the intent alone says.
      const config::Backend& view = pushed != nullptr ? *pushed : b;
      const auto share = shares.find(b.address);
      const WeightReport* weight = nullptr;
      if (in.weights != nullptr && config::adaptive_weights(vip)) {
        const auto it = in.weights->find(BackendRef{key, b.address});
        if (it != in.weights->end()) weight = &it->second;
      }
      json entry{
          {"address", b.address.to_string()},
          {"weight", b.weight},
          {"drained", b.drained},
          {"health", health_word(h)},
          {"state", config::to_string(config::pushed_state(view))},
          {"effective_weight", config::scheduling_weight(view)},
          {"maglev_share", share != shares.end() ? json(share->second) : json(nullptr)},
          {"active_flows", active_flows(in.dataplanes, key_text, b.address.to_string())},
      };
      add_backend_signals(entry, vip, view, h, weight, in.dataplanes);
      backends.push_back(std::move(entry));
    }
    std::pair<std::uint64_t, std::uint64_t> published{0, 0};
    if (in.publications != nullptr) {
      const auto it = in.publications->find(key_text);
      if (it != in.publications->end()) published = it->second;
    }
    // Second chance: the previous table in force on this host (the effective state drops it
    // once it has expired), and until when.
    json previous_until = nullptr;
    if (effective != nullptr && effective->previous && config::second_chance_enabled(vip)) {
      previous_until = effective->previous->replaced_at + in.desired.dataplane.flow_idle_timeout_s;
    }
    vips.push_back(json{{"vip", key_text},
                        {"scheduler", config::to_string(vip.scheduler)},
                        {"encap", config::to_string(vip.encap)},
                        {"second_chance", config::second_chance_enabled(vip)},
                        {"previous_table_until", previous_until},
                        {"all_down_policy", config::to_string(vip.all_down)},
                        {"all_down", all_down},
                        {"active_flows", active_flows(in.dataplanes, key_text, "")},
                        {"weights", config::to_string(vip.weights)},
                        {"slow_start_s", vip.slow_start_s},
                        {"weight_publications", published.first},
                        {"weight_slots_moved", published.second},
                        {"backends", std::move(backends)}});
  }
  std::uint64_t local_errors = 0;
  for (const auto& [ref, h] : in.health)
    local_errors += h.local_errors;
  return json{{"generation", in.generation},
              {"revision", in.revision},
              {"health_local_errors", local_errors},
              {"dataplanes", dataplanes_view(in.dataplanes)},
              {"vips", std::move(vips)}};
}

json stats_view(const std::vector<DataplaneReport>& dataplanes) {
  std::map<std::string, Totals> vips;
  std::map<std::string, std::map<std::string, Totals>> backends;
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> second_hops;  // flows, packets
  std::map<std::string, std::uint64_t> events;
  std::map<std::string, std::pair<std::uint64_t, double>> drops;
  json lcores = json::array();
  double interval_s = 0;

  for (const DataplaneReport& d : dataplanes) {
    if (!d.counters) continue;
    const control::Counters& now = d.counters->counters;
    const control::Counters* before =
        d.previous_counters ? &d.previous_counters->counters : nullptr;
    const double dt =
        before ? std::chrono::duration<double>(d.counters->at - d.previous_counters->at).count()
               : 0;
    if (dt > 0) interval_s = std::max(interval_s, dt);
    auto rate = [&](std::uint64_t n, std::uint64_t b) {
      return dt > 0 ? static_cast<double>(delta(n, b)) / dt : 0.0;
    };

    for (const control::VipCounters& v : now.per_vip) {
      const control::VipCounters* pv = before ? find_vip_counters(*before, v.vip) : nullptr;
      Totals& t = vips[v.vip];
      add(t, v.packets, v.bytes, v.new_flows, v.active_flows);
      second_hops[v.vip].first += v.second_hop_flows;
      second_hops[v.vip].second += v.second_hop_packets;
      if (pv != nullptr) {
        t.pps += rate(v.packets, pv->packets);
        t.bps += rate(v.bytes, pv->bytes) * 8;
        t.new_flows_per_s += rate(v.new_flows, pv->new_flows);
      }
      for (const control::BackendCounters& b : v.per_backend) {
        const control::BackendCounters* pb = find_backend_counters(pv, b.address);
        Totals& bt = backends[v.vip][b.address];
        add(bt, b.packets, b.bytes, b.new_flows, b.active_flows);
        bt.syns += b.syns;
        bt.syn_retransmits += b.syn_retransmits;
        bt.handshakes += b.handshakes;
        bt.unanswered += b.unanswered;
        bt.syn_rescued += b.syn_rescued;
        if (pb != nullptr) bt.syn_retransmits_per_s += rate(b.syn_retransmits, pb->syn_retransmits);
        if (pb != nullptr) {
          bt.pps += rate(b.packets, pb->packets);
          bt.bps += rate(b.bytes, pb->bytes) * 8;
          bt.new_flows_per_s += rate(b.new_flows, pb->new_flows);
        }
      }
    }
    for (const auto& [event, count] : now.events)
      events[event] += count;
    for (const auto& [reason, count] : now.drops) {
      auto& [total, per_s] = drops[reason];
      total += count;
      if (before != nullptr) {
        const auto it = before->drops.find(reason);
        if (it != before->drops.end()) per_s += rate(count, it->second);
      }
    }
    for (const control::LcoreCounters& l : now.per_lcore) {
      const control::LcoreCounters* pl = nullptr;
      if (before != nullptr) {
        for (const control::LcoreCounters& c : before->per_lcore) {
          if (c.lcore == l.lcore) pl = &c;
        }
      }
      const auto elapsed = before ? std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        d.counters->at - d.previous_counters->at)
                                  : std::chrono::nanoseconds(0);
      lcores.push_back(json{{"dataplane", d.name},
                            {"lcore", l.lcore},
                            {"rx_packets", l.rx_packets},
                            {"tx_packets", l.tx_packets},
                            {"rx_packets_per_s", pl ? rate(l.rx_packets, pl->rx_packets) : 0.0},
                            {"tx_packets_per_s", pl ? rate(l.tx_packets, pl->tx_packets) : 0.0},
                            {"load", lcore_load(l, pl, elapsed)}});
    }
  }

  json vip_list = json::array();
  for (const auto& [vip, totals] : vips) {
    json entry = totals_json(totals);
    entry["vip"] = vip;
    entry["second_hop_flows"] = second_hops[vip].first;
    entry["second_hop_packets"] = second_hops[vip].second;
    json backend_list = json::array();
    for (const auto& [address, bt] : backends[vip]) {
      json b = totals_json(bt);
      b["address"] = address;
      b["syns"] = bt.syns;
      b["syn_retransmits"] = bt.syn_retransmits;
      b["syn_retransmits_per_s"] = bt.syn_retransmits_per_s;
      b["handshakes"] = bt.handshakes;
      b["unanswered"] = bt.unanswered;
      b["syn_rescued"] = bt.syn_rescued;
      backend_list.push_back(std::move(b));
    }
    entry["backends"] = std::move(backend_list);
    vip_list.push_back(std::move(entry));
  }
  json drop_list = json::array();
  for (const auto& [reason, value] : drops) {
    drop_list.push_back(
        json{{"reason", reason}, {"packets", value.first}, {"packets_per_s", value.second}});
  }
  return json{{"interval_s", interval_s},      {"vips", std::move(vip_list)},
              {"drops", std::move(drop_list)}, {"events", events},
              {"lcores", std::move(lcores)},   {"dataplanes", dataplanes_view(dataplanes)}};
}

json health_view(const config::State& desired, const HealthSnapshot& health) {
  json out = json::array();
  for (const config::Vip& vip : desired.vips) {
    const config::VipKey key = config::key_of(vip);
    for (const config::Backend& b : vip.backends) {
      const BackendHealth* h = find_health(health, BackendRef{key, b.address});
      json entry{{"vip", config::to_string(key)},
                 {"address", b.address.to_string()},
                 {"health", health_word(h)}};
      if (h != nullptr) {
        entry["check"] = h->target;
        entry["since"] = unix_seconds(h->since);
        entry["reason"] = h->reason;
        entry["streak"] = h->streak;
        entry["rise"] = h->rise;
        entry["fall"] = h->fall;
        entry["checks"] = h->checks;
        entry["failures"] = h->failures;
        entry["local_errors"] = h->local_errors;
        entry["latency_avg_ms"] =
            h->latency.count() > 0
                ? h->latency.sum_seconds() * 1000 / static_cast<double>(h->latency.count())
                : 0.0;
        if (h->last) {
          entry["last"] =
              json{{"success", h->last->success},
                   {"local_error", h->last->local_error},
                   {"latency_ms", static_cast<double>(h->last->latency.count()) / 1000.0},
                   {"detail", h->last->detail},
                   {"at", unix_seconds(h->last_checked)}};
        } else {
          entry["last"] = nullptr;
        }
      } else {
        entry["check"] = "none";
        entry["reason"] = "no health check configured";
      }
      out.push_back(std::move(entry));
    }
  }
  return json{{"backends", std::move(out)}};
}

json state_store_view(const StateStoreStatus& status) {
  if (status.kind == "file") {
    return json{{"kind", "file"}, {"file", status.file}, {"revision", status.revision}};
  }
  return json{{"kind", status.kind},
              {"endpoints", status.endpoints},
              {"key", status.key},
              {"host_name", status.host_name},
              {"connected", status.connected},
              {"last_error", status.last_error},
              {"revision", status.revision},
              {"read_revision", status.read_revision},
              {"refused", status.refused}};
}

}  // namespace sluice::cp

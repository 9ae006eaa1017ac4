#include "telemetry_source.hpp"

#include <algorithm>
#include <mutex>

#include "sluice/config/names.hpp"

namespace sluice::dataplane {
namespace {

// Telemetry runs on its own thread: read the snapshot under the state's readers lock.
control::Counters locked_counters(const DataplaneView& view) {
  std::lock_guard lock(view.state->readers_mutex());
  return collect_counters(view);
}

template <typename Counters>
nlohmann::json object_counters(const Counters& c) {
  return {{"packets", c.packets},
          {"bytes", c.bytes},
          {"new_flows", c.new_flows},
          {"active_flows", c.active_flows}};
}

}  // namespace

TelemetrySource make_telemetry_source(const DataplaneView& view) {
  TelemetrySource s;
  s.status = [&view] {
    std::lock_guard lock(view.state->readers_mutex());
    const auto st = collect_status(view);
    return nlohmann::json{
        {"version", st.version},          {"generation", st.generation},
        {"uptime_ms", st.uptime_ms},      {"vips", st.vips},
        {"workers", view.workers.size()}, {"flow_table_entries", st.flow_table_entries}};
  };
  s.counters = [&view] {
    const auto c = locked_counters(view);
    const control::LcoreCounters sum = control::total_of(c.per_lcore);
    nlohmann::json out = nlohmann::json::object();
    for (const auto& l : c.per_lcore) {
      out["lcore_" + std::to_string(l.lcore)] = {{"rx_packets", l.rx_packets},
                                                 {"tx_packets", l.tx_packets},
                                                 {"forward", l.forward},
                                                 {"reply", l.reply},
                                                 {"pass", l.pass},
                                                 {"drop", l.drop},
                                                 {"rx_polls", l.rx_polls},
                                                 {"idle_polls", l.idle_polls},
                                                 {"busy_polls", l.busy_polls},
                                                 {"max_loop_gap_ns", l.max_loop_gap_ns},
                                                 {"sleeps", l.sleeps},
                                                 {"slept_ns", l.slept_ns}};
    }
    out["generation"] = c.generation;
    out["rx_packets"] = sum.rx_packets;
    out["tx_packets"] = sum.tx_packets;
    out["forward"] = sum.forward;
    out["reply"] = sum.reply;
    out["pass"] = sum.pass;
    out["drop"] = sum.drop;
    out["rx_polls"] = sum.rx_polls;
    out["idle_polls"] = sum.idle_polls;
    out["busy_polls"] = sum.busy_polls;
    out["max_loop_gap_ns"] = sum.max_loop_gap_ns;  // the worst worker
    out["sleeps"] = sum.sleeps;
    out["slept_ns"] = sum.slept_ns;
    return out;
  };
  s.drops = [&view] {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [name, count] : locked_counters(view).drops)
      out[name] = count;
    return out;
  };
  // Telemetry dict keys may only hold letters, digits, '_' and '/': VIP keys and addresses
  // go into a "vip" / "address" value, under "vip_<i>" / "backend_<i>" keys.
  s.vips = [&view] {
    nlohmann::json out = nlohmann::json::object();
    std::size_t i = 0;
    for (const auto& v : locked_counters(view).per_vip) {
      auto o = object_counters(v);
      o["dropped"] = v.dropped;
      o["replied"] = v.replied;
      o["vip"] = v.vip;
      o["backends"] = v.per_backend.size();
      out["vip_" + std::to_string(i++)] = o;
    }
    return out;
  };
  s.backends = [&view](std::string_view vip) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& v : locked_counters(view).per_vip) {
      if (v.vip != vip) continue;
      std::size_t i = 0;
      for (const auto& b : v.per_backend) {
        auto o = object_counters(b);
        o["rescheduled_flows"] = b.rescheduled_flows;
        o["state"] = std::string(config::to_string(b.state));
        o["address"] = b.address;
        out["backend_" + std::to_string(i++)] = o;
      }
    }
    return out;
  };
  return s;
}

}  // namespace sluice::dataplane

#include "telemetry_source.hpp"

#include <mutex>

namespace sluice::dataplane {
namespace {

// Telemetry runs on its own thread: read the snapshot under the state's readers lock.
control::Counters locked_counters(const DataplaneView& view) {
  std::lock_guard lock(view.state->readers_mutex());
  return collect_counters(view);
}

nlohmann::json object_counters(std::uint64_t packets, std::uint64_t bytes, std::uint64_t new_flows,
                               std::uint64_t active_flows) {
  return {{"packets", packets},
          {"bytes", bytes},
          {"new_flows", new_flows},
          {"active_flows", active_flows}};
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
    std::uint64_t rx = 0, tx = 0, polls = 0, idle = 0, busy = 0, dropped = 0;
    nlohmann::json out = nlohmann::json::object();
    for (const auto& l : c.per_lcore) {
      rx += l.rx_packets;
      tx += l.tx_packets;
      polls += l.rx_polls;
      idle += l.idle_polls;
      busy += l.busy_polls;
      out["lcore_" + std::to_string(l.lcore)] = {{"rx_packets", l.rx_packets},
                                                 {"tx_packets", l.tx_packets},
                                                 {"rx_polls", l.rx_polls},
                                                 {"idle_polls", l.idle_polls},
                                                 {"busy_polls", l.busy_polls}};
    }
    for (const auto& [name, count] : c.drops)
      dropped += count;
    out["generation"] = c.generation;
    out["rx_packets"] = rx;
    out["tx_packets"] = tx;
    out["rx_polls"] = polls;
    out["idle_polls"] = idle;
    out["busy_polls"] = busy;
    out["dropped"] = dropped;
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
      auto o = object_counters(v.packets, v.bytes, v.new_flows, v.active_flows);
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
        auto o = object_counters(b.packets, b.bytes, b.new_flows, b.active_flows);
        o["address"] = b.address;
        out["backend_" + std::to_string(i++)] = o;
      }
    }
    return out;
  };
  return s;
}

}  // namespace sluice::dataplane

#include "announce/announce_view.hpp"

#include "sluice/config/names.hpp"

namespace sluice::cp {
namespace {

using nlohmann::json;

json unix_seconds(SystemTime t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

json vip_json(const VipAnnouncement& a) {
  return json{{"vip", a.vip},
              {"announce", config::to_string(a.policy)},
              {"announced", a.announced},
              {"graceful_shutdown", a.graceful_shutdown},
              {"reason", a.reason}};
}

}  // namespace

json host_view(const AnnounceReport& report, const std::vector<DataplaneReport>& dataplanes) {
  json vips = json::array();
  for (const VipAnnouncement& a : report.vips)
    vips.push_back(vip_json(a));
  json protocols = json::array();
  for (const BirdProtocol& p : report.protocols) {
    protocols.push_back(json{{"name", p.name},
                             {"proto", p.proto},
                             {"state", p.state},
                             {"since", p.since},
                             {"info", p.info},
                             {"session_up", p.session_up()}});
  }
  // What still arrives, from the counters DataplaneSync collects (about every second).
  json locals = json::array();
  std::uint64_t total_flows = 0;
  double total_pps = 0;
  for (const DataplaneReport& d : dataplanes) {
    std::uint64_t flows = 0;
    json pps = nullptr;
    if (d.counters) {
      for (const control::VipCounters& v : d.counters->counters.per_vip)
        flows += v.active_flows;
      if (d.previous_counters) {
        const double seconds =
            std::chrono::duration<double>(d.counters->at - d.previous_counters->at).count();
        const std::uint64_t now = control::total_of(d.counters->counters.per_lcore).rx_packets;
        const std::uint64_t before =
            control::total_of(d.previous_counters->counters.per_lcore).rx_packets;
        if (seconds > 0 && now >= before) {
          const double rate = static_cast<double>(now - before) / seconds;
          pps = rate;
          total_pps += rate;
        }
      }
    }
    total_flows += flows;
    json live = json::object();
    for (const DataplaneLiveness& l : report.dataplanes) {
      if (l.name != d.name) continue;
      live = json{{"reachable", l.reachable},
                  {"in_sync", l.in_sync},
                  {"stalled", l.stalled},
                  {"error", l.error}};
    }
    locals.push_back(json{{"name", d.name},
                          {"reachable", d.reachable},
                          {"active_flows", flows},
                          {"rx_pps", pps},
                          {"liveness", std::move(live)}});
  }
  return json{
      {"host_name", report.host_name},
      {"bgp", report.bgp},
      {"drained", report.drain.drained},
      {"drained_since", report.drain.drained ? unix_seconds(report.drain.since) : json(nullptr)},
      {"graceful_shutdown", report.drain.drained && report.drain.graceful_shutdown},
      {"withdraw_at", report.drain.drained ? unix_seconds(report.withdraw_at) : json(nullptr)},
      {"health_round_done", report.health_round_done},
      {"announced", std::count_if(report.vips.begin(), report.vips.end(),
                                  [](const VipAnnouncement& a) { return a.announced; })},
      {"vips", std::move(vips)},
      {"protocols", std::move(protocols)},
      {"bird_error", report.bird_error},
      {"bird_pid", report.bird_pid > 0 ? json(report.bird_pid) : json(nullptr)},
      {"configures", report.configures},
      {"configure_failures", report.configure_failures},
      {"active_flows", total_flows},
      {"rx_pps", total_pps},
      {"dataplanes", std::move(locals)},
  };
}

void add_announcements(json& status, const AnnounceReport& report) {
  status["host"] = json{
      {"name", report.host_name},
      {"drained", report.drain.drained},
      {"drained_since", report.drain.drained ? unix_seconds(report.drain.since) : json(nullptr)}};
  if (!status.contains("vips")) return;
  for (json& v : status["vips"]) {
    for (const VipAnnouncement& a : report.vips) {
      if (v.value("vip", "") != a.vip) continue;
      v["announce"] = config::to_string(a.policy);
      v["announced"] = a.announced;
      v["announce_reason"] = a.reason;
    }
  }
}

}  // namespace sluice::cp

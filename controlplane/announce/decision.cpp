#include "announce/decision.hpp"

#include <ctime>
#include <map>

#include "sluice/config/names.hpp"

namespace sluice::cp {
namespace {

using config::AnnouncePolicy;

bool has_backend_up(const config::Vip& vip, const EffectiveState& effective) {
  const std::string key = config::vip_key(vip);
  for (const AllDownVip& d : effective.all_down) {
    if (d.vip == key) return false;
  }
  const config::Vip* pushed = config::find_vip(effective.state, config::key_of(vip));
  if (pushed == nullptr) return false;
  for (const config::Backend& b : pushed->backends) {
    if (config::pushed_state(b) == config::BackendState::up && config::scheduling_weight(b) > 0)
      return true;
  }
  return false;
}

// Why the local dataplanes cannot serve the VIPs, or "" when they can.
std::string dataplane_problem(const HostConditions& host) {
  if (host.dataplanes.empty()) return "no local dataplane configured";
  for (const DataplaneLiveness& d : host.dataplanes) {
    const std::string name = "dataplane " + d.name;
    if (!d.reachable) {
      return name + " unreachable since " + clock_time(d.unreachable_since) +
             (d.error.empty() ? "" : " (" + d.error + ")");
    }
    if (d.stalled) {
      return name + " worker lcore " + std::to_string(d.stalled_lcore) + " stopped polling at " +
             clock_time(d.stalled_since);
    }
    if (!d.synced) {
      return name + " does not run the current generation yet (runs " +
             std::to_string(d.generation) + ", current " + std::to_string(host.generation) + ")";
    }
    if (!d.in_sync && host.now - d.out_of_sync_since > host.sync_grace) {
      return name + " has not run the current generation since " + clock_time(d.out_of_sync_since) +
             " (runs " + std::to_string(d.generation) + ", current " +
             std::to_string(host.generation) + ")";
    }
  }
  return "";
}

}  // namespace

std::string clock_time(SystemTime t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char text[16];
  if (std::strftime(text, sizeof text, "%H:%M:%S", &tm) == 0) return "?";
  return text;
}

std::vector<VipAnnouncement> decide_announcements(const config::State& desired,
                                                  const EffectiveState& effective,
                                                  const HostConditions& host) {
  const std::string problem = dataplane_problem(host);
  const std::string drained = "host drained since " + clock_time(host.drained_since);
  std::vector<VipAnnouncement> out;
  out.reserve(desired.vips.size());
  for (const config::Vip& vip : desired.vips) {
    VipAnnouncement a;
    a.vip = config::vip_key(vip);
    a.address = vip.address;
    a.policy = vip.announce;
    std::string withdrawn;  // empty: it would be announced if the host were not drained
    switch (vip.announce) {
      case AnnouncePolicy::never:
        withdrawn = "policy never";
        break;
      case AnnouncePolicy::always:
        break;
      case AnnouncePolicy::when_healthy:
        if (!problem.empty()) {
          withdrawn = problem;
        } else if (!host.health_round_done) {
          withdrawn = "waiting for the first round of health checks";
        } else if (!has_backend_up(vip, effective)) {
          withdrawn = "no backend up";
        }
        break;
    }
    if (!withdrawn.empty()) {
      a.reason = "withdrawn: " + withdrawn;
    } else if (host.drained && host.graceful_phase) {
      a.announced = true;
      a.graceful_shutdown = true;
      a.reason = "announced with GRACEFUL_SHUTDOWN (65535,0): " + drained;
    } else if (host.drained) {
      a.reason = "withdrawn: " + drained;
    } else {
      a.announced = true;
      a.reason = vip.announce == AnnouncePolicy::always ? "announced (policy always)" : "announced";
    }
    out.push_back(std::move(a));
  }
  return out;
}

std::string render_include(const std::vector<VipAnnouncement>& announcements, bool ipv6) {
  std::map<IpAddress, bool> routes;  // address -> tagged
  for (const VipAnnouncement& a : announcements) {
    if (!a.announced || a.address.is_v6() != ipv6) continue;
    const auto [it, inserted] = routes.emplace(a.address, a.graceful_shutdown);
    if (!inserted) it->second = it->second && a.graceful_shutdown;
  }
  std::string text =
      "# Written by sluice-controlplane: the VIPs this host announces. Do not edit.\n";
  const char* length = ipv6 ? "/128" : "/32";
  for (const auto& [address, tagged] : routes) {
    text += "route " + address.to_string() + length + " blackhole";
    text += tagged ? " { bgp_community.add((65535,0)); };\n" : ";\n";
  }
  return text;
}

}  // namespace sluice::cp

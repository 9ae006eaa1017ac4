#include "state_diff.hpp"

#include <fmt/format.h>

#include <map>

#include "sluice/config/names.hpp"

namespace sluice::dataplane {
namespace {

std::map<config::VipKey, const config::Vip*> index_vips(const config::State& s) {
  std::map<config::VipKey, const config::Vip*> out;
  for (const auto& v : s.vips)
    out.emplace(config::key_of(v), &v);
  return out;
}

std::map<IpAddress, const config::Backend*> index_backends(const config::Vip& v) {
  std::map<IpAddress, const config::Backend*> out;
  for (const auto& b : v.backends)
    out.emplace(b.address, &b);
  return out;
}

void describe_vip_settings(const std::string& name, const config::Vip& a, const config::Vip& b,
                           std::vector<std::string>& out) {
  if (a.scheduler != b.scheduler) {
    out.push_back(fmt::format("vip {}: scheduler {} -> {}", name, config::to_string(a.scheduler),
                              config::to_string(b.scheduler)));
  }
  if (a.encap != b.encap) {
    out.push_back(fmt::format("vip {}: encap {} -> {}", name, config::to_string(a.encap),
                              config::to_string(b.encap)));
  }
  if (a.maglev_table_size != b.maglev_table_size) {
    out.push_back(fmt::format("vip {}: maglev_table_size {} -> {}", name, a.maglev_table_size,
                              b.maglev_table_size));
  }
  if (a.new_flows_per_s != b.new_flows_per_s) {
    out.push_back(fmt::format("vip {}: new_flows_per_s {} -> {}", name, a.new_flows_per_s,
                              b.new_flows_per_s));
  }
  if (a.fragments != b.fragments) {
    out.push_back(fmt::format("vip {}: fragments {} -> {}", name, config::to_string(a.fragments),
                              config::to_string(b.fragments)));
  }
}

// "up weight 3", "draining", "down": what the dataplane acts on.
std::string describe(const config::Backend& b) {
  const config::BackendState state = config::pushed_state(b);
  if (state != config::BackendState::up) return std::string(config::to_string(state));
  return fmt::format("up weight {}", config::scheduling_weight(b));
}

void describe_backends(const std::string& name, const config::Vip& a, const config::Vip& b,
                       std::vector<std::string>& out) {
  const auto before = index_backends(a);
  const auto after = index_backends(b);
  for (const auto& [address, backend] : after) {
    auto it = before.find(address);
    if (it == before.end()) {
      out.push_back(fmt::format("vip {}: backend {} added ({})", name, address.to_string(),
                                describe(*backend)));
    } else if (const std::string was = describe(*it->second), now = describe(*backend);
               was != now) {
      const char* why = config::pushed_state(*backend) == config::BackendState::down
                            ? ": its flows are rescheduled"
                        : config::pushed_state(*backend) == config::BackendState::draining
                            ? ": it keeps its flows, gets no new ones"
                            : "";
      out.push_back(
          fmt::format("vip {}: backend {} {} -> {}{}", name, address.to_string(), was, now, why));
    }
  }
  for (const auto& [address, backend] : before) {
    if (!after.contains(address)) {
      out.push_back(fmt::format("vip {}: backend {} removed (its flows are rescheduled)", name,
                                address.to_string()));
    }
  }
}

std::string optional_address(const std::optional<IpAddress>& a) {
  return a ? a->to_string() : "none";
}

void describe_settings(const config::DataplaneSettings& a, const config::DataplaneSettings& b,
                       std::vector<std::string>& out) {
  auto field = [&out](const char* name, const auto& x, const auto& y) {
    if (x != y) out.push_back(fmt::format("dataplane.{} {} -> {}", name, x, y));
  };
  field("next_hop_mac", config::format_mac(a.next_hop_mac), config::format_mac(b.next_hop_mac));
  field("tunnel_source_v4", optional_address(a.tunnel_source_v4),
        optional_address(b.tunnel_source_v4));
  field("tunnel_source_v6", optional_address(a.tunnel_source_v6),
        optional_address(b.tunnel_source_v6));
  field("mtu", a.mtu, b.mtu);
  field("gue_port", a.gue_port, b.gue_port);
  field("outer_ttl", a.outer_ttl, b.outer_ttl);
  field("flow_table_entries", a.flow_table_entries, b.flow_table_entries);
  field("flow_idle_timeout_s", a.flow_idle_timeout_s, b.flow_idle_timeout_s);
  field("flow_closed_timeout_s", a.flow_closed_timeout_s, b.flow_closed_timeout_s);
  field("flow_open_timeout_s", a.flow_open_timeout_s, b.flow_open_timeout_s);
  field("udp_idle_timeout_s", a.udp_idle_timeout_s, b.udp_idle_timeout_s);
}

}  // namespace

std::vector<std::string> describe_changes(const config::State& before, const config::State& after) {
  std::vector<std::string> out;
  describe_settings(before.dataplane, after.dataplane, out);
  const auto a = index_vips(before);
  const auto b = index_vips(after);
  for (const auto& [key, vip] : b) {
    const std::string name = config::to_string(key);
    auto it = a.find(key);
    if (it == a.end()) {
      out.push_back(fmt::format("vip {} added ({} backends, {}, {})", name, vip->backends.size(),
                                config::to_string(vip->scheduler), config::to_string(vip->encap)));
      continue;
    }
    describe_vip_settings(name, *it->second, *vip, out);
    describe_backends(name, *it->second, *vip, out);
  }
  for (const auto& [key, vip] : a) {
    if (!b.contains(key)) out.push_back(fmt::format("vip {} removed", config::to_string(key)));
  }
  return out;
}

}  // namespace sluice::dataplane

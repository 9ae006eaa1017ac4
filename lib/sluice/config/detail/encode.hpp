// Internal: the State as a JSON tree, in the field order of docs/config.md. Templated on the
// JSON type: nlohmann::json for the wire, nlohmann::ordered_json for the YAML writer (which
// keeps that order so a persisted file reads like the reference).
#pragma once

#include "sluice/config/model.hpp"
#include "sluice/config/names.hpp"

namespace sluice::config::detail {

// Fields that belong to another check type are written only when they differ from the
// default, so a tcp check stays short and an odd state still round-trips exactly.
template <typename J>
J encode_health_check(const HealthCheck& c) {
  static const HealthCheck kDefaults;
  const bool http = c.type == HealthCheckType::http || c.type == HealthCheckType::https;
  const bool udp = c.type == HealthCheckType::udp;
  J j = J::object();
  j["type"] = std::string(to_string(c.type));
  j["port"] = c.port;
  j["interval_ms"] = c.interval_ms;
  j["timeout_ms"] = c.timeout_ms;
  j["rise"] = c.rise;
  j["fall"] = c.fall;
  if (http || c.http_path != kDefaults.http_path) j["path"] = c.http_path;
  if (http || c.http_host != kDefaults.http_host) j["host"] = c.http_host;
  if (http || c.expect_status != kDefaults.expect_status) j["expect_status"] = c.expect_status;
  if (http || c.expect_body != kDefaults.expect_body) j["expect_body"] = c.expect_body;
  if (udp || c.udp_request != kDefaults.udp_request) j["request"] = c.udp_request;
  if (udp || c.udp_expect != kDefaults.udp_expect) j["expect"] = c.udp_expect;
  return j;
}

template <typename J>
J encode_backend(const Backend& b) {
  J j = J::object();
  j["address"] = b.address.to_string();
  j["weight"] = b.weight;
  j["drained"] = b.drained;
  if (b.health_check) j["health_check"] = encode_health_check<J>(*b.health_check);
  if (b.state) j["state"] = std::string(to_string(*b.state));
  if (b.effective_weight) j["effective_weight"] = *b.effective_weight;
  return j;
}

template <typename J>
J encode_vip(const Vip& v) {
  J j = J::object();
  j["address"] = v.address.to_string();
  j["port"] = v.port;
  j["protocol"] = std::string(to_string(v.protocol));
  j["scheduler"] = std::string(to_string(v.scheduler));
  j["encap"] = std::string(to_string(v.encap));
  j["maglev_table_size"] = v.maglev_table_size;
  j["fragments"] = std::string(to_string(v.fragments));
  j["all_down"] = std::string(to_string(v.all_down));
  j["new_flows_per_s"] = v.new_flows_per_s;
  j["announce"] = std::string(to_string(v.announce));
  if (v.second_chance) j["second_chance"] = *v.second_chance ? "on" : "off";
  if (v.syn_rescue) j["syn_rescue"] = *v.syn_rescue ? "on" : "off";
  if (v.weights != WeightPolicy::static_weights) j["weights"] = std::string(to_string(v.weights));
  if (v.slow_start_s != 0) j["slow_start_s"] = v.slow_start_s;
  if (v.agent_check) {
    J a = J::object();
    a["port"] = v.agent_check->port;
    a["interval_ms"] = v.agent_check->interval_ms;
    a["timeout_ms"] = v.agent_check->timeout_ms;
    j["agent_check"] = std::move(a);
  }
  if (v.passive_failure) j["passive_failure"] = *v.passive_failure ? "on" : "off";
  if (v.health_check) j["health_check"] = encode_health_check<J>(*v.health_check);
  J backends = J::array();
  for (const Backend& b : v.backends)
    backends.push_back(encode_backend<J>(b));
  j["backends"] = std::move(backends);
  if (v.previous) {
    J previous = J::object();
    previous["replaced_at"] = v.previous->replaced_at;
    previous["since"] = v.previous->since;
    previous["current_since"] = v.previous->current_since;
    J list = J::array();
    for (const PreviousBackend& b : v.previous->backends) {
      J e = J::object();
      e["address"] = b.address.to_string();
      e["weight"] = b.weight;
      list.push_back(std::move(e));
    }
    previous["backends"] = std::move(list);
    j["previous"] = std::move(previous);
  }
  return j;
}

template <typename J>
J encode_dataplane_settings(const DataplaneSettings& s) {
  J j = J::object();
  j["next_hop_mac"] = format_mac(s.next_hop_mac);
  if (s.tunnel_source_v4) j["tunnel_source_v4"] = s.tunnel_source_v4->to_string();
  if (s.tunnel_source_v6) j["tunnel_source_v6"] = s.tunnel_source_v6->to_string();
  j["mtu"] = s.mtu;
  j["gue_port"] = s.gue_port;
  j["outer_ttl"] = s.outer_ttl;
  j["flow_table_entries"] = s.flow_table_entries;
  j["flow_idle_timeout_s"] = s.flow_idle_timeout_s;
  j["flow_closed_timeout_s"] = s.flow_closed_timeout_s;
  j["flow_open_timeout_s"] = s.flow_open_timeout_s;
  j["udp_idle_timeout_s"] = s.udp_idle_timeout_s;
  return j;
}

template <typename J>
J encode_state(const State& s) {
  J j = J::object();
  j["generation"] = s.generation;
  j["dataplane"] = encode_dataplane_settings<J>(s.dataplane);
  J vips = J::array();
  for (const Vip& v : s.vips)
    vips.push_back(encode_vip<J>(v));
  j["vips"] = std::move(vips);
  if (s.controlplane) {
    J cp = J::object();
    const ControlplaneSettings& c = *s.controlplane;
    if (!c.host_name.empty()) cp["host_name"] = c.host_name;
    cp["state_store"] = c.state_store == StateStoreKind::etcd ? "etcd" : "file";
    if (c.etcd) {
      J etcd = J::object();
      J endpoints = J::array();
      for (const std::string& e : c.etcd->endpoints)
        endpoints.push_back(e);
      etcd["endpoints"] = std::move(endpoints);
      etcd["prefix"] = c.etcd->prefix;
      if (c.etcd->tls) {
        J tls = J::object();
        tls["ca_file"] = c.etcd->tls->ca_file;
        tls["cert_file"] = c.etcd->tls->cert_file;
        tls["key_file"] = c.etcd->tls->key_file;
        etcd["tls"] = std::move(tls);
      }
      cp["etcd"] = std::move(etcd);
    }
    cp["api_socket"] = s.controlplane->api_socket;
    cp["state_file"] = s.controlplane->state_file;
    cp["metrics_listen"] = s.controlplane->metrics_listen;
    cp["api_max_connections"] = s.controlplane->api_max_connections;
    cp["host_state_file"] = s.controlplane->host_state_file;
    if (const auto& bgp = s.controlplane->bgp) {
      J b = J::object();
      b["bird_socket"] = bgp->bird_socket;
      b["include_v4"] = bgp->include_v4;
      b["include_v6"] = bgp->include_v6;
      J command = J::array();
      for (const std::string& arg : bgp->bird_command)
        command.push_back(arg);
      b["bird_command"] = std::move(command);
      b["graceful_shutdown"] = bgp->graceful_shutdown;
      b["graceful_shutdown_hold_ms"] = bgp->graceful_shutdown_hold_ms;
      cp["bgp"] = std::move(b);
    }
    j["controlplane"] = std::move(cp);
  }
  if (!s.dataplanes.empty()) {
    J dps = J::array();
    for (const DataplaneEndpoint& d : s.dataplanes) {
      J e = J::object();
      e["name"] = d.name;
      e["control_socket"] = d.control_socket;
      dps.push_back(std::move(e));
    }
    j["dataplanes"] = std::move(dps);
  }
  return j;
}

}  // namespace sluice::config::detail

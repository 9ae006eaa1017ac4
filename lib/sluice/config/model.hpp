// The state model shared by sluice-dataplane, sluice-controlplane, sluicectl and the control
// protocol. One YAML format (docs/config.md) describes it; the dataplane uses `dataplane` and
// `vips`, the control plane also `controlplane`, `dataplanes` and the health checks.
//
// A backend has three layers (docs/config.md, "Backend state"):
//   intent       weight, drained: what the operator asked for (YAML file, sluicectl)
//   observation  health: what the control plane's checks see (never in the desired state)
//   pushed       state + effective_weight: what the control plane tells the dataplanes, for
//                every configured backend, whatever its health
// The dataplane acts on the pushed layer:
//   up        takes new flows in proportion to its effective weight
//   draining  keeps its flows, gets no new ones (operator's drain, or weight 0)
//   down      failed its checks: its flows are rescheduled to backends that are up
// A backend keeps its identity (and its counters) through every change of state; only
// removing it from the VIP ends it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sluice/ip_address.hpp"

namespace sluice::config {

enum class Protocol : std::uint8_t { tcp = 6, udp = 17 };
enum class Scheduler : std::uint8_t {
  maglev,
  round_robin,
  weighted_round_robin,
  random,
  least_connections,
  source_hash,
};
enum class Encap : std::uint8_t { ipip, gue };
// What to do with IP fragments addressed to a VIP.
enum class FragmentPolicy : std::uint8_t {
  forward,  // all fragments of a datagram follow the 3-tuple hash to one backend (default)
  drop,     // counted as fragment_unsupported
};

enum class HealthCheckType : std::uint8_t { none, tcp, http, https, udp };

struct HealthCheck {
  HealthCheckType type = HealthCheckType::none;
  std::uint16_t port = 0;             // 0: the VIP's port
  std::uint32_t interval_ms = 2000;   // between checks of one backend
  std::uint32_t timeout_ms = 1000;    // per attempt, < interval
  std::uint32_t rise = 2;             // consecutive successes to become healthy
  std::uint32_t fall = 3;             // consecutive failures to become unhealthy
  std::string http_path = "/";        // http/https
  std::string http_host;              // Host header; empty: the backend address
  std::uint16_t expect_status = 200;  // http/https
  std::string expect_body;            // http/https: substring the body must contain; empty: any
  std::string udp_request;            // udp: payload sent
  std::string udp_expect;             // udp: substring the reply must contain; empty: any reply

  friend bool operator==(const HealthCheck&, const HealthCheck&) = default;
};

enum class BackendState : std::uint8_t { up, draining, down };

struct Backend {
  IpAddress address;
  std::uint32_t weight = 1;  // intent: share of new flows (0: drained)
  bool drained = false;      // intent: no new flows, existing flows stay until they end
  std::optional<HealthCheck> health_check;  // overrides the VIP's check
  // Pushed layer, set by the control plane for the dataplanes. A hand-written dataplane file
  // may leave both out: they are then derived from the intent (pushed_state()).
  std::optional<BackendState> state;
  std::optional<std::uint32_t> effective_weight;  // what the scheduler uses; 0 unless up

  friend bool operator==(const Backend&, const Backend&) = default;
};

// The state the dataplane acts on: `state` when pushed, else draining for a drained backend
// or weight 0, else up.
[[nodiscard]] inline BackendState pushed_state(const Backend& b) {
  if (b.state) return *b.state;
  return b.drained || b.weight == 0 ? BackendState::draining : BackendState::up;
}

// The weight new flows see: the effective weight (default: the configured weight) while up,
// 0 otherwise.
[[nodiscard]] inline std::uint32_t scheduling_weight(const Backend& b) {
  if (pushed_state(b) != BackendState::up) return 0;
  return b.effective_weight.value_or(b.weight);
}

// Whether this host announces the VIP over BGP (controlplane.bgp; docs/tier.md).
enum class AnnouncePolicy : std::uint8_t {
  when_healthy,  // while the local dataplane serves it and a backend is up (default)
  always,        // unless the host is drained
  never,
};

// VIP whose backends are all unhealthy.
enum class AllDownPolicy : std::uint8_t {
  keep_last_healthy,  // keep forwarding to the last healthy set (default; no blackhole)
  drop,               // push an empty set: packets are counted as no_backend
};

// How a VIP's effective weights are set (docs/adaptive-weights.md).
enum class WeightPolicy : std::uint8_t {
  static_weights,  // effective weight = configured weight while up (default)
  adaptive,        // configured weight x a factor from latency, agent, slow start, passive signals
};

// On an adaptive VIP the pushed effective_weight is in hundredths of the configured weight
// (weight 3 at 40% is 120), so that a factor applies to a weight of 1 as well. The dataplane
// only compares weights within a VIP, so the scale does not change the shares.
inline constexpr std::uint32_t kAdaptiveWeightScale = 100;

// HAProxy-compatible agent check (docs/adaptive-weights.md): a TCP port on the backend that
// answers one line ("75%", "weight:N", "drain", "down", "up", "ready", ...).
struct AgentCheck {
  std::uint16_t port = 0;
  std::uint32_t interval_ms = 2000;
  std::uint32_t timeout_ms = 1000;

  friend bool operator==(const AgentCheck&, const AgentCheck&) = default;
};

// A backend of a VIP's Maglev table input before the VIP's latest change (second chance).
struct PreviousBackend {
  IpAddress address;
  std::uint32_t weight = 0;  // the weight new flows saw then (0: drained)

  friend bool operator==(const PreviousBackend&, const PreviousBackend&) = default;
};

// Pushed layer, written by the control plane (docs/second-chance.md): the table input the VIP
// had before its latest change of backends or weights, kept while flows of that time can still
// be alive (dataplane.flow_idle_timeout_s after `replaced_at`). Every host builds the same
// previous table from it, even one that started after the change.
struct PreviousBackends {
  std::uint64_t replaced_at = 0;    // unix seconds: when the previous table stopped being in force
  std::uint64_t since = 0;          // ... when it came into force (0: before anything recorded)
  std::uint64_t current_since = 0;  // when the VIP's current table came into force
  std::vector<PreviousBackend> backends;

  friend bool operator==(const PreviousBackends&, const PreviousBackends&) = default;
};

struct Vip {
  IpAddress address;
  std::uint16_t port = 0;  // 0 = any port
  Protocol protocol = Protocol::tcp;
  Scheduler scheduler = Scheduler::maglev;
  Encap encap = Encap::ipip;
  std::uint32_t maglev_table_size = 65537;
  FragmentPolicy fragments = FragmentPolicy::forward;
  std::vector<Backend> backends;
  std::optional<HealthCheck> health_check;
  AllDownPolicy all_down = AllDownPolicy::keep_last_healthy;
  // New flows per second the VIP admits per dataplane (0: no limit); each worker lcore gets an
  // equal share as a token bucket. Flows over it are dropped (new_flow_limit).
  std::uint32_t new_flows_per_s = 0;
  AnnouncePolicy announce = AnnouncePolicy::when_healthy;
  // Second-chance forwarding (docs/second-chance.md): unset means on for a TCP VIP with
  // encap gue and scheduler maglev, off otherwise (second_chance_enabled()).
  std::optional<bool> second_chance;
  std::optional<PreviousBackends> previous;
  // SYN rescue (docs/dataplane.md): a retransmitted SYN of a flow whose backend takes no new
  // flows is scheduled again. Unset means on (syn_rescue_enabled()).
  std::optional<bool> syn_rescue;
  // Adaptive weights (docs/adaptive-weights.md); slow_start_s, agent_check and passive_failure
  // need weights: adaptive.
  WeightPolicy weights = WeightPolicy::static_weights;
  std::uint32_t slow_start_s = 0;  // 0: a backend that comes up takes its full weight at once
  std::optional<AgentCheck> agent_check;
  // A backend most of whose new flows retransmit their SYN is taken out of new-flow
  // scheduling until its active checks pass again. Unset means on (passive_failure_enabled()).
  std::optional<bool> passive_failure;

  friend bool operator==(const Vip&, const Vip&) = default;
};

[[nodiscard]] inline bool adaptive_weights(const Vip& v) {
  return v.weights == WeightPolicy::adaptive;
}
// What a backend's effective_weight is measured in: 1 per configured weight unit, or
// kAdaptiveWeightScale on an adaptive VIP.
[[nodiscard]] inline std::uint32_t weight_scale(const Vip& v) {
  return adaptive_weights(v) ? kAdaptiveWeightScale : 1;
}
[[nodiscard]] inline bool passive_failure_enabled(const Vip& v) {
  return adaptive_weights(v) && v.passive_failure.value_or(true);
}

// Whether non-SYN packets of flows this host has not seen carry the slot's previous owner.
[[nodiscard]] inline bool second_chance_supported(const Vip& v) {
  return v.protocol == Protocol::tcp && v.encap == Encap::gue && v.scheduler == Scheduler::maglev;
}
[[nodiscard]] inline bool second_chance_enabled(const Vip& v) {
  return v.second_chance.value_or(true) && second_chance_supported(v);
}
[[nodiscard]] inline bool syn_rescue_enabled(const Vip& v) {
  return v.syn_rescue.value_or(true);
}

struct DataplaneSettings {
  std::array<std::uint8_t, 6> next_hop_mac{};   // L2 destination of encapsulated packets
  std::optional<IpAddress> tunnel_source_v4;    // outer IPv4 source (required for v4 backends)
  std::optional<IpAddress> tunnel_source_v6;    // outer IPv6 source (required for v6 backends)
  std::uint16_t mtu = 1500;                     // L3 MTU towards backends
  std::uint16_t gue_port = 6080;                // GUE destination UDP port
  std::uint8_t outer_ttl = 64;                  // outer TTL / hop limit
  std::uint32_t flow_table_entries = 1u << 20;  // per lcore
  std::uint32_t flow_idle_timeout_s = 300;      // established flows
  std::uint32_t flow_closed_timeout_s = 10;     // after FIN or RST
  std::uint32_t flow_open_timeout_s = 5;        // TCP before the client's first ACK (SYN floods)
  std::uint32_t udp_idle_timeout_s = 60;

  friend bool operator==(const DataplaneSettings&, const DataplaneSettings&) = default;
};

// One dataplane the control plane programs.
struct DataplaneEndpoint {
  std::string name;
  std::string control_socket;  // path of the dataplane's Unix control socket

  friend bool operator==(const DataplaneEndpoint&, const DataplaneEndpoint&) = default;
};

// The local BIRD2 the control plane drives (docs/tier.md, "Announcing VIPs with BIRD2").
struct BgpSettings {
  std::string bird_socket = "/run/bird/bird.ctl";          // BIRD's control socket
  std::string include_v4 = "/etc/bird/sluice-vips4.conf";  // written, then `configure`
  std::string include_v6 = "/etc/bird/sluice-vips6.conf";
  // Optional: BIRD run as the control plane's child, killed with it (PR_SET_PDEATHSIG).
  std::vector<std::string> bird_command;
  bool graceful_shutdown = true;  // drain: first tag the routes with (65535,0) (RFC 8326)
  std::uint32_t graceful_shutdown_hold_ms = 2000;  // ... for this long, then withdraw

  friend bool operator==(const BgpSettings&, const BgpSettings&) = default;
};

// Where the desired VIPs live: this host's state file, or one document in etcd shared by every
// host of a tier (docs/tier.md, "Shared state in etcd").
enum class StateStoreKind : std::uint8_t { file, etcd };

struct EtcdTls {
  std::string ca_file;    // PEM bundle that verifies the etcd servers; empty: the system's
  std::string cert_file;  // client certificate (PEM); with key_file, or both empty
  std::string key_file;

  friend bool operator==(const EtcdTls&, const EtcdTls&) = default;
};

struct EtcdSettings {
  std::vector<std::string> endpoints;  // http://HOST:PORT or https://HOST:PORT, tried in turn
  std::string prefix = "/sluice/";     // the shared state is the key <prefix>state
  std::optional<EtcdTls> tls;          // for https:// endpoints

  friend bool operator==(const EtcdSettings&, const EtcdSettings&) = default;
};

struct ControlplaneSettings {
  std::string host_name;  // names this host in etcd, logs and status; empty: gethostname()
  StateStoreKind state_store = StateStoreKind::file;
  std::optional<EtcdSettings> etcd;  // required when state_store is etcd
  std::string api_socket = "/run/sluice/controlplane.sock";
  std::string state_file = "/var/lib/sluice/state.yaml";  // persisted runtime changes
  std::string metrics_listen = "127.0.0.1:9780";          // Prometheus text exposition
  std::uint32_t api_max_connections = 256;  // open API connections at once (docs/operations.md)
  std::string host_state_file = "/var/lib/sluice/host.yaml";  // drain state, survives restarts
  std::optional<BgpSettings> bgp;                             // absent: nothing is announced

  friend bool operator==(const ControlplaneSettings&, const ControlplaneSettings&) = default;
};

struct State {
  std::uint64_t generation = 0;  // set by whoever pushes; strictly increasing per dataplane
  DataplaneSettings dataplane;
  std::vector<Vip> vips;
  // Control-plane only; ignored by the dataplane.
  std::optional<ControlplaneSettings> controlplane;
  std::vector<DataplaneEndpoint> dataplanes;

  friend bool operator==(const State&, const State&) = default;
};

}  // namespace sluice::config

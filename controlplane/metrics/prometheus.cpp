#include "metrics/prometheus.hpp"

#include <fmt/format.h>

#include <chrono>
#include <initializer_list>
#include <utility>

#include "dataplanes/lcore_load.hpp"
#include "sluice/config/names.hpp"
#include "sluice/drop_reason.hpp"

namespace sluice::cp {
namespace {

using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

class Writer {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                   type);
  }

  template <typename Value>
  void sample(std::string_view name, Labels labels, Value value) {
    out_ += name;
    if (labels.size() != 0) {
      out_ += '{';
      bool first = true;
      for (const auto& [key, v] : labels) {
        if (!first) out_ += ',';
        first = false;
        fmt::format_to(std::back_inserter(out_), "{}=\"{}\"", key, escape_label(v));
      }
      out_ += '}';
    }
    fmt::format_to(std::back_inserter(out_), " {}\n", value);
  }

  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

const BackendHealth* find_health(const HealthSnapshot& health, const BackendRef& ref) {
  for (const auto& [r, h] : health) {
    if (r == ref) return &h;
  }
  return nullptr;
}

// One gauge or counter per dataplane, labelled by its name.
template <typename Value>
void per_dataplane(Writer& w, const std::vector<DataplaneReport>& dataplanes, std::string_view name,
                   std::string_view type, std::string_view help,
                   Value (*value)(const DataplaneReport&)) {
  w.family(name, type, help);
  for (const auto& d : dataplanes)
    w.sample(name, {{"dataplane", d.name}}, value(d));
}

void dataplane_metrics(Writer& w, const std::vector<DataplaneReport>& dataplanes) {
  using R = const DataplaneReport&;
  per_dataplane<int>(w, dataplanes, "sluice_dataplane_up", "gauge",
                     "1 when the dataplane's control socket answered the last poll",
                     [](R d) { return d.reachable ? 1 : 0; });
  per_dataplane<std::uint64_t>(w, dataplanes, "sluice_dataplane_generation", "gauge",
                               "Generation of the state the dataplane runs, as last seen",
                               [](R d) -> std::uint64_t { return d.generation; });
  per_dataplane<int>(w, dataplanes, "sluice_dataplane_in_sync", "gauge",
                     "1 when the dataplane runs the control plane's current generation",
                     [](R d) { return d.in_sync ? 1 : 0; });
  per_dataplane<double>(w, dataplanes, "sluice_dataplane_uptime_seconds", "gauge",
                        "Dataplane uptime as it reported it",
                        [](R d) { return static_cast<double>(d.uptime_ms) / 1000.0; });
  per_dataplane<std::uint64_t>(w, dataplanes, "sluice_dataplane_pushes_total", "counter",
                               "States pushed and accepted",
                               [](R d) -> std::uint64_t { return d.pushes; });
  per_dataplane<std::uint64_t>(w, dataplanes, "sluice_dataplane_push_failures_total", "counter",
                               "State pushes that failed or were refused",
                               [](R d) -> std::uint64_t { return d.push_failures; });
  per_dataplane<std::uint64_t>(w, dataplanes, "sluice_dataplane_unreachable_total", "counter",
                               "Failed attempts to reach the dataplane",
                               [](R d) -> std::uint64_t { return d.unreachable_events; });
}

void traffic_metrics(Writer& w, const std::vector<DataplaneReport>& dataplanes) {
  struct Family {
    const char* name;
    const char* type;
    const char* help;
    std::uint64_t control::VipCounters::*vip;
    std::uint64_t control::BackendCounters::*backend;
  };
  // nullptr: the family exists for VIPs only, or for backends only.
  static constexpr Family kFamilies[] = {
      {"packets", "counter",
       "Packets forwarded to the backend (a VIP's: the sum over its backends)",
       &control::VipCounters::packets, &control::BackendCounters::packets},
      {"bytes", "counter", "Bytes received from clients (before encapsulation)",
       &control::VipCounters::bytes, &control::BackendCounters::bytes},
      {"new_flows", "counter", "Flows scheduled", &control::VipCounters::new_flows,
       &control::BackendCounters::new_flows},
      {"active_flows", "gauge", "Flow-table entries now in use",
       &control::VipCounters::active_flows, &control::BackendCounters::active_flows},
      {"rescheduled_flows", "counter", "Flows moved to the backend from a backend gone or down",
       nullptr, &control::BackendCounters::rescheduled_flows},
      {"syns", "counter", "Pure SYNs (SYN without ACK) forwarded to the backend", nullptr,
       &control::BackendCounters::syns},
      {"syn_retransmits", "counter",
       "Pure SYNs on an open entry of the backend (the client still waits for the SYN-ACK)",
       nullptr, &control::BackendCounters::syn_retransmits},
      {"handshakes", "counter",
       "Entries of the backend that went open -> established by the client's first ACK", nullptr,
       &control::BackendCounters::handshakes},
      {"unanswered", "counter",
       "Open TCP entries of the backend expired or evicted without the client's ACK", nullptr,
       &control::BackendCounters::unanswered},
      {"syn_rescued", "counter",
       "SYN rescue: retransmitted SYNs moved away from the backend (it took no new flows)", nullptr,
       &control::BackendCounters::syn_rescued},
      {"dropped", "counter",
       "Packets for the VIP that reached no backend (no_backend, too_big_no_df, ...)",
       &control::VipCounters::dropped, nullptr},
      {"replied", "counter", "Packets for the VIP answered by Sluice (echo, frag-needed)",
       &control::VipCounters::replied, nullptr},
      {"second_hop_flows", "counter",
       "Second chance: flows this host adopted naming the slot's previous owner",
       &control::VipCounters::second_hop_flows, nullptr},
      {"second_hop_packets", "counter", "Second chance: packets sent naming a second hop",
       &control::VipCounters::second_hop_packets, nullptr},
  };
  for (const Family& f : kFamilies) {
    const std::string suffix =
        std::string(f.name) + (std::string_view(f.type) == "counter" ? "_total" : "");
    if (f.vip != nullptr) {
      const std::string vip_name = "sluice_vip_" + suffix;
      w.family(vip_name, f.type, f.help);
      for (const auto& d : dataplanes) {
        if (!d.counters) continue;
        for (const auto& v : d.counters->counters.per_vip) {
          w.sample(vip_name, {{"dataplane", d.name}, {"vip", v.vip}}, v.*(f.vip));
        }
      }
    }
    if (f.backend == nullptr) continue;
    const std::string backend_name = "sluice_backend_" + suffix;
    w.family(backend_name, f.type, f.help);
    for (const auto& d : dataplanes) {
      if (!d.counters) continue;
      for (const auto& v : d.counters->counters.per_vip) {
        for (const auto& b : v.per_backend) {
          w.sample(backend_name, {{"dataplane", d.name}, {"vip", v.vip}, {"backend", b.address}},
                   b.*(f.backend));
        }
      }
    }
  }

  // The dataplane's handshake-time buckets ([i] = [2^(i-1), 2^i) ms), cumulative; the sum of
  // the times is not kept, so the family has buckets and a count only.
  w.family("sluice_backend_handshake_seconds", "histogram",
           "Handshake time seen by the dataplane: the client's SYN to its first ACK");
  for (const auto& d : dataplanes) {
    if (!d.counters) continue;
    for (const auto& v : d.counters->counters.per_vip) {
      for (const auto& b : v.per_backend) {
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i + 1 < b.handshake_ms_buckets.size(); ++i) {
          cumulative += b.handshake_ms_buckets[i];
          w.sample("sluice_backend_handshake_seconds_bucket",
                   {{"dataplane", d.name},
                    {"vip", v.vip},
                    {"backend", b.address},
                    {"le", fmt::format("{}", static_cast<double>(1u << i) / 1000.0)}},
                   cumulative);
        }
        cumulative += b.handshake_ms_buckets.back();
        w.sample("sluice_backend_handshake_seconds_bucket",
                 {{"dataplane", d.name}, {"vip", v.vip}, {"backend", b.address}, {"le", "+Inf"}},
                 cumulative);
        w.sample("sluice_backend_handshake_seconds_count",
                 {{"dataplane", d.name}, {"vip", v.vip}, {"backend", b.address}}, cumulative);
      }
    }
  }

  w.family("sluice_drops_total", "counter",
           "Packets dropped, by reason (lib/sluice/drop_reason.hpp)");
  for (const auto& d : dataplanes) {
    if (!d.counters) continue;
    for (const DropReasonInfo& reason : kDropReasons) {
      const auto it = d.counters->counters.drops.find(std::string(reason.name));
      const std::uint64_t count = it == d.counters->counters.drops.end() ? 0 : it->second;
      w.sample("sluice_drops_total", {{"dataplane", d.name}, {"reason", reason.name}}, count);
    }
  }

  w.family("sluice_dataplane_events_total", "counter",
           "Pipeline behaviour counters (docs/dataplane.md: fragments_forwarded, "
           "flows_rescheduled, flows_evicted, ...)");
  for (const auto& d : dataplanes) {
    if (!d.counters) continue;
    for (const auto& [event, count] : d.counters->counters.events)
      w.sample("sluice_dataplane_events_total", {{"dataplane", d.name}, {"event", event}}, count);
  }

  w.family("sluice_lcore_packets_total", "counter",
           "Packets received by the lcore, by fate: forward + reply + pass + drop = received");
  for (const auto& d : dataplanes) {
    if (!d.counters) continue;
    for (const auto& l : d.counters->counters.per_lcore) {
      const std::string lcore = std::to_string(l.lcore);
      const std::pair<const char*, std::uint64_t> fates[] = {
          {"forward", l.forward}, {"reply", l.reply}, {"pass", l.pass}, {"drop", l.drop}};
      for (const auto& [fate, count] : fates) {
        w.sample("sluice_lcore_packets_total",
                 {{"dataplane", d.name}, {"lcore", lcore}, {"verdict", fate}}, count);
      }
    }
  }

  // Each family's samples must follow its TYPE line, so one pass per family.
  const auto per_lcore = [&](const char* name, const char* type, const char* help, auto value) {
    w.family(name, type, help);
    for (const auto& d : dataplanes) {
      if (!d.counters) continue;
      for (const auto& l : d.counters->counters.per_lcore) {
        const std::string lcore = std::to_string(l.lcore);
        w.sample(name, {{"dataplane", d.name}, {"lcore", lcore}}, value(d, l));
      }
    }
  };
  using L = control::LcoreCounters;
  per_lcore("sluice_lcore_rx_packets_total", "counter", "Packets received by the lcore",
            [](const DataplaneReport&, const L& l) { return l.rx_packets; });
  per_lcore("sluice_lcore_tx_packets_total", "counter", "Packets sent by the lcore",
            [](const DataplaneReport&, const L& l) { return l.tx_packets; });
  per_lcore("sluice_lcore_polls_total", "counter", "rx_burst calls of the lcore",
            [](const DataplaneReport&, const L& l) { return l.rx_polls; });
  per_lcore("sluice_lcore_busy_polls_total", "counter", "rx_burst calls that returned packets",
            [](const DataplaneReport&, const L& l) { return l.busy_polls; });
  per_lcore("sluice_lcore_load", "gauge",
            "Load over the last poll interval (0..1): busy polls / polls, at most the share of "
            "the interval awake (--idle sleep)",
            [](const DataplaneReport& d, const L& l) {
              const L* before = nullptr;
              std::chrono::nanoseconds elapsed{0};
              if (d.previous_counters) {
                for (const auto& p : d.previous_counters->counters.per_lcore) {
                  if (p.lcore == l.lcore) before = &p;
                }
                elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    d.counters->at - d.previous_counters->at);
              }
              return lcore_load(l, before, elapsed);
            });
}

void health_metrics(Writer& w, const MetricsInputs& in) {
  struct Row {
    std::string vip;
    std::string backend;
    bool healthy;
    config::BackendState state;
    std::uint32_t weight;            // configured
    std::uint32_t effective_weight;  // what new flows see
  };
  std::vector<Row> rows;
  std::vector<std::pair<std::string, bool>> vips;
  for (const config::Vip& vip : in.desired.vips) {
    const config::VipKey key = config::key_of(vip);
    const std::string vip_text = config::to_string(key);
    const config::Vip* effective = config::find_vip(in.effective.state, key);
    for (const config::Backend& b : vip.backends) {
      const BackendHealth* h = find_health(in.health, BackendRef{key, b.address});
      const config::Backend* pushed =
          effective != nullptr ? config::find_backend(*effective, b.address) : nullptr;
      // Not pushed yet (a change in flight): what the intent alone says.
      const config::Backend& view = pushed != nullptr ? *pushed : b;
      rows.push_back(Row{vip_text, b.address.to_string(), h == nullptr || h->healthy,
                         config::pushed_state(view), b.weight, config::scheduling_weight(view)});
    }
    bool down = false;
    for (const AllDownVip& d : in.effective.all_down)
      down = down || d.vip == vip_text;
    vips.emplace_back(vip_text, down);
  }
  w.family("sluice_backend_healthy", "gauge",
           "1 when the backend passes its health checks (or has none)");
  for (const Row& r : rows)
    w.sample("sluice_backend_healthy", {{"vip", r.vip}, {"backend", r.backend}}, r.healthy ? 1 : 0);
  w.family("sluice_backend_state", "gauge",
           "1 for the state pushed to the dataplanes (up: takes new flows; draining: keeps its "
           "flows; down: its flows are rescheduled), 0 for the others");
  for (const Row& r : rows) {
    for (const std::string_view state : config::backend_state_names()) {
      w.sample("sluice_backend_state", {{"vip", r.vip}, {"backend", r.backend}, {"state", state}},
               config::to_string(r.state) == state ? 1 : 0);
    }
  }
  w.family("sluice_backend_weight", "gauge", "Configured weight (the operator's intent)");
  for (const Row& r : rows)
    w.sample("sluice_backend_weight", {{"vip", r.vip}, {"backend", r.backend}}, r.weight);
  w.family("sluice_backend_effective_weight", "gauge",
           "Weight new flows see in the dataplanes (0 unless the backend is up; hundredths of "
           "the configured weight on adaptive VIPs)");
  for (const Row& r : rows)
    w.sample("sluice_backend_effective_weight", {{"vip", r.vip}, {"backend", r.backend}},
             r.effective_weight);
  w.family("sluice_vip_all_down", "gauge",
           "1 when no backend of the VIP is healthy (the all_down policy applies)");
  for (const auto& [vip, down] : vips)
    w.sample("sluice_vip_all_down", {{"vip", vip}}, down ? 1 : 0);

  w.family("sluice_health_check_duration_seconds", "histogram",
           "Latency of successful health checks");
  for (const auto& [ref, h] : in.health) {
    const std::string vip_text = config::to_string(ref.vip);
    const std::string address = ref.backend.to_string();
    for (std::size_t i = 0; i < LatencyHistogram::kBounds.size(); ++i) {
      const std::string le = fmt::format("{}", LatencyHistogram::kBounds[i]);
      w.sample("sluice_health_check_duration_seconds_bucket",
               {{"vip", vip_text}, {"backend", address}, {"le", le}}, h.latency.bucket(i));
    }
    w.sample("sluice_health_check_duration_seconds_bucket",
             {{"vip", vip_text}, {"backend", address}, {"le", "+Inf"}}, h.latency.count());
    w.sample("sluice_health_check_duration_seconds_sum", {{"vip", vip_text}, {"backend", address}},
             h.latency.sum_seconds());
    w.sample("sluice_health_check_duration_seconds_count",
             {{"vip", vip_text}, {"backend", address}}, h.latency.count());
  }
  w.family("sluice_health_checks_total", "counter",
           "Health checks run, by result (local_error: the probe could not be made, the backend "
           "kept its state)");
  for (const auto& [ref, h] : in.health) {
    const std::string vip_text = config::to_string(ref.vip);
    const std::string address = ref.backend.to_string();
    w.sample("sluice_health_checks_total",
             {{"vip", vip_text}, {"backend", address}, {"result", "success"}},
             h.checks - h.failures - h.local_errors);
    w.sample("sluice_health_checks_total",
             {{"vip", vip_text}, {"backend", address}, {"result", "failure"}}, h.failures);
    w.sample("sluice_health_checks_total",
             {{"vip", vip_text}, {"backend", address}, {"result", "local_error"}}, h.local_errors);
  }
}

void server_metrics(Writer& w, const std::vector<HttpServerReport>& servers) {
  w.family("sluice_http_connections", "gauge", "Connections open to the API or metrics server");
  for (const HttpServerReport& s : servers)
    w.sample("sluice_http_connections", {{"server", s.name}}, s.open);
  w.family("sluice_http_connection_limit", "gauge",
           "Connections the server holds at most (api_max_connections, RLIMIT_NOFILE)");
  for (const HttpServerReport& s : servers)
    w.sample("sluice_http_connection_limit", {{"server", s.name}}, s.limit);
  w.family("sluice_http_connections_accepted_total", "counter", "Connections accepted");
  for (const HttpServerReport& s : servers)
    w.sample("sluice_http_connections_accepted_total", {{"server", s.name}}, s.accepted);
  w.family("sluice_http_accept_errors_total", "counter",
           "Failed accepts (e.g. out of descriptors), retried with backoff");
  for (const HttpServerReport& s : servers)
    w.sample("sluice_http_accept_errors_total", {{"server", s.name}}, s.accept_errors);
  w.family("sluice_http_connections_closed_total", "counter",
           "Connections the server closed, by reason");
  for (const HttpServerReport& s : servers) {
    const std::pair<std::string_view, std::uint64_t> reasons[] = {
        {"idle_timeout", s.idle_timeouts},     {"request_timeout", s.request_timeouts},
        {"write_timeout", s.write_timeouts},   {"made_room", s.closed_for_room},
        {"refused_caller", s.refused_callers}, {"bad_request", s.bad_requests},
    };
    for (const auto& [reason, count] : reasons) {
      w.sample("sluice_http_connections_closed_total", {{"server", s.name}, {"reason", reason}},
               count);
    }
  }
}

}  // namespace

std::string escape_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string render_metrics(const MetricsInputs& in) {
  Writer w;
  w.family("sluice_controlplane_generation", "gauge", "Generation of the current effective state");
  w.sample("sluice_controlplane_generation", {}, in.generation);
  dataplane_metrics(w, in.dataplanes);
  traffic_metrics(w, in.dataplanes);
  health_metrics(w, in);
  server_metrics(w, in.servers);
  return w.take();
}

}  // namespace sluice::cp

namespace sluice::cp {

std::string render_announce_metrics(const AnnounceReport& report) {
  Writer w;
  w.family("sluice_vip_announced", "gauge",
           "1 while this host announces the VIP's route over BGP (reason: sluicectl status)");
  for (const VipAnnouncement& a : report.vips)
    w.sample("sluice_vip_announced", {{"vip", a.vip}}, a.announced ? 1 : 0);
  w.family("sluice_host_drained", "gauge", "1 while this host is drained (sluicectl host drain)");
  w.sample("sluice_host_drained", {}, report.drain.drained ? 1 : 0);
  w.family("sluice_bgp_session_up", "gauge",
           "1 while the local BIRD's BGP protocol is Established");
  for (const BirdProtocol& p : report.protocols) {
    if (p.proto == "BGP")
      w.sample("sluice_bgp_session_up", {{"protocol", p.name}}, p.session_up() ? 1 : 0);
  }
  w.family("sluice_bird_configures_total", "counter",
           "Include files written and BIRD reconfigured successfully");
  w.sample("sluice_bird_configures_total", {}, report.configures);
  w.family("sluice_bird_configure_failures_total", "counter",
           "Failed attempts to write the include files or reconfigure BIRD");
  w.sample("sluice_bird_configure_failures_total", {}, report.configure_failures);
  return w.take();
}

std::string render_weight_metrics(
    const std::map<BackendRef, WeightReport>& weights,
    const std::map<std::string, std::pair<std::uint64_t, std::uint64_t>>& publications) {
  Writer w;
  w.family(
      "sluice_backend_weight_percent", "gauge",
      "Adaptive VIPs: percent of the configured weight new flows see (docs/adaptive-weights.md)");
  for (const auto& [ref, r] : weights) {
    w.sample("sluice_backend_weight_percent",
             {{"vip", config::to_string(ref.vip)}, {"backend", ref.backend.to_string()}},
             r.weight.percent);
  }
  w.family("sluice_backend_passive_out", "gauge",
           "Adaptive VIPs: 1 while the backend is out of new-flow scheduling for retransmitted "
           "SYNs, until its active checks pass again");
  for (const auto& [ref, r] : weights) {
    w.sample("sluice_backend_passive_out",
             {{"vip", config::to_string(ref.vip)}, {"backend", ref.backend.to_string()}},
             r.weight.passive_out ? 1 : 0);
  }
  w.family("sluice_backend_check_latency_ewma_seconds", "gauge",
           "Adaptive VIPs: windowed health-check latency (peak EWMA) the weights follow");
  for (const auto& [ref, r] : weights) {
    if (!r.check_latency_ms) continue;
    w.sample("sluice_backend_check_latency_ewma_seconds",
             {{"vip", config::to_string(ref.vip)}, {"backend", ref.backend.to_string()}},
             *r.check_latency_ms / 1000.0);
  }
  w.family("sluice_weight_publications_total", "counter",
           "Adaptive VIPs: changes of effective weights published to the dataplanes");
  for (const auto& [vip, p] : publications)
    w.sample("sluice_weight_publications_total", {{"vip", vip}}, p.first);
  w.family("sluice_weight_slots_moved_total", "counter",
           "Adaptive VIPs: Maglev slots those weight changes moved to another backend");
  for (const auto& [vip, p] : publications)
    w.sample("sluice_weight_slots_moved_total", {{"vip", vip}}, p.second);
  return w.take();
}

std::string render_state_store_metrics(const StateStoreStatus& status) {
  Writer w;
  w.family("sluice_state_store_info", "gauge",
           "Where the desired state lives: kind file or etcd (always 1)");
  w.sample("sluice_state_store_info", {{"kind", status.kind}, {"host", status.host_name}}, 1);
  w.family("sluice_state_store_connected", "gauge",
           "1 while the state store answers (etcd: the last watch, read or write got an answer; "
           "file: always 1). 0: changes are refused, the state in force stays (fail-static)");
  w.sample("sluice_state_store_connected", {}, status.connected ? 1 : 0);
  w.family("sluice_state_store_revision", "gauge",
           "Revision of the desired state in force (etcd: its mod_revision, the same on every "
           "host that is in step)");
  w.sample("sluice_state_store_revision", {}, status.revision);
  w.family("sluice_state_store_refused", "gauge",
           "1 while the document in etcd does not validate on this host (sluicectl status says "
           "why)");
  w.sample("sluice_state_store_refused", {}, status.refused.empty() ? 0 : 1);
  return w.take();
}

}  // namespace sluice::cp

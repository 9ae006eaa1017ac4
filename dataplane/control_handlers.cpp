#include "control_handlers.hpp"

#include <rte_ethdev.h>

#include <spdlog/spdlog.h>

#include "pipeline/counter_report.hpp"
#include "pipeline/explain.hpp"
#include "port.hpp"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "unknown"
#endif

namespace sluice::dataplane {
namespace {

control::PortStatus port_status(const Port& port) {
  control::PortStatus s;
  s.port_id = port.id();
  s.name = port.name();
  s.driver = port.driver();
  s.mac = format_mac(port.mac());
  s.rx_queues = port.rx_queues();
  s.tx_queues = port.tx_queues();
  rte_eth_link link{};
  if (rte_eth_link_get_nowait(port.id(), &link) == 0) {
    s.link_up = link.link_status == RTE_ETH_LINK_UP;
    s.link_speed_mbps = link.link_speed;
  }
  rte_eth_stats stats{};
  if (rte_eth_stats_get(port.id(), &stats) == 0) {
    s.rx_packets = stats.ipackets;
    s.tx_packets = stats.opackets;
    s.rx_bytes = stats.ibytes;
    s.tx_bytes = stats.obytes;
    s.rx_missed = stats.imissed;
    s.rx_errors = stats.ierrors;
    s.tx_errors = stats.oerrors;
  }
  return s;
}

nlohmann::json push_state(DataplaneView& view, const control::PushStateRequest& request) {
  auto applied = view.state->apply(request.state, "control socket");
  if (!applied) {
    spdlog::warn("refused state generation {} from the control socket: {}",
                 request.state.generation, applied.error().message);
    return control::error_reply(applied.error().message);
  }
  return control::ok_reply(control::to_json(control::PushStateReply{*applied}));
}

nlohmann::json explain(const DataplaneView& view, const control::ExplainRequest& request) {
  const pipeline::Snapshot* snapshot = view.state->snapshot();
  if (snapshot == nullptr) return control::error_reply("no forwarding state loaded yet");
  const auto result =
      pipeline::explain(*snapshot, view.workers, request.flow.to_flow_key(), request.flow.syn);
  return control::ok_reply(control::to_json(result));
}

}  // namespace

control::DataplaneStatus collect_status(const DataplaneView& view) {
  control::DataplaneStatus s;
  s.version = SLUICE_VERSION;
  s.generation = view.state->generation();
  s.uptime_ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::steady_clock::now() - view.started)
                                               .count());
  s.vips = static_cast<std::uint32_t>(view.state->running().vips.size());
  if (!view.workers.empty()) s.flow_table_entries = view.workers.front()->flows.capacity();
  s.lcores.push_back({view.main_lcore, "main", ""});
  for (auto lcore : view.worker_lcores)
    s.lcores.push_back({lcore, "worker", view.idle_mode});
  for (const Port* p : view.ports)
    s.ports.push_back(port_status(*p));
  return s;
}

control::Counters collect_counters(const DataplaneView& view) {
  const pipeline::Snapshot* snapshot = view.state->snapshot();
  static const pipeline::Snapshot kEmpty{};
  return pipeline::sum_counters(snapshot != nullptr ? *snapshot : kEmpty, view.workers);
}

nlohmann::json handle_control_request(DataplaneView& view, const nlohmann::json& request) {
  auto parsed = control::parse_request(request);
  if (!parsed) return control::error_reply(parsed.error().message);
  return std::visit(
      [&](const auto& r) -> nlohmann::json {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, control::PushStateRequest>) {
          return push_state(view, r);
        } else if constexpr (std::is_same_v<T, control::GetStatusRequest>) {
          return control::ok_reply(control::to_json(collect_status(view)));
        } else if constexpr (std::is_same_v<T, control::GetCountersRequest>) {
          return control::ok_reply(control::to_json(collect_counters(view)));
        } else {
          return explain(view, r);
        }
      },
      *parsed);
}

}  // namespace sluice::dataplane

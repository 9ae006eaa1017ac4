#include "app.hpp"

// rte_power_pmd_mgmt.h is experimental API in DPDK 22.11.
#define ALLOW_EXPERIMENTAL_API 1
#include <rte_cpuflags.h>
#include <rte_cycles.h>
#include <rte_pdump.h>
#include <rte_power_intrinsics.h>
#include <rte_power_pmd_mgmt.h>

#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <vector>

#include "control_handlers.hpp"
#include "control_server.hpp"
#include "port_set.hpp"
#include "qsbr.hpp"
#include "rate_log.hpp"
#include "signals.hpp"
#include "sluice/config/names.hpp"
#include "sluice/config/yaml.hpp"
#include "snapshot_publisher.hpp"
#include "state_controller.hpp"
#include "telemetry.hpp"
#include "telemetry_source.hpp"
#include "worker_group.hpp"
#include "worker_plan.hpp"
#include "xdp_vip_sync.hpp"

namespace sluice::dataplane {
namespace {

constexpr std::chrono::milliseconds kControlPollInterval{50};

struct PdumpGuard {
  bool active = rte_pdump_init() == 0;
  ~PdumpGuard() {
    if (active) rte_pdump_uninit();
  }
};

struct TelemetryGuard {
  explicit TelemetryGuard(const DataplaneView& view) {
    register_telemetry(make_telemetry_source(view));
  }
  ~TelemetryGuard() { unregister_telemetry(); }
};

void log_totals(const DataplaneView& view) {
  const control::LcoreCounters sum = control::total_of(collect_counters(view).per_lcore);
  spdlog::info(
      "stopped: {} packets received: {} forwarded, {} replied, {} passed to the host, {} "
      "dropped; {} sent; generation {}",
      sum.rx_packets, sum.forward, sum.reply, sum.pass, sum.drop, sum.tx_packets,
      view.state->generation());
}

void log_idle_mode(IdleMode mode) {
  switch (mode) {
    case IdleMode::poll:
      spdlog::info("--idle poll: workers spin on their queues (one core each, lowest latency)");
      return;
    case IdleMode::pause: {
      rte_cpu_intrinsics intrinsics{};
      rte_cpu_get_intrinsics_support(&intrinsics);
      spdlog::info(
          "--idle pause: DPDK power management PAUSE: after {} empty polls, {} us pauses ({}); "
          "saves power, not CPU time",
          rte_power_pmd_mgmt_get_emptypoll_max(), rte_power_pmd_mgmt_get_pause_duration(),
          intrinsics.power_pause ? "TPAUSE" : "no WAITPKG here: rte_pause() spins");
      return;
    }
    case IdleMode::sleep:
      spdlog::info(
          "--idle sleep: after {} empty polls a worker sleeps {}-{} us (doubling, reset by the "
          "first packet)",
          kSleepAfterEmptyPolls, kFirstSleep.count() / 1000, kMaxSleep.count() / 1000);
      return;
  }
}

}  // namespace

Status run_dataplane(const Options& options, const Eal& eal) {
  const auto started = std::chrono::steady_clock::now();
  const auto& lcores = eal.worker_lcores();
  if (lcores.empty()) {
    return Error{
        "no worker lcore: give the EAL at least two lcores (e.g. -l 0-1 --main-lcore 0); "
        "the main lcore only runs the control thread"};
  }

  // The state to start with; it also sizes the flow tables.
  config::State initial;
  if (!options.config_path.empty()) {
    auto loaded = config::load_yaml_file(options.config_path);
    if (!loaded) return loaded.error();
    initial = std::move(loaded.value());
  }
  const std::uint32_t flow_entries = initial.dataplane.flow_table_entries;

  // Declaration order is teardown order, reversed: workers stop before the snapshot, the
  // state and the ports they use go away.
  log_idle_mode(options.idle);
  auto ports = open_ports(options, lcores);
  if (!ports) return ports.error();
  auto qsbr = create_qsbr(static_cast<unsigned>(lcores.size()));
  if (!qsbr) return qsbr.error();
  SnapshotPublisher publisher(qsbr->get());

  pipeline::WorkerConfig worker_config;
  worker_config.flow_table_entries = flow_entries;
  worker_config.ticks_per_second = rte_get_tsc_hz();
  worker_config.port_mac =
      options.source_mac.empty()
          ? ports->port(ports->roles.tx_port.value_or(ports->roles.uplink())).mac()
          : *config::parse_mac(options.source_mac);
  worker_config.seed = 0x51;
  auto workers = WorkerGroup::create(lcores, worker_config);
  if (!workers) return workers.error();

  StateController controller(publisher, flow_entries);
  std::unique_ptr<XdpVipSync> xdp_sync;
  if (!options.xdp_steering.empty()) {
    std::vector<int> af_xdp_ifindexes;
    for (const auto& [id, p] : ports->ports) {
      if (p->driver() == "net_af_xdp" && p->if_index() > 0) {
        af_xdp_ifindexes.push_back(p->if_index());
      }
    }
    auto opened = XdpVipSync::open(options.xdp_steering, af_xdp_ifindexes);
    if (!opened) return opened.error();
    xdp_sync = std::move(opened.value());
    controller.on_applied([&xdp_sync](const config::State& s) { xdp_sync->sync(s); });
  }
  if (auto s = controller.publish_empty(); !s) return s;
  if (!options.config_path.empty()) {
    auto applied = controller.apply(initial, "--config " + options.config_path);
    if (!applied) return Error{options.config_path + ": " + applied.error().message};
  } else {
    spdlog::info("no --config: nothing is a VIP until a state is pushed to {}",
                 options.control_socket);
  }

  DataplaneView view;
  view.state = &controller;
  view.workers = (*workers)->states();
  view.worker_lcores.assign(lcores.begin(), lcores.end());
  for (const auto& [id, p] : ports->ports)
    view.ports.push_back(p.get());
  view.main_lcore = eal.main_lcore();
  view.idle_mode = std::string(to_string(options.idle));
  view.started = started;

  ControlServerLimits limits;
  limits.idle_timeout = std::chrono::seconds(options.control_idle_timeout_s);
  auto server = ControlServer::listen(
      options.control_socket,
      [&view](const nlohmann::json& r) { return handle_control_request(view, r); }, limits);
  if (!server) return server.error();
  PdumpGuard pdump;
  TelemetryGuard telemetry(view);

  const std::uint64_t drain_ticks = rte_get_tsc_hz() / 1'000'000 * options.drain_us;
  auto plan = plan_workers(ports->roles, ports->rx_queue_counts(), lcores, drain_ticks);
  for (WorkerSetup& setup : plan)
    setup.idle = options.idle;
  if (auto s = (*workers)->launch(std::move(plan), publisher, qsbr->get()); !s) return s;
  spdlog::info("forwarding; control socket {}; telemetry /sluice/*; pdump {}",
               options.control_socket, pdump.active ? "ready" : "unavailable");

  RateLog rates(std::chrono::seconds(options.stats_interval_s));
  while (!stop_requested()) {
    (*server)->poll(kControlPollInterval);
    rates.maybe_log(view.workers);
    if (xdp_sync) xdp_sync->retry();
  }
  spdlog::info("signal {}: stopping", stop_signal());
  (*workers)->stop();
  log_totals(view);
  return ok_status();
}

}  // namespace sluice::dataplane

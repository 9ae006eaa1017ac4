#include "app.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_pdump.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <vector>

#include "control_handlers.hpp"
#include "control_server.hpp"
#include "exception_tap.hpp"
#include "mempool.hpp"
#include "port.hpp"
#include "port_roles.hpp"
#include "qsbr.hpp"
#include "rate_log.hpp"
#include "signals.hpp"
#include "sluice/config/names.hpp"
#include "sluice/config/yaml.hpp"
#include "snapshot_publisher.hpp"
#include "state_controller.hpp"
#include "telemetry.hpp"
#include "telemetry_source.hpp"
#include "worker.hpp"

namespace sluice::dataplane {
namespace {

constexpr std::chrono::milliseconds kControlPollInterval{50};
constexpr std::uint32_t kMempoolCache = 256;

std::vector<std::uint16_t> probed_ports() {
  std::vector<std::uint16_t> out;
  std::uint16_t port = 0;
  RTE_ETH_FOREACH_DEV(port) {
    out.push_back(port);
  }
  return out;
}

// Enough for every descriptor ring, every worker's bursts and buffers, and the caches.
std::uint32_t automatic_mbuf_count(const Options& o, std::size_t ports, std::size_t workers) {
  const std::uint64_t rings =
      ports * workers * (std::uint64_t{o.rx_descriptors} + o.tx_descriptors);
  const std::uint64_t in_flight = workers * (kRxBurst + std::uint64_t{kTxBurst} * (ports + 1));
  const std::uint64_t caches = (workers + 1) * std::uint64_t{kMempoolCache} * 3 / 2;
  std::uint64_t n = rings + in_flight + caches + 4096;
  std::uint64_t pow2 = 1;
  while (pow2 - 1 < n)
    pow2 <<= 1;  // 2^k - 1 is the mempool's sweet spot
  return static_cast<std::uint32_t>(pow2 - 1);
}

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

// Tracks whether any worker received something lately (--exit-after-idle).
class IdleWatch {
 public:
  explicit IdleWatch(std::chrono::milliseconds limit) : limit_(limit) {}
  [[nodiscard]] bool expired(const std::vector<const pipeline::WorkerState*>& workers) {
    std::uint64_t busy = 0;
    for (const auto* w : workers)
      busy += w->counters.rx_polls - w->counters.idle_polls;
    const auto now = std::chrono::steady_clock::now();
    if (busy != last_busy_) {
      last_busy_ = busy;
      last_change_ = now;
    }
    return limit_.count() > 0 && now - last_change_ >= limit_;
  }

 private:
  std::chrono::milliseconds limit_;
  std::uint64_t last_busy_ = 0;
  std::chrono::steady_clock::time_point last_change_ = std::chrono::steady_clock::now();
};

}  // namespace

Status run_dataplane(const Options& options, const Eal& eal) {
  const auto started = std::chrono::steady_clock::now();
  const auto& lcores = eal.worker_lcores();
  if (lcores.empty()) {
    return Error{
        "no worker lcore: give the EAL at least two lcores (e.g. -l 0-1 --main-lcore 0); "
        "the main lcore only runs the control thread"};
  }
  const auto workers = static_cast<std::uint16_t>(lcores.size());

  // The state to start with.
  config::State initial;
  bool have_initial = false;
  if (!options.config_path.empty()) {
    auto loaded = config::load_yaml_file(options.config_path);
    if (!loaded) return loaded.error();
    initial = std::move(loaded.value());
    have_initial = true;
  }
  const std::uint32_t flow_entries = initial.dataplane.flow_table_entries;

  // Ports and their roles.
  auto roles =
      assign_port_roles({options.rx_ports, options.tx_port, options.host_port}, probed_ports());
  if (!roles) return roles.error();
  std::unique_ptr<ExceptionTap> tap;
  if (!options.exception_tap.empty()) {
    rte_ether_addr mac{};
    std::array<std::uint8_t, 6> uplink_mac{};
    if (rte_eth_macaddr_get(roles->uplink(), &mac) == 0) {
      std::copy_n(mac.addr_bytes, 6, uplink_mac.begin());
    }
    auto created = ExceptionTap::create(options.exception_tap, uplink_mac);
    if (!created) return created.error();
    tap = std::move(created.value());
    roles->host_port = tap->port_id();
  }
  const auto port_ids = roles->all_ports();

  const std::uint32_t mbufs =
      options.mbufs != 0 ? options.mbufs : automatic_mbuf_count(options, port_ids.size(), workers);
  auto pool = create_pktmbuf_pool({.name = "sluice_mbufs",
                                   .mbufs = mbufs,
                                   .data_room = options.mbuf_data_room,
                                   .cache_size = kMempoolCache,
                                   .socket = static_cast<int>(rte_socket_id())});
  if (!pool) return pool.error();

  std::map<std::uint16_t, std::unique_ptr<Port>> ports;
  for (std::uint16_t id : port_ids) {
    auto port = Port::start({.port_id = id,
                             .rx_queues = workers,
                             .tx_queues = workers,
                             .rx_descriptors = options.rx_descriptors,
                             .tx_descriptors = options.tx_descriptors,
                             .pool = pool->get()});
    if (!port) return port.error();
    const Port& p = *port.value();
    if (p.tx_queues() < workers) {
      return Error{
          fmt::format("port {} ({}) offers {} TX queues: run at most that many worker "
                      "lcores (have {})",
                      id, p.driver(), p.tx_queues(), workers)};
    }
    const bool polled =
        id == roles->host_port ||
        std::find(roles->rx_ports.begin(), roles->rx_ports.end(), id) != roles->rx_ports.end();
    if (polled && p.rx_queues() == 0) {
      return Error{fmt::format("port {} ({}) cannot receive (no RX queue)", id, p.driver())};
    }
    std::string role = id == roles->host_port ? "host (exception path)" : "";
    if (polled && role.empty()) role = "rx";
    if (id == roles->tx_port) role += role.empty() ? "tx" : "+tx";
    if (!roles->tx_port && role == "rx") role = "rx+tx (one-armed)";
    spdlog::info("port {} {} ({}) mac {}: {}, {} RX / {} TX queues{}, {}", id, p.name(), p.driver(),
                 format_mac(p.mac()), role, p.rx_queues(), p.tx_queues(),
                 p.rss() ? " with RSS" : "", p.link_status());
    ports.emplace(id, std::move(port.value()));
  }

  // Per-worker state (flow tables from DPDK memory on the worker's socket).
  const std::uint16_t mac_port = roles->tx_port.value_or(roles->uplink());
  const config::MacAddress source_mac = options.source_mac.empty()
                                            ? ports.at(mac_port)->mac()
                                            : *config::parse_mac(options.source_mac);
  std::vector<pipeline::WorkerStatePtr> states;
  for (unsigned i = 0; i < workers; ++i) {
    pipeline::WorkerConfig wc;
    wc.lcore_id = lcores[i];
    wc.socket_id = static_cast<int>(rte_lcore_to_socket_id(lcores[i]));
    wc.flow_table_entries = flow_entries;
    wc.ticks_per_second = rte_get_tsc_hz();
    wc.port_mac = source_mac;
    wc.seed = 0x51u * (lcores[i] + 1);
    auto state = pipeline::create_worker_state(wc);
    if (!state)
      return Error{"worker on lcore " + std::to_string(lcores[i]) + ": " + state.error().message};
    states.push_back(std::move(state.value()));
  }

  auto qsbr = create_qsbr(workers);
  if (!qsbr) return qsbr.error();
  SnapshotPublisher publisher(qsbr->get());
  StateController controller(publisher, flow_entries);
  if (auto s = controller.publish_empty(); !s) return s;
  if (have_initial) {
    auto applied = controller.apply(initial, "--config " + options.config_path);
    if (!applied) return Error{options.config_path + ": " + applied.error().message};
  } else {
    spdlog::info("no --config: nothing is a VIP until a state is pushed to {}",
                 options.control_socket);
  }

  DataplaneView view;
  view.state = &controller;
  for (const auto& s : states)
    view.workers.push_back(s.get());
  view.worker_lcores.assign(lcores.begin(), lcores.end());
  for (const auto& [id, p] : ports)
    view.ports.push_back(p.get());
  view.main_lcore = eal.main_lcore();
  view.started = started;

  auto server = ControlServer::listen(options.control_socket, [&view](const nlohmann::json& r) {
    return handle_control_request(view, r);
  });
  if (!server) return server.error();
  PdumpGuard pdump;
  TelemetryGuard telemetry(view);

  // Workers.
  std::atomic<bool> running{true};
  std::vector<std::unique_ptr<Worker>> worker_objects;
  const std::uint64_t drain_ticks = rte_get_tsc_hz() / 1'000'000 * options.drain_us;
  for (unsigned i = 0; i < workers; ++i) {
    WorkerSetup setup;
    setup.index = i;
    setup.lcore = lcores[i];
    setup.drain_ticks = drain_ticks;
    setup.tx_ports = port_ids;
    setup.host_port = roles->host_port;
    for (std::uint16_t rx : roles->rx_ports) {
      if (i < ports.at(rx)->rx_queues()) {
        setup.traffic.push_back({rx, static_cast<std::uint16_t>(i), roles->egress_for(rx)});
      }
    }
    if (roles->host_port && i < ports.at(*roles->host_port)->rx_queues()) {
      setup.host = RxQueue{*roles->host_port, static_cast<std::uint16_t>(i), roles->uplink()};
    }
    worker_objects.push_back(
        std::make_unique<Worker>(std::move(setup), *states[i], publisher, qsbr->get(), running));
  }
  for (unsigned i = 0; i < workers; ++i) {
    if (int rc = rte_eal_remote_launch(Worker::launch, worker_objects[i].get(), lcores[i]);
        rc != 0) {
      running.store(false);
      rte_eal_mp_wait_lcore();
      return Error{fmt::format("cannot launch the worker on lcore {}", lcores[i])};
    }
    spdlog::info("worker {} on lcore {}: {} RX queue(s){}", i, lcores[i],
                 worker_objects[i]->setup().traffic.size(),
                 worker_objects[i]->setup().host ? " + host port" : "");
  }
  spdlog::info("forwarding; control socket {}; telemetry /sluice/*; pdump {}",
               options.control_socket, pdump.active ? "ready" : "unavailable");

  // Control loop.
  IdleWatch idle(std::chrono::milliseconds(options.exit_after_idle_ms));
  RateLog rates(std::chrono::seconds(options.stats_interval_s));
  while (!stop_requested()) {
    (*server)->poll(kControlPollInterval);
    if (idle.expired(view.workers)) {
      spdlog::info("no packet for {} ms: exiting (--exit-after-idle)", options.exit_after_idle_ms);
      break;
    }
    rates.maybe_log(view.workers);
  }
  if (stop_requested()) spdlog::info("signal {}: stopping", stop_signal());

  running.store(false);
  rte_eal_mp_wait_lcore();
  const auto totals = collect_counters(view);
  std::uint64_t rx = 0, tx = 0, dropped = 0;
  for (const auto& l : totals.per_lcore) {
    rx += l.rx_packets;
    tx += l.tx_packets;
  }
  for (const auto& [name, n] : totals.drops)
    dropped += n;
  spdlog::info("stopped: {} packets received, {} sent, {} dropped; generation {}", rx, tx, dropped,
               controller.generation());
  return ok_status();
}

}  // namespace sluice::dataplane

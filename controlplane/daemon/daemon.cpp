#include "daemon/daemon.hpp"

#include <grp.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <system_error>
#include <thread>
#include <vector>

#include "announce/announcer.hpp"
#include "api/api_routes.hpp"
#include "api/http_server.hpp"
#include "dataplanes/dataplane_sync.hpp"
#include "etcd/etcd_state.hpp"
#include "etcd/weight_share.hpp"
#include "health/agent_check.hpp"
#include "health/agent_signal.hpp"
#include "health/health_monitor.hpp"
#include "metrics/prometheus.hpp"
#include "sluice/atomic_file.hpp"
#include "sluice/config/yaml.hpp"
#include "sluice/control/caller_policy.hpp"
#include "sluice/control/unix_socket.hpp"
#include "state/state_store.hpp"
#include "state/weight_controller.hpp"

namespace sluice::cp {
namespace {

constexpr int kExitRefusedConfig = 2;
constexpr int kExitSocket = 3;
constexpr int kServerThreads = 2;

HttpResponse metrics_response(const HttpRequest& request, StateStore& store, HealthTable& health,
                              DataplaneSync& sync, const Announcer& announcer,
                              const WeightController& weights,
                              std::vector<HttpServerReport> servers) {
  HttpResponse response{http::status::ok, 11};
  response.set(http::field::server, "sluice-controlplane");
  if (request.target() != "/metrics" || request.method() != http::verb::get) {
    response.result(http::status::not_found);
    response.set(http::field::content_type, "text/plain");
    response.body() = "only GET /metrics is served here\n";
    return response;
  }
  const config::State desired = store.desired();
  const EffectiveState effective = sync.effective();
  const HealthSnapshot checks = health.snapshot();
  const std::vector<DataplaneReport> dataplanes = sync.reports();
  response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  response.body() = render_metrics(
      MetricsInputs{desired, effective, sync.generation(), checks, dataplanes, std::move(servers)});
  response.body() += render_announce_metrics(announcer.report());
  response.body() += render_state_store_metrics(store.status());
  response.body() += render_weight_metrics(weights.reports(), weights.publications());
  return response;
}

Result<UniqueFd> open_api_socket(const std::string& path, const std::string& group) {
  control::ListenOptions listen;
  listen.mode = 0660;
  if (!group.empty()) {
    const struct group* g = ::getgrnam(group.c_str());
    if (g == nullptr) return Error{"--api-group: no group named \"" + group + "\""};
    listen.group = g->gr_gid;
  }
  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  return control::listen_unix(path, listen);
}

// RLIMIT_NOFILE's soft limit: how many descriptors this process may hold.
std::uint64_t max_descriptors() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
    return std::uint64_t{1} << 20;
  }
  return limit.rlim_cur;
}

}  // namespace

int run_daemon(const DaemonOptions& options) {
  // Settings first: the state file's location may come from the config file.
  Result<config::State> config = config::load_yaml_file(options.config_path);
  if (!config.ok()) {
    spdlog::error("refusing to start: {}", config.error().message);
    return kExitRefusedConfig;
  }
  const config::ControlplaneSettings settings = effective_settings(options, config.value());
  Result<ListenAddress> metrics_address = parse_metrics_listen(settings.metrics_listen);
  if (!metrics_address.ok()) {
    spdlog::error("refusing to start: {}", metrics_address.error().message);
    return kExitRefusedConfig;
  }
  const bool etcd = settings.state_store == config::StateStoreKind::etcd;
  Result<LoadedState> loaded =
      load_desired_state(options.config_path, etcd ? std::string() : settings.state_file);
  if (!loaded.ok()) {
    spdlog::error("refusing to start: {}", loaded.error().message);
    return kExitRefusedConfig;
  }
  // etcd: the VIPs come from the shared state; the config's only seed an absent key.
  SharedStart shared_start;
  std::unique_ptr<EtcdSharedState> shared;
  if (etcd) {
    Result<std::unique_ptr<EtcdSharedState>> opened =
        open_shared_state(settings, loaded->desired, shared_start);
    if (!opened.ok()) {
      spdlog::error("refusing to start: {}", opened.error().message);
      return kExitRefusedConfig;
    }
    shared = std::move(opened.value());
    spdlog::info("state: shared state {} in etcd ({}), revision {}{}", shared->key(),
                 settings.etcd->endpoints.front(), shared_start.mod_revision,
                 shared_start.seeded ? ", seeded from " + options.config_path : "");
  }
  const config::State& desired = loaded->desired;
  spdlog::info("state: {} VIP(s) from {}; {} dataplane(s) to program", desired.vips.size(),
               etcd                      ? std::string("etcd")
               : loaded->from_state_file ? settings.state_file + " (runtime changes)"
                                         : options.config_path,
               desired.dataplanes.size());
  if (desired.dataplanes.empty()) {
    spdlog::warn("config: no `dataplanes:` listed; nothing will be programmed");
  }

  // A predecessor killed while saving leaves its temporary file (docs/operations.md).
  if (!etcd && !settings.state_file.empty()) {
    for (const std::string& stale : remove_stale_temporaries(settings.state_file))
      spdlog::info("state: removed {}, left by a process killed while saving", stale);
  }
  StateStore store(desired, etcd ? std::string() : settings.state_file);
  if (shared)
    store.use_shared(shared.get(), shared_start.mod_revision, effective_host_name(settings));
  HealthTable health;
  DataplaneSync sync(store, health, desired.dataplanes);
  WeightController weights(store, health, sync);
  sync.set_weights_source([&weights] { return weights.published(); });
  // A tier computes adaptive weights on one host (docs/adaptive-weights.md, "In a tier").
  std::unique_ptr<EtcdWeightShare> weight_share;
  if (etcd) {
    weight_share = std::make_unique<EtcdWeightShare>(*settings.etcd, effective_host_name(settings));
    if (Status ok = weight_share->init(); !ok.ok()) {
      spdlog::error("refusing to start: {}", ok.error().message);
      return kExitRefusedConfig;
    }
    weights.set_share(weight_share.get());
  }
  HealthMonitor monitor(health, [&sync] { sync.notify(); });
  // Agent checks of adaptive VIPs (docs/agent-check.md): read by the weight controller.
  AgentMonitor agents;
  weights.set_agent_source([&agents] { return agent_signals(agents.snapshot()); });
  store.add_listener([&] {
    monitor.reconcile(store.desired());
    agents.reconcile(store.desired());
    sync.notify();
  });
  AnnouncerSettings announce_settings;
  announce_settings.host_name = effective_host_name(settings);  // controlplane.host_name
  announce_settings.host_state_file = settings.host_state_file;
  announce_settings.bgp = settings.bgp;
  announce_settings.dataplanes = desired.dataplanes;
  Result<std::unique_ptr<Announcer>> announcer =
      Announcer::create(std::move(announce_settings), store, health, sync);
  if (!announcer.ok()) {
    spdlog::error("refusing to start: {}", announcer.error().message);
    return kExitRefusedConfig;
  }
  ApiRoutes routes(store, health, sync, announcer->get());
  routes.set_weights(&weights);

  asio::io_context io;
  Result<UniqueFd> api_fd = open_api_socket(settings.api_socket, options.api_group);
  if (!api_fd.ok()) {
    spdlog::error("cannot open the API socket {}: {}", settings.api_socket, api_fd.error().message);
    return kExitSocket;
  }
  // Every accepted connection is checked (SO_PEERCRED), not only the socket file's mode: root,
  // this process's user, and the members of the group that owns the socket file.
  Result<control::CallerPolicy> callers =
      options.api_group.empty() ? Result<control::CallerPolicy>(control::CallerPolicy{})
                                : control::CallerPolicy::with_group(options.api_group);
  if (!callers.ok()) {
    spdlog::error("--api-group: {}", callers.error().message);
    std::error_code ignored;
    std::filesystem::remove(settings.api_socket, ignored);
    return kExitSocket;
  }
  asio::local::stream_protocol::acceptor api_acceptor(io, asio::local::stream_protocol(),
                                                      api_fd.value().release());
  const std::uint64_t descriptors = max_descriptors();
  HttpLimits api_limits;
  api_limits.max_connections = api_connection_limit(settings.api_max_connections, descriptors);
  if (api_limits.max_connections < settings.api_max_connections) {
    spdlog::warn(
        "api: at most {} connections, not api_max_connections {}: half of RLIMIT_NOFILE {} "
        "(the rest is kept for health checks and dataplanes)",
        api_limits.max_connections, settings.api_max_connections, descriptors);
  }
  HttpServer<asio::local::stream_protocol> api(
      io, std::move(api_acceptor), [&routes](const HttpRequest& r) { return routes.handle(r); },
      "api", api_limits,
      [policy = std::move(callers.value())](int fd) { return policy.admit_peer(fd); });

  asio::ip::tcp::acceptor metrics_acceptor(io);
  boost::system::error_code ec;
  const asio::ip::tcp::endpoint metrics_endpoint(asio::ip::make_address(metrics_address->host, ec),
                                                 metrics_address->port);
  if (!ec) metrics_acceptor.open(metrics_endpoint.protocol(), ec);
  if (!ec) metrics_acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) metrics_acceptor.bind(metrics_endpoint, ec);
  if (!ec) metrics_acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    spdlog::error("cannot listen for metrics on {}: {}", settings.metrics_listen, ec.message());
    std::error_code ignored;
    std::filesystem::remove(settings.api_socket, ignored);
    return kExitSocket;
  }
  HttpLimits metrics_limits;
  metrics_limits.max_connections = metrics_connection_limit(descriptors);
  const HttpServer<asio::ip::tcp>* metrics_server = nullptr;  // set below, before start()
  HttpServer<asio::ip::tcp> metrics(
      io, std::move(metrics_acceptor),
      [&](const HttpRequest& r) {
        return metrics_response(r, store, health, sync, **announcer, weights,
                                {api.report(), metrics_server->report()});
      },
      "metrics", metrics_limits);
  metrics_server = &metrics;

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int signal) {
    spdlog::info("signal {}: shutting down; dataplanes keep forwarding with their last state",
                 signal);
    api.stop();
    metrics.stop();
    io.stop();
  });

  monitor.reconcile(desired);
  agents.reconcile(desired);
  (*announcer)->start();  // the main thread: BIRD (bird_command) lives as long as it
  monitor.start();
  agents.start();
  sync.start();
  if (weight_share) weight_share->start();
  weights.start();
  if (shared) shared->start(store, shared_start.header_revision + 1);
  api.start();
  metrics.start();
  spdlog::info(
      "api on {} (mode 0660; callers: root, uid {}{}; at most {} connections), metrics on "
      "http://{}/metrics (at most {} connections)",
      settings.api_socket, ::geteuid(),
      options.api_group.empty() ? std::string() : " and group " + options.api_group,
      api_limits.max_connections, settings.metrics_listen, metrics_limits.max_connections);

  std::vector<std::thread> threads;
  for (int i = 1; i < kServerThreads; ++i)
    threads.emplace_back([&io] { io.run(); });
  io.run();
  for (std::thread& t : threads)
    t.join();

  (*announcer)->stop();
  if (shared) shared->stop();
  weights.stop();
  if (weight_share) weight_share->stop();
  sync.stop();
  agents.stop();
  monitor.stop();
  std::error_code ignored;
  std::filesystem::remove(settings.api_socket, ignored);
  spdlog::info("stopped");
  return 0;
}

}  // namespace sluice::cp

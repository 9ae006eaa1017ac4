#include "announce/announcer.hpp"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "health/health_monitor.hpp"
#include "sluice/atomic_file.hpp"
#include "sluice/config/names.hpp"

namespace sluice::cp {
namespace {

using Steady = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kConfigureRetry{1000};
constexpr std::chrono::milliseconds kBirdRestart{1000};

}  // namespace

Result<std::unique_ptr<Announcer>> Announcer::create(AnnouncerSettings settings, StateStore& store,
                                                     HealthTable& health, DataplaneSync& sync) {
  Result<HostDrain> drain = load_host_drain(settings.host_state_file);
  if (!drain.ok()) return Error{"controlplane.host_state_file: " + drain.error().message};
  return std::unique_ptr<Announcer>(
      new Announcer(std::move(settings), drain.value(), store, health, sync));
}

Announcer::Announcer(AnnouncerSettings settings, HostDrain drain, StateStore& store,
                     HealthTable& health, DataplaneSync& sync)
    : settings_(std::move(settings)),
      store_(store),
      health_(health),
      sync_(sync),
      liveness_(settings_.dataplanes, settings_.liveness),
      drain_(drain) {
  report_.host_name = settings_.host_name;
  report_.bgp = settings_.bgp.has_value();
  report_.drain = drain_;
  report_.dataplanes = liveness_.state();
}

Announcer::~Announcer() {
  stop();
}

void Announcer::start() {
  if (drain_.drained) {
    spdlog::info("announce: host {} is drained since {} ({}): announcing nothing",
                 settings_.host_name, clock_time(drain_.since), settings_.host_state_file);
  }
  if (settings_.bgp) {
    for (const std::string& path : {settings_.bgp->include_v4, settings_.bgp->include_v6}) {
      for (const std::string& stale : remove_stale_temporaries(path))
        spdlog::info("announce: removed {}, left by a process killed while writing", stale);
    }
    // Nothing is announced until this control plane knows what it may announce.
    const std::string empty = render_include({}, false);
    write_and_configure(empty, render_include({}, true));
    if (!settings_.bgp->bird_command.empty()) watch_bird();
  }
  thread_ = std::thread([this] { run(); });
}

void Announcer::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (settings_.bgp) {
    spdlog::info("announce: stopping: withdrawing every VIP of this host");
    write_and_configure(render_include({}, false), render_include({}, true));
    if (bird_.pid() > 0) {
      spdlog::info("announce: stopping BIRD (pid {})", bird_.pid());
      bird_.stop();
    }
  }
}

Result<HostDrain> Announcer::drain(std::optional<bool> graceful_shutdown) {
  std::unique_lock lock(mutex_);
  if (drain_.drained) return drain_;
  HostDrain next;
  next.drained = true;
  next.since = std::chrono::system_clock::now();
  next.graceful_shutdown =
      graceful_shutdown.value_or(settings_.bgp && settings_.bgp->graceful_shutdown);
  if (Status saved = save_host_drain(settings_.host_state_file, next); !saved.ok())
    return Error{"drain not done: " + saved.error().message};
  drain_ = next;
  report_.drain = next;
  lock.unlock();
  spdlog::info("announce: host {} drained{}", settings_.host_name,
               next.graceful_shutdown ? " with graceful shutdown: routes tagged (65535,0) first"
                                      : ": every VIP withdrawn");
  wake_.notify_all();
  return next;
}

Result<HostDrain> Announcer::undrain() {
  std::unique_lock lock(mutex_);
  if (!drain_.drained) return drain_;
  const HostDrain next{};
  if (Status saved = save_host_drain(settings_.host_state_file, next); !saved.ok())
    return Error{"undrain not done: " + saved.error().message};
  drain_ = next;
  report_.drain = next;
  lock.unlock();
  spdlog::info("announce: host {} back in service", settings_.host_name);
  wake_.notify_all();
  return next;
}

AnnounceReport Announcer::report() const {
  std::lock_guard lock(mutex_);
  return report_;
}

void Announcer::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const Steady::time_point next = Steady::now() + settings_.liveness.interval;
    lock.unlock();
    round();
    lock.lock();
    wake_.wait_until(lock, next, [this] { return stopping_; });
  }
}

bool Announcer::health_round_done(const config::State& desired) {
  if (health_done_) return true;
  for (const config::Vip& vip : desired.vips) {
    for (const config::Backend& b : vip.backends) {
      if (!probe_spec_for(vip, b)) continue;
      const std::optional<BackendHealth> h =
          health_.find(BackendRef{config::key_of(vip), b.address});
      if (!h || h->checks == 0) return false;
    }
  }
  health_done_ = true;
  spdlog::info("announce: first round of health checks complete");
  return true;
}

void Announcer::round() {
  const std::uint64_t generation = sync_.generation();
  liveness_.sample(generation);
  const config::State desired = store_.desired();
  const EffectiveState effective = sync_.effective();

  HostConditions host;
  host.now = std::chrono::system_clock::now();
  host.dataplanes = liveness_.state();
  host.generation = generation;
  host.health_round_done = health_round_done(desired);
  HostDrain drain;
  {
    std::lock_guard lock(mutex_);
    drain = drain_;
  }
  const auto hold =
      std::chrono::milliseconds(settings_.bgp ? settings_.bgp->graceful_shutdown_hold_ms : 0);
  host.drained = drain.drained;
  host.drained_since = drain.since;
  host.graceful_phase = drain.drained && drain.graceful_shutdown && host.now < drain.since + hold;
  std::vector<VipAnnouncement> vips = decide_announcements(desired, effective, host);
  log_changes(vips);

  if (settings_.bgp) {
    if (!settings_.bgp->bird_command.empty()) watch_bird();
    const std::string v4 = render_include(vips, false);
    const std::string v6 = render_include(vips, true);
    if (v4 != written_v4_ || v6 != written_v6_ ||
        (configure_pending_ && Steady::now() >= next_configure_try_)) {
      write_and_configure(v4, v6);
    }
    if (Steady::now() >= next_protocols_) {
      next_protocols_ = Steady::now() + settings_.protocols_every;
      read_protocols();
    }
  }

  std::lock_guard lock(mutex_);
  report_.drain = drain_;
  report_.withdraw_at = drain.graceful_shutdown ? drain.since + hold : drain.since;
  report_.health_round_done = host.health_round_done;
  report_.vips = std::move(vips);
  report_.dataplanes = std::move(host.dataplanes);
  report_.bird_pid = bird_.pid();
}

void Announcer::log_changes(const std::vector<VipAnnouncement>& now) {
  for (const VipAnnouncement& a : now) {
    const auto before = std::find_if(logged_.begin(), logged_.end(),
                                     [&a](const VipAnnouncement& b) { return b.vip == a.vip; });
    if (before != logged_.end() && before->announced == a.announced &&
        before->graceful_shutdown == a.graceful_shutdown && before->reason == a.reason) {
      continue;
    }
    spdlog::info("announce: VIP {} {}", a.vip, a.reason);
  }
  logged_ = now;
}

void Announcer::write_and_configure(const std::string& v4, const std::string& v6) {
  const config::BgpSettings& bgp = *settings_.bgp;
  std::string failure;
  for (const auto& [path, text] : {std::pair{bgp.include_v4, v4}, std::pair{bgp.include_v6, v6}}) {
    std::error_code ec;
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    const ReplaceResult r = replace_file_atomic(path, text, 0644);
    if (!r.ok() && !r.replaced() && failure.empty()) failure = r.error;
  }
  written_v4_ = v4;
  written_v6_ = v6;
  const auto started = Steady::now();
  if (failure.empty()) {
    Result<BirdReply> reply = bird_command(bgp.bird_socket, "configure", settings_.bird_timeout);
    if (!reply.ok()) {
      failure = reply.error().message;
    } else if (!reply->ok()) {
      failure = "configure refused: " + reply->summary();
    } else {
      const auto ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - started).count();
      spdlog::info("announce: BIRD configured in {} ms: {}", ms, reply->summary());
    }
  }
  std::lock_guard lock(mutex_);
  if (failure.empty()) {
    configure_pending_ = false;
    ++report_.configures;
    report_.last_configure = std::chrono::system_clock::now();
    report_.bird_error.clear();
    return;
  }
  configure_pending_ = true;
  next_configure_try_ = Steady::now() + kConfigureRetry;
  ++report_.configure_failures;
  if (report_.bird_error != failure) {
    spdlog::warn("announce: BIRD not configured (retrying every {} ms): {}",
                 kConfigureRetry.count(), failure);
  }
  report_.bird_error = failure;
}

void Announcer::read_protocols() {
  Result<BirdReply> reply =
      bird_command(settings_.bgp->bird_socket, "show protocols", settings_.bird_timeout);
  std::vector<BirdProtocol> protocols;
  if (reply.ok()) protocols = parse_show_protocols(*reply);
  std::lock_guard lock(mutex_);
  for (const BirdProtocol& p : protocols) {
    const auto before = std::find_if(report_.protocols.begin(), report_.protocols.end(),
                                     [&p](const BirdProtocol& q) { return q.name == p.name; });
    if (p.proto == "BGP" &&
        (before == report_.protocols.end() || before->state != p.state || before->info != p.info)) {
      spdlog::info("announce: BGP {} {} {}", p.name, p.state, p.info);
    }
  }
  if (reply.ok()) {
    report_.protocols = std::move(protocols);
  } else {
    report_.protocols.clear();
    if (!configure_pending_) report_.bird_error = reply.error().message;
  }
}

void Announcer::watch_bird() {
  std::string ended;
  if (bird_.running(ended)) return;
  if (bird_.pid() == 0 && Steady::now() < next_bird_start_) return;
  if (ended != "not started") spdlog::warn("announce: BIRD {}; starting it again", ended);
  next_bird_start_ = Steady::now() + kBirdRestart;
  Status started = bird_.start(settings_.bgp->bird_command);
  if (!started.ok()) {
    spdlog::error("announce: cannot start BIRD: {}", started.error().message);
    return;
  }
  spdlog::info("announce: BIRD started (pid {}), bound to this process: {}", bird_.pid(),
               fmt::format("{}", fmt::join(settings_.bgp->bird_command, " ")));
  // Its routes come from the include files just written; it configures itself at start.
  configure_pending_ = true;
  next_configure_try_ = Steady::now() + std::chrono::milliseconds(200);
}

}  // namespace sluice::cp

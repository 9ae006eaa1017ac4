// Drives the local BIRD2 from the per-VIP announce decisions (docs/tier.md). One thread, one
// round about every 100 ms: the liveness watch asks the local dataplanes; the decisions are
// recomputed; when the set of announced routes changed, the two include files are replaced
// atomically and BIRD is told `configure` on its control socket (bounded, logged, retried until
// it succeeds). About every second `show protocols` reads the BGP sessions for `host status`.
// At start the include files are emptied first (nothing is announced until the control plane
// knows), at a clean stop they are emptied again. Drain state: controlplane.host_state_file.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "announce/bird_client.hpp"
#include "announce/bird_process.hpp"
#include "announce/decision.hpp"
#include "announce/host_state.hpp"
#include "announce/liveness_watch.hpp"
#include "dataplanes/dataplane_sync.hpp"
#include "health/health_table.hpp"
#include "sluice/config/model.hpp"
#include "state/state_store.hpp"

namespace sluice::cp {

struct AnnouncerSettings {
  std::string host_name;
  std::string host_state_file;
  std::optional<config::BgpSettings> bgp;  // nullopt: decide and report, announce nothing
  std::vector<config::DataplaneEndpoint> dataplanes;
  LivenessOptions liveness;
  std::chrono::milliseconds bird_timeout{2000};
  std::chrono::milliseconds protocols_every{1000};
};

// What `host status`, `status` and the metrics show.
struct AnnounceReport {
  std::string host_name;
  bool bgp = false;  // controlplane.bgp configured
  HostDrain drain;
  SystemTime withdraw_at{};  // drained with graceful shutdown: when the tagged routes go
  bool health_round_done = false;
  std::vector<VipAnnouncement> vips;
  std::vector<DataplaneLiveness> dataplanes;
  std::vector<BirdProtocol> protocols;  // from `show protocols`
  std::string bird_error;               // the last failure talking to BIRD; "" when fine
  std::uint64_t configures = 0;         // successful `configure` calls
  std::uint64_t configure_failures = 0;
  std::optional<SystemTime> last_configure;
  pid_t bird_pid = 0;  // bird_command: the child's pid
};

class Announcer {
 public:
  // Loads the drain state; Error when its file cannot be read or parsed.
  [[nodiscard]] static Result<std::unique_ptr<Announcer>> create(AnnouncerSettings settings,
                                                                 StateStore& store,
                                                                 HealthTable& health,
                                                                 DataplaneSync& sync);
  ~Announcer();
  Announcer(const Announcer&) = delete;
  Announcer& operator=(const Announcer&) = delete;

  // Empties the include files, starts BIRD (bird_command), then the thread. Call from the
  // main thread: BIRD's life is bound to the thread that starts it.
  void start();
  // Withdraws everything (empty include files, configure), stops BIRD (bird_command).
  void stop();

  // Persisted before it takes effect; Error (state unchanged) when the file cannot be written.
  [[nodiscard]] Result<HostDrain> drain(std::optional<bool> graceful_shutdown);
  [[nodiscard]] Result<HostDrain> undrain();

  [[nodiscard]] AnnounceReport report() const;

 private:
  Announcer(AnnouncerSettings settings, HostDrain drain, StateStore& store, HealthTable& health,
            DataplaneSync& sync);
  void run();
  void round();
  bool health_round_done(const config::State& desired);
  void write_and_configure(const std::string& v4, const std::string& v6);
  void read_protocols();
  void watch_bird();
  void log_changes(const std::vector<VipAnnouncement>& now);

  AnnouncerSettings settings_;
  StateStore& store_;
  HealthTable& health_;
  DataplaneSync& sync_;
  LivenessWatch liveness_;  // announcer thread only
  BirdProcess bird_;

  std::thread thread_;
  mutable std::mutex mutex_;  // guards the members below
  std::condition_variable wake_;
  bool stopping_ = false;
  HostDrain drain_;
  AnnounceReport report_;

  // Announcer thread only.
  bool health_done_ = false;
  std::optional<std::string> written_v4_;  // what BIRD was last configured with
  std::optional<std::string> written_v6_;
  bool configure_pending_ = false;
  std::chrono::steady_clock::time_point next_configure_try_{};
  std::chrono::steady_clock::time_point next_protocols_{};
  std::chrono::steady_clock::time_point next_bird_start_{};
  std::vector<VipAnnouncement> logged_;
};

}  // namespace sluice::cp

// The tier's shared desired state in etcd: one JSON document (state/shared_document.hpp) on
// the key `<prefix>state`. At start it is loaded, or seeded from the config file's VIPs with
// a create-only transaction; then a watch thread applies every change to the StateStore and,
// after a break, reads the key again and resumes from the revision read (backoff 100 ms
// doubling to 2 s). Writes compare the key's mod_revision with the one last read.
// Fail-static: with etcd unreachable the state in force stays, reads keep answering and
// writes are refused within kWriteBudget naming the endpoints tried.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "etcd/etcd_client.hpp"
#include "sluice/config/model.hpp"
#include "sluice/result.hpp"
#include "state/state_store.hpp"

namespace sluice::cp {

struct EtcdStateOptions {
  std::chrono::milliseconds write_budget{1800};  // a refused write answers within this
  std::chrono::milliseconds read_budget{2000};
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{2000};
  std::chrono::milliseconds startup_wait{5000};  // load or seed at start, then give up
};

// What was found (or written) at start.
struct SharedStart {
  std::string document;
  std::uint64_t mod_revision = 0;
  std::uint64_t header_revision = 0;
  bool seeded = false;  // this host wrote it from its config file's VIPs
};

class EtcdSharedState final : public SharedStateBackend {
 public:
  EtcdSharedState(const config::EtcdSettings& settings, std::string host_name,
                  EtcdStateOptions options = {});
  ~EtcdSharedState() override;
  EtcdSharedState(const EtcdSharedState&) = delete;
  EtcdSharedState& operator=(const EtcdSharedState&) = delete;

  // Parses the endpoints and builds the TLS context.
  [[nodiscard]] Status init();
  // Loads the key, or seeds it with `seed_vips` if absent; retries until startup_wait.
  [[nodiscard]] Result<SharedStart> load_or_seed(const std::vector<config::Vip>& seed_vips);
  // Starts the watch thread from `from_revision` (the load's header revision + 1).
  void start(StateStore& store, std::uint64_t from_revision);
  void stop();

  std::variant<std::uint64_t, Refusal> write(const std::string& document,
                                             std::uint64_t based_on) override;
  void describe(StateStoreStatus& status) const override;

  [[nodiscard]] const std::string& key() const { return key_; }

 private:
  void run(StateStore& store, std::uint64_t from_revision);
  void note_ok();
  void note_failure(const std::string& error);
  void sleep_for(std::chrono::milliseconds delay);

  config::EtcdSettings settings_;
  std::string host_name_;
  EtcdStateOptions options_;
  std::string key_;
  std::unique_ptr<EtcdClient> client_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool connected_ = false;
  std::string last_error_;
  std::chrono::steady_clock::time_point lost_at_{};

  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// Daemon wiring: with `controlplane.state_store: etcd`, opens the shared state and puts its
// VIPs in `desired` (in place of the config file's, which only seed an absent key). Errors
// name the endpoints or the refused field.
[[nodiscard]] Result<std::unique_ptr<EtcdSharedState>> open_shared_state(
    const config::ControlplaneSettings& settings, config::State& desired, SharedStart& start);

// controlplane.host_name, else gethostname().
[[nodiscard]] std::string effective_host_name(const config::ControlplaneSettings& settings);

}  // namespace sluice::cp

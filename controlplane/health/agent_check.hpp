// The agent checks of adaptive VIPs (docs/agent-check.md): every agent_check.interval_ms, each
// backend of a VIP with an agent_check gets one TCP connection to address:agent_check.port, and
// the first line its agent writes (up to lb::kMaxAgentReplyBytes, or what came before it closed)
// is parsed as an HAProxy agent reply. One thread, asynchronous, at most one check in flight
// per backend (the timeout is at most the interval), as in the HealthMonitor.
//
// A failed check (refused, timeout, closed without a line, a line that does not parse)
// changes nothing: the backend keeps its last good reply, and the error is recorded next to it
// (as HAProxy keeps the last weight its agent set). An agent that times out because its backend
// is overloaded thus cannot hand that backend its full weight back. A backend whose agent never
// answered has no reply: the weights use its configured weight.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/asio.hpp"
#include "common/check_thread.hpp"
#include "common/rate_limited_log.hpp"
#include "sluice/config/model.hpp"
#include "sluice/ip_address.hpp"
#include "sluice/lb/agent_reply.hpp"
#include "state/backend_ref.hpp"

namespace sluice::cp {

struct AgentStatus {
  std::string target;                   // "198.18.1.1:8090", "[2001:db8::1]:8090"
  std::optional<lb::AgentReply> reply;  // the last good reply, kept across failed checks
  std::chrono::system_clock::time_point replied_at{};  // when `reply` was read
  std::string error;  // why the last check failed; "" when it gave a reply ("not checked yet")
  std::string raw;    // the last line read, without its line end, through lb::printable()
  std::uint64_t checks = 0;        // every check, local errors included
  std::uint64_t failures = 0;      // checks without a good reply (local errors excluded)
  std::uint64_t local_errors = 0;  // checks that could not be made (this process short of fds)
  std::uint32_t consecutive_failures = 0;                // since the last good reply
  std::chrono::system_clock::time_point last_checked{};  // epoch until the first check

  friend bool operator==(const AgentStatus&, const AgentStatus&) = default;
};
using AgentStatusMap = std::map<BackendRef, AgentStatus>;

// The agent of `backend` behind `vip`: its address and port, nullopt for none (no agent_check,
// or a VIP without weights: adaptive).
struct AgentTarget {
  IpAddress address;
  std::uint16_t port = 0;
  std::chrono::milliseconds interval{2000};
  std::chrono::milliseconds timeout{1000};  // at most the interval

  friend bool operator==(const AgentTarget&, const AgentTarget&) = default;
};
[[nodiscard]] std::optional<AgentTarget> agent_target_for(const config::Vip& vip,
                                                          const config::Backend& backend);
[[nodiscard]] std::string describe(const AgentTarget& target);  // "198.18.1.1:8090"

// One read of one agent, on `io`; `done` runs exactly once, within the timeout.
struct AgentRead {
  bool ok = false;
  std::string line;          // ok: what was read up to the first newline, or to the close
  std::string error;         // !ok: "connect: Connection refused", "timeout after 1000 ms", ...
  bool local_error = false;  // !ok because this process ran out of something
};
void start_agent_read(asio::io_context& io, const AgentTarget& target,
                      std::function<void(AgentRead)> done);

class AgentMonitor {
 public:
  // `on_change` (optional) runs on the agent thread after a backend's reply changed. Each
  // agent's changes are logged at most once per `log_interval` (the others counted).
  explicit AgentMonitor(
      std::function<void()> on_change = {},
      RateLimitedLog::Clock::duration log_interval = RateLimitedLog::kDefaultInterval);
  ~AgentMonitor();
  AgentMonitor(const AgentMonitor&) = delete;
  AgentMonitor& operator=(const AgentMonitor&) = delete;

  void start();
  void stop();

  // Brings the set of agents in line with `desired` (thread-safe): one per backend of every
  // adaptive VIP with an agent_check. A backend whose agent changed keeps its status and is
  // checked at once; the first call spreads its checks over one interval.
  void reconcile(const config::State& desired);

  // Every checked backend (thread-safe).
  [[nodiscard]] AgentStatusMap snapshot() const;

 private:
  struct Target;

  void reconcile_now(const config::State& desired);
  void schedule(const std::shared_ptr<Target>& target, std::chrono::steady_clock::time_point at);
  void run_check(const std::shared_ptr<Target>& target);
  void record(const std::shared_ptr<Target>& target, const AgentRead& read);

  std::function<void()> on_change_;
  RateLimitedLog::Clock::duration log_interval_;
  CheckThread loop_;
  std::map<BackendRef, std::shared_ptr<Target>> targets_;  // agent thread only
  bool first_reconcile_ = true;                            // agent thread only
  RateLimitedLog local_error_log_;

  mutable std::mutex mutex_;
  AgentStatusMap status_;  // under mutex_
};

}  // namespace sluice::cp

// A small blocking client of the dataplane control socket: one request at a time.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "sluice/config/model.hpp"
#include "sluice/control/messages.hpp"
#include "sluice/result.hpp"
#include "sluice/unique_fd.hpp"

namespace sluice::control {

inline constexpr std::chrono::milliseconds kDefaultConnectTimeout{2000};
inline constexpr std::chrono::milliseconds kDefaultRequestTimeout{30000};

class ControlClient {
 public:
  [[nodiscard]] static Result<ControlClient> connect(
      const std::string& socket_path, std::chrono::milliseconds timeout = kDefaultConnectTimeout);
  // Takes an already connected socket (tests: one end of a socketpair).
  explicit ControlClient(UniqueFd fd) : fd_(std::move(fd)) {}

  // Sends `request`, waits for the reply. Returns the reply when "ok" is true, Error(its
  // "error") when false. A transport failure (timeout, peer gone, bad frame) also closes the
  // connection: later calls fail until the caller connects again.
  [[nodiscard]] Result<nlohmann::json> request(
      const nlohmann::json& request, std::chrono::milliseconds timeout = kDefaultRequestTimeout);

  // A push waits for the dataplane to build and publish the state: give it time (a state at
  // the limits takes seconds, docs/dataplane.md "Limits").
  [[nodiscard]] Result<PushStateReply> push_state(
      const config::State& state, std::chrono::milliseconds timeout = kDefaultRequestTimeout);
  [[nodiscard]] Result<DataplaneStatus> get_status();
  [[nodiscard]] Result<Counters> get_counters();
  [[nodiscard]] Result<ExplainResult> explain(const ExplainFlow& flow);

  [[nodiscard]] bool connected() const { return fd_.valid(); }

 private:
  UniqueFd fd_;
};

}  // namespace sluice::control

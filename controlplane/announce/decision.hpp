// Whether this host announces each VIP over BGP, and why: a pure function of what the control
// plane knows about the local dataplanes, the health checks, the effective state and the
// host's drain state (docs/tier.md, "Announcing VIPs with BIRD2").
//
// Policy when-healthy (the default) announces a VIP while every local dataplane answers,
// runs the current generation, has worker loops that keep polling, the first round of health
// checks is complete, the VIP has a backend up, and the host is not drained. always: unless
// drained. never: never. A drained host with graceful shutdown first keeps announcing what it
// announced, tagged with the GRACEFUL_SHUTDOWN community (65535,0) (RFC 8326), for a hold time,
// then withdraws everything.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "sluice/config/model.hpp"
#include "state/effective_state.hpp"

namespace sluice::cp {

using SystemTime = std::chrono::system_clock::time_point;

// One local dataplane as the fast liveness watch sees it.
struct DataplaneLiveness {
  std::string name;
  bool reachable = false;
  SystemTime unreachable_since{};  // when it stopped answering (or the watch started)
  std::string error;               // why it does not answer: "connect: Connection refused"
  std::uint64_t generation = 0;    // what it runs, as last seen
  // It has run the current generation at least once since it became reachable; a dataplane
  // that restarted stays withdrawn until the control plane has pushed it the state.
  bool synced = false;
  bool in_sync = false;            // runs the current generation now
  SystemTime out_of_sync_since{};  // when in_sync became false (while synced)
  bool stalled = false;            // a worker loop stopped polling
  std::uint32_t stalled_lcore = 0;
  SystemTime stalled_since{};
};

struct HostConditions {
  SystemTime now{};
  std::vector<DataplaneLiveness> dataplanes;
  std::uint64_t generation = 0;  // the current effective generation
  // Every backend with a health check had its first result (latched once true).
  bool health_round_done = false;
  bool drained = false;
  SystemTime drained_since{};
  // Drained with graceful shutdown and still within the hold: announce tagged, not withdrawn.
  bool graceful_phase = false;
  // A synced dataplane that misses a generation for at most this long stays announced: every
  // change of the state (or of a backend's health) is a push in flight for a moment.
  std::chrono::milliseconds sync_grace{5000};
};

struct VipAnnouncement {
  std::string vip;  // config::vip_key()
  IpAddress address;
  config::AnnouncePolicy policy = config::AnnouncePolicy::when_healthy;
  bool announced = false;
  bool graceful_shutdown = false;  // announced with the (65535,0) community
  std::string reason;              // "announced", "withdrawn: host drained since 12:00:03", ...

  friend bool operator==(const VipAnnouncement&, const VipAnnouncement&) = default;
};

// One announcement per VIP of `desired`, in its order. `effective` says which backends are up.
[[nodiscard]] std::vector<VipAnnouncement> decide_announcements(const config::State& desired,
                                                                const EffectiveState& effective,
                                                                const HostConditions& host);

// "12:00:03" (UTC): the times in reasons.
[[nodiscard]] std::string clock_time(SystemTime t);

// The routes one family's BIRD2 include file holds: one line per announced address (sorted,
// once even when several VIPs share it), tagged when every announced VIP on it is.
[[nodiscard]] std::string render_include(const std::vector<VipAnnouncement>& announcements,
                                         bool ipv6);

}  // namespace sluice::cp

// The API views of the announcements (GET /v1/host and the fields added to GET /v1/status), as
// pure functions so they can be tested without sockets. Fields: docs/operations.md, "Host".
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "announce/announcer.hpp"
#include "dataplanes/dataplane_sync.hpp"

namespace sluice::cp {

// GET /v1/host: the host's name, drain state, per-VIP announcement, BGP sessions, and what
// still arrives at the local dataplanes (active flows, packets per second).
[[nodiscard]] nlohmann::json host_view(const AnnounceReport& report,
                                       const std::vector<DataplaneReport>& dataplanes);

// Adds "announce", "announced", "announce_reason" to each VIP of a status view and a "host"
// object ({name, drained, drained_since}).
void add_announcements(nlohmann::json& status, const AnnounceReport& report);

}  // namespace sluice::cp

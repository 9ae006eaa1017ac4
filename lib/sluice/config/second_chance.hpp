// The `previous` block of a VIP (docs/second-chance.md): what its Maglev table input was before
// its latest change, so that every host can name a flow's previous owner as a second hop. Pure
// functions over the desired state; the control plane calls them on every applied change.
#pragma once

#include <cstdint>
#include <vector>

#include "sluice/config/model.hpp"

namespace sluice::config {

// The VIP's table input under the operator's intent: every backend that takes new flows
// (weight above 0, not drained) with its weight, sorted by address (the table does not depend
// on the order).
[[nodiscard]] std::vector<PreviousBackend> intent_table_input(const Vip& vip);

// After a change from `before` to `after`: every VIP of `after` whose table input differs from
// the same VIP's in `before` gets previous = before's input, replaced now, unless the previous
// table it already has (not expired) was in force longer than the one being replaced, which
// then stays (so a series of quick changes, one API call per backend, keeps the table from
// before the series). The others keep `before`'s block, whatever the change wrote there. A new
// VIP, or one whose maglev_table_size changed, has none. Expired blocks are dropped.
void record_previous_backends(const State& before, State& after, std::uint64_t now_unix_s);

// Whether no flow of the previous table can still be alive: flow_idle_timeout_s have passed
// since it was replaced.
[[nodiscard]] inline bool previous_expired(const PreviousBackends& previous,
                                           const DataplaneSettings& settings,
                                           std::uint64_t now_unix_s) {
  return now_unix_s >= previous.replaced_at + settings.flow_idle_timeout_s;
}

}  // namespace sluice::config

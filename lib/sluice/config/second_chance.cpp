#include "sluice/config/second_chance.hpp"

#include <algorithm>

#include "sluice/config/names.hpp"

namespace sluice::config {

std::vector<PreviousBackend> intent_table_input(const Vip& vip) {
  std::vector<PreviousBackend> out;
  for (const Backend& b : vip.backends) {
    if (b.weight > 0 && !b.drained) out.push_back(PreviousBackend{b.address, b.weight});
  }
  std::sort(out.begin(), out.end(), [](const PreviousBackend& a, const PreviousBackend& b) {
    return a.address < b.address;
  });
  return out;
}

namespace {

// Whether `kept` was in force longer than the table in force from `since` to `now` (a start of
// 0 is "before anything was recorded": longer than any known span).
bool in_force_longer(const PreviousBackends& kept, std::uint64_t since, std::uint64_t now) {
  if (kept.since == 0) return true;
  if (since == 0) return false;
  return kept.replaced_at - kept.since >= now - since;
}

}  // namespace

void record_previous_backends(const State& before, State& after, std::uint64_t now_unix_s) {
  for (Vip& vip : after.vips) {
    const Vip* was = find_vip(before, key_of(vip));
    // A new VIP has no past here; a new table size moves every slot, and the old table is not
    // rebuilt at the old size: no second hop across such a change (docs/second-chance.md).
    if (was == nullptr || was->maglev_table_size != vip.maglev_table_size) {
      vip.previous.reset();
      continue;
    }
    // The block `before` has, unless it has expired (a pointer: no copy until one is needed).
    const PreviousBackends* kept = was->previous ? &*was->previous : nullptr;
    if (kept != nullptr && previous_expired(*kept, after.dataplane, now_unix_s)) kept = nullptr;
    std::vector<PreviousBackend> old_input = intent_table_input(*was);
    if (old_input == intent_table_input(vip)) {
      if (kept != nullptr) {
        vip.previous = *kept;
      } else {
        vip.previous.reset();
      }
      continue;
    }
    // The table this change replaces came into force at the last change (or before anything
    // was recorded). Of it and the kept previous table, the one in force longer has pinned
    // more of the long-lived flows: it stays the previous table. So a series of quick changes
    // (one API call per backend) keeps the table from before the series.
    const std::uint64_t replaced_since = was->previous ? was->previous->current_since : 0;
    if (kept != nullptr && in_force_longer(*kept, replaced_since, now_unix_s)) {
      vip.previous = *kept;
      vip.previous->current_since = now_unix_s;
    } else {
      vip.previous = PreviousBackends{now_unix_s, replaced_since, now_unix_s, std::move(old_input)};
    }
  }
}

}  // namespace sluice::config

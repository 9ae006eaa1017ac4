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

void record_previous_backends(const State& before, State& after, std::uint64_t now_unix_s) {
  for (Vip& vip : after.vips) {
    const Vip* was = find_vip(before, key_of(vip));
    // A new VIP has no past here; a new table size moves every slot, and the old table is not
    // rebuilt at the old size: no second hop across such a change (docs/second-chance.md).
    if (was == nullptr || was->maglev_table_size != vip.maglev_table_size) {
      vip.previous.reset();
      continue;
    }
    std::vector<PreviousBackend> old_input = intent_table_input(*was);
    if (old_input != intent_table_input(vip)) {
      vip.previous = PreviousBackends{now_unix_s, std::move(old_input)};
    } else {
      vip.previous = was->previous;
    }
    if (vip.previous && previous_expired(*vip.previous, after.dataplane, now_unix_s)) {
      vip.previous.reset();
    }
  }
}

}  // namespace sluice::config

#include "maglev_reference.hpp"

#include <algorithm>

namespace sluice::lb::testing {

std::vector<std::uint16_t> reference_populate(std::span<const MaglevPermutation> permutations,
                                              std::span<const std::uint32_t> weights,
                                              std::uint32_t table_size) {
  const std::uint64_t m = table_size;
  std::vector<std::uint16_t> entry(table_size, kNoBackend);
  const std::uint32_t max_weight =
      weights.empty() ? 0 : *std::max_element(weights.begin(), weights.end());
  if (max_weight == 0) return entry;
  std::vector<std::uint64_t> next(permutations.size(), 0);  // index into the preference list
  std::vector<std::uint64_t> credit(permutations.size(), 0);
  std::uint64_t filled = 0;
  while (true) {
    for (std::size_t i = 0; i < permutations.size(); ++i) {
      if (weights[i] == 0) continue;
      credit[i] += weights[i];
      if (credit[i] < max_weight) continue;
      credit[i] -= max_weight;
      std::uint64_t c = (permutations[i].offset + next[i] * permutations[i].skip) % m;
      while (entry[c] != kNoBackend) {
        ++next[i];
        c = (permutations[i].offset + next[i] * permutations[i].skip) % m;
      }
      entry[c] = static_cast<std::uint16_t>(i);
      ++next[i];
      if (++filled == m) return entry;
    }
  }
}

}  // namespace sluice::lb::testing

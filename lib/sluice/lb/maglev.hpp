// Weighted Maglev consistent hashing (Eisenbud et al., NSDI'16, section 3.4). Deterministic:
// the same backends and weights give a byte-identical table on every host, every run and in
// every input order, because permutations derive only from each backend's stable key and ties
// are broken by key order, never by input position, pointers, time or seeds.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/result.hpp"

namespace sluice::lb {

inline constexpr std::uint32_t kDefaultMaglevTableSize = 65537;
inline constexpr std::uint16_t kNoBackend = 0xFFFF;
inline constexpr std::size_t kMaxMaglevBackends = 0xFFFE;

// Prime sizes Sluice accepts (65537 default, up to 655373 and beyond).
[[nodiscard]] std::span<const std::uint32_t> supported_table_sizes();
[[nodiscard]] bool is_supported_table_size(std::uint32_t size);

struct MaglevBackend {
  std::string key;           // stable identity, e.g. the backend address "198.18.1.1"
  std::uint32_t weight = 1;  // 0: takes no slots (no new flows)
};

class MaglevTable {
 public:
  MaglevTable() = default;
  // slots[i] is an index into the backend list given to build_maglev(), or kNoBackend when
  // every weight is zero. A flow's slot is slots()[flow_hash % size()].
  explicit MaglevTable(std::vector<std::uint16_t> slots) : slots_(std::move(slots)) {}

  [[nodiscard]] std::uint32_t size() const { return static_cast<std::uint32_t>(slots_.size()); }
  [[nodiscard]] std::span<const std::uint16_t> slots() const { return slots_; }

 private:
  std::vector<std::uint16_t> slots_;
};

// Fails (with the reason) on an unsupported size, too many backends, or duplicate keys.
[[nodiscard]] Result<MaglevTable> build_maglev(std::span<const MaglevBackend> backends,
                                               std::uint32_t table_size = kDefaultMaglevTableSize);

// ---- Additions to the contract ----------------------------------------------------------------

// Where a backend's preference list starts and how it steps: its preference list is
// offset, offset + skip, offset + 2*skip, ... (mod table_size), which visits every slot once
// because table_size is prime and 1 <= skip < table_size.
struct MaglevPermutation {
  std::uint32_t offset = 0;  // in [0, table_size)
  std::uint32_t skip = 1;    // in [1, table_size)
};

// The paper's two hashes of the stable key: a 64-bit FNV-1a of the key's bytes seeds splitmix64,
// whose first output gives offset = h1 % M and whose second gives skip = h2 % (M - 1) + 1.
[[nodiscard]] MaglevPermutation maglev_permutation(std::string_view key, std::uint32_t table_size);

// The population step alone, with explicit permutations taking turns in the order given
// (build_maglev() passes them sorted by key). Slots hold indices into `permutations`. table_size
// only has to be a prime no larger than the largest supported size (so the paper's 7-slot
// example can be replayed); fails on a permutation out of range or a size mismatch between the
// two spans.
[[nodiscard]] Result<MaglevTable> populate_maglev(std::span<const MaglevPermutation> permutations,
                                                  std::span<const std::uint32_t> weights,
                                                  std::uint32_t table_size);

}  // namespace sluice::lb

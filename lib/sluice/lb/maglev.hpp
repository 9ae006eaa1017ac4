// Weighted Maglev consistent hashing (Eisenbud et al., NSDI'16, section 3.4). Deterministic:
// the same backends and weights give a byte-identical table on every host, every run and in
// every input order, because permutations derive only from each backend's stable key and ties
// are broken by key order, never by input position, pointers, time or seeds.
#pragma once

#include <cstdint>
#include <span>
#include <string>
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
  // slots[i] is an index into the backend list given to build(), or kNoBackend when every
  // weight is zero.
  explicit MaglevTable(std::vector<std::uint16_t> slots) : slots_(std::move(slots)) {}

  [[nodiscard]] std::uint16_t lookup(std::uint32_t flow_hash) const {
    return slots_[flow_hash % slots_.size()];
  }
  [[nodiscard]] std::uint32_t size() const { return static_cast<std::uint32_t>(slots_.size()); }
  [[nodiscard]] std::span<const std::uint16_t> slots() const { return slots_; }

 private:
  std::vector<std::uint16_t> slots_;
};

// Fails (with the reason) on an unsupported size, too many backends, or duplicate keys.
[[nodiscard]] Result<MaglevTable> build_maglev(std::span<const MaglevBackend> backends,
                                               std::uint32_t table_size = kDefaultMaglevTableSize);

}  // namespace sluice::lb

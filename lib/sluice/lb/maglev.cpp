#include "sluice/lb/maglev.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <numeric>
#include <utility>

namespace sluice::lb {
namespace {

// Primes only: a backend's preference list covers every slot only when the size is prime.
// Small sizes suit tiny pools and tests; keep M above 100 x backends for shares within ~1%.
constexpr std::array<std::uint32_t, 10> kSupportedTableSizes = {
    251, 1021, 4093, 16381, 65537, 131071, 262139, 524287, 655373, 1048573};

bool is_prime(std::uint32_t n) {
  if (n < 2) return false;
  for (std::uint32_t d = 2; std::uint64_t{d} * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

constexpr std::uint64_t kFnvOffset = 0xCBF29CE484222325ull;
constexpr std::uint64_t kFnvPrime = 0x100000001B3ull;

std::uint64_t fnv1a64(std::string_view bytes) {
  std::uint64_t h = kFnvOffset;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= kFnvPrime;
  }
  return h;
}

// splitmix64 (Steele, Lea, Flood): a full-avalanche step, so the two outputs are unrelated.
std::uint64_t splitmix64_next(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::string size_list() {
  std::string out;
  for (const std::uint32_t size : kSupportedTableSizes) {
    if (!out.empty()) out += ", ";
    out += std::to_string(size);
  }
  return out;
}

bool is_taken(const std::uint64_t* taken, std::uint32_t slot) {
  return (taken[slot >> 6] >> (slot & 63)) & 1u;
}

void mark_taken(std::uint64_t* taken, std::uint32_t slot) {
  taken[slot >> 6] |= std::uint64_t{1} << (slot & 63);
}

// a + b mod m for a, b < m: add and wrap, no division.
std::uint32_t add_mod(std::uint32_t a, std::uint32_t b, std::uint32_t m) {
  const std::uint32_t sum = a + b;
  return sum >= m ? sum - m : sum;
}

// slot + step mod m given back = m - step. Both outcomes are computed from `slot` so the
// selection is a conditional move and the walk's dependency chain stays two instructions long.
std::uint32_t step_mod(std::uint32_t slot, std::uint32_t step, std::uint32_t back) {
  const std::uint32_t forward = slot + step;
  const std::uint32_t wrapped = slot - back;
  return slot >= back ? wrapped : forward;
}

// First free slot on the walk start, start + skip, start + 2 skip, ... (mod m). Each step tests
// two slots, which halves both the dependency chain and the hard-to-predict loop branches that
// dominate the build once the table is mostly full.
std::uint32_t walk_to_free(const std::uint64_t* taken, std::uint32_t m, std::uint32_t start,
                           std::uint32_t skip, std::uint32_t double_skip) {
  if (!is_taken(taken, start)) return start;  // the common case while the table is sparse
  const std::uint32_t back = m - skip;
  const std::uint32_t double_back = m - double_skip;
  std::uint32_t slot = start;
  for (;;) {
    const std::uint32_t one = step_mod(slot, skip, back);
    const std::uint32_t two = step_mod(slot, double_skip, double_back);
    const bool one_taken = is_taken(taken, one);
    if (!one_taken || !is_taken(taken, two)) return one_taken ? two : one;
    slot = two;
  }
}

// a * b mod m for a, b < m < 2^21: the product is exact in a double, so a floating-point
// quotient (off by at most one) replaces a 64-bit division.
std::uint32_t mul_mod(std::uint32_t a, std::uint32_t b, std::uint32_t m, double inverse_m) {
  const std::uint64_t product = std::uint64_t{a} * b;
  const auto quotient = static_cast<std::uint64_t>(static_cast<double>(product) * inverse_m);
  auto rest = static_cast<std::int64_t>(product - quotient * m);
  if (rest < 0) rest += m;
  if (rest >= static_cast<std::int64_t>(m)) rest -= m;
  return static_cast<std::uint32_t>(rest);
}

// x^-1 mod p for a prime p and 0 < x < p (extended Euclid).
std::uint32_t inverse_mod_prime(std::uint32_t x, std::uint32_t p) {
  std::int64_t r0 = p, r1 = x, t0 = 0, t1 = 1;
  while (r1 != 0) {
    const std::int64_t q = r0 / r1;
    r0 = std::exchange(r1, r0 - q * r1);
    t0 = std::exchange(t1, t0 - q * t1);
  }
  return static_cast<std::uint32_t>(t0 < 0 ? t0 + p : t0);
}

// When to stop walking and scan the free list instead: a walk costs about M / F probes (and a
// mispredicted branch), a scan F multiply-modulo steps; measured best near F = sqrt(M / 2).
std::uint32_t tail_free_slots(std::uint32_t m) {
  return static_cast<std::uint32_t>(std::sqrt(static_cast<double>(m) / 2.0));
}

void collect_free(const std::uint64_t* taken, std::uint32_t m, std::vector<std::uint32_t>& out) {
  for (std::uint32_t slot = 0; slot < m; ++slot) {
    if (!is_taken(taken, slot)) out.push_back(slot);
  }
}

// One table's population: each backend's turn, the occupancy bitmap and the free list. Lives for
// one build; the scratch memory is small next to the table itself.
class Population {
 public:
  explicit Population(std::uint32_t table_size) : table_size_(table_size) {}

  // Adds a backend's turn; weight 0 takes no slot. Turns are taken in the order added.
  void add_turn(const MaglevPermutation& permutation, std::uint32_t weight, std::uint16_t id);
  [[nodiscard]] MaglevTable fill();

 private:
  // One backend's place in the round-robin: the next slot on its preference list, its step, and
  // its credit for weighted turns (each round adds `weight`; a slot costs the largest weight).
  struct Turn {
    std::uint32_t next = 0;
    std::uint32_t skip = 1;
    std::uint32_t double_skip = 2;   // 2 * skip mod M: the walk tests two slots per step
    std::uint32_t skip_inverse = 0;  // skip^-1 mod M, computed on first use; 0: not yet
    std::uint64_t credit = 0;
    std::uint32_t weight = 0;
    std::uint16_t id = 0;
  };

  template <bool kWeighted>
  void fill_turns(std::uint16_t* slots);
  std::uint32_t take_first_free(Turn& turn);

  std::uint32_t table_size_;
  std::uint32_t max_weight_ = 0;
  std::vector<Turn> turns_;
  std::vector<std::uint64_t> taken_;  // one bit per slot: 8 KiB at M = 65537, stays in L1
  std::vector<std::uint32_t> free_;   // the last few free slots, once walking gets expensive
};

}  // namespace

std::span<const std::uint32_t> supported_table_sizes() {
  return kSupportedTableSizes;
}

bool is_supported_table_size(std::uint32_t size) {
  return std::find(kSupportedTableSizes.begin(), kSupportedTableSizes.end(), size) !=
         kSupportedTableSizes.end();
}

MaglevPermutation maglev_permutation(std::string_view key, std::uint32_t table_size) {
  std::uint64_t state = fnv1a64(key);
  const std::uint64_t h1 = splitmix64_next(state);
  const std::uint64_t h2 = splitmix64_next(state);
  return MaglevPermutation{
      .offset = static_cast<std::uint32_t>(h1 % table_size),
      .skip = static_cast<std::uint32_t>(h2 % (table_size - 1) + 1),
  };
}

Result<MaglevTable> build_maglev(std::span<const MaglevBackend> backends,
                                 std::uint32_t table_size) {
  if (!is_supported_table_size(table_size)) {
    return Error{"maglev: table size " + std::to_string(table_size) +
                 " is not supported (use one of the primes " + size_list() + ")"};
  }
  if (backends.size() > kMaxMaglevBackends) {
    return Error{"maglev: " + std::to_string(backends.size()) + " backends, at most " +
                 std::to_string(kMaxMaglevBackends) + " allowed"};
  }

  // Turns are taken in key order, so the caller's order cannot change the table.
  std::vector<std::uint32_t> order(backends.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(),
            [&](std::uint32_t a, std::uint32_t b) { return backends[a].key < backends[b].key; });
  for (std::size_t i = 0; i < order.size(); ++i) {
    const std::string& key = backends[order[i]].key;
    if (key.empty()) {
      return Error{"maglev: backend " + std::to_string(order[i]) + " has an empty key"};
    }
    if (i > 0 && key == backends[order[i - 1]].key) {
      return Error{"maglev: duplicate backend key \"" + key + "\""};
    }
  }

  Population population(table_size);
  for (const std::uint32_t index : order) {
    const MaglevBackend& backend = backends[index];
    if (backend.weight == 0) continue;
    population.add_turn(maglev_permutation(backend.key, table_size), backend.weight,
                        static_cast<std::uint16_t>(index));
  }
  return population.fill();
}

Result<MaglevTable> populate_maglev(std::span<const MaglevPermutation> permutations,
                                    std::span<const std::uint32_t> weights,
                                    std::uint32_t table_size) {
  if (table_size > kSupportedTableSizes.back() || !is_prime(table_size)) {
    return Error{"maglev: table size " + std::to_string(table_size) + " is not a prime up to " +
                 std::to_string(kSupportedTableSizes.back())};
  }
  if (permutations.size() != weights.size()) {
    return Error{"maglev: " + std::to_string(permutations.size()) + " permutations but " +
                 std::to_string(weights.size()) + " weights"};
  }
  if (permutations.size() > kMaxMaglevBackends) {
    return Error{"maglev: " + std::to_string(permutations.size()) + " backends, at most " +
                 std::to_string(kMaxMaglevBackends) + " allowed"};
  }
  Population population(table_size);
  for (std::size_t i = 0; i < permutations.size(); ++i) {
    const MaglevPermutation& p = permutations[i];
    if (p.offset >= table_size || p.skip == 0 || p.skip >= table_size) {
      return Error{"maglev: permutation " + std::to_string(i) + " (offset " +
                   std::to_string(p.offset) + ", skip " + std::to_string(p.skip) +
                   ") is out of range for table size " + std::to_string(table_size)};
    }
    if (weights[i] == 0) continue;
    population.add_turn(p, weights[i], static_cast<std::uint16_t>(i));
  }
  return population.fill();
}

void Population::add_turn(const MaglevPermutation& permutation, std::uint32_t weight,
                          std::uint16_t id) {
  Turn& turn = turns_.emplace_back();
  turn.next = permutation.offset;
  turn.skip = permutation.skip;
  turn.double_skip = add_mod(permutation.skip, permutation.skip, table_size_);
  turn.weight = weight;
  turn.id = id;
  max_weight_ = std::max(max_weight_, weight);
}

// The paper's population loop. Backends take turns in the order they were added; a backend of
// weight w takes a slot in w / max_weight of the rounds (credit scheme), so shares follow weights
// to within about one slot. On its turn a backend walks its preference list to the first free slot.
// Equal weights reduce to the paper's plain round-robin.
MaglevTable Population::fill() {
  std::vector<std::uint16_t> slots(table_size_, kNoBackend);
  // No turn (every weight is zero): every slot stays kNoBackend.
  if (!turns_.empty()) {
    const bool weighted = std::any_of(turns_.begin(), turns_.end(),
                                      [&](const Turn& t) { return t.weight != max_weight_; });
    if (weighted) {
      fill_turns<true>(slots.data());
    } else {
      fill_turns<false>(slots.data());
    }
  }
  return MaglevTable{std::move(slots)};
}

// Walking costs about M / F probes when F slots are free, so filling the last slots dominates
// (about M ln M probes in all). Once only tail_free_slots(M) slots are left, each turn instead
// scans the free list and picks the slot its walk would reach first (fewest steps from `next`):
// the same slot, so the same table, for a fraction of the work.
template <bool kWeighted>
void Population::fill_turns(std::uint16_t* slots) {
  const std::uint32_t m = table_size_;
  const std::uint32_t max_weight = max_weight_;
  taken_.assign((m + 63) / 64, 0);
  free_.clear();
  std::uint64_t* const taken = taken_.data();
  const std::uint32_t walk_until = m - std::min(m, tail_free_slots(m));
  std::uint32_t filled = 0;
  for (;;) {
    for (Turn& turn : turns_) {
      if constexpr (kWeighted) {
        turn.credit += turn.weight;
        if (turn.credit < max_weight) continue;
        turn.credit -= max_weight;
      }
      std::uint32_t slot;
      if (filled < walk_until) {
        slot = walk_to_free(taken, m, turn.next, turn.skip, turn.double_skip);
        mark_taken(taken, slot);
      } else {
        if (free_.empty()) collect_free(taken, m, free_);
        slot = take_first_free(turn);
      }
      slots[slot] = turn.id;
      turn.next = add_mod(slot, turn.skip, m);
      if (++filled == m) return;
    }
  }
}

std::uint32_t Population::take_first_free(Turn& turn) {
  const std::uint32_t m = table_size_;
  const double inverse_m = 1.0 / m;
  if (turn.skip_inverse == 0) turn.skip_inverse = inverse_mod_prime(turn.skip, m);
  const std::uint32_t inverse = turn.skip_inverse;
  const std::uint32_t next = turn.next;
  // Steps from next to slot s along the walk: k with next + k * skip == s (mod M).
  std::uint32_t best_steps = UINT32_MAX;
  std::size_t best = 0;
  for (std::size_t i = 0; i < free_.size(); ++i) {
    const std::uint32_t s = free_[i];
    const std::uint32_t distance = s >= next ? s - next : s + m - next;
    const std::uint32_t steps = mul_mod(distance, inverse, m, inverse_m);
    if (steps < best_steps) {
      best_steps = steps;
      best = i;
    }
  }
  const std::uint32_t slot = free_[best];
  free_[best] = free_.back();
  free_.pop_back();
  return slot;
}

}  // namespace sluice::lb

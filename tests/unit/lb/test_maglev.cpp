// Weighted Maglev: known answers (the paper's own example and pinned tables), agreement with a
// plain reference implementation, the properties the dataplane relies on (every slot filled,
// shares follow weights, same table for any input order, few slots move), and the errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "maglev_reference.hpp"
#include "sluice/ip_address.hpp"
#include "sluice/lb/flow_hash.hpp"
#include "sluice/lb/maglev.hpp"

namespace sluice::lb {
namespace {

std::string backend_key(std::uint32_t i) {
  return IpAddress::from_v4(0xC6120101u + i).to_string();
}

std::vector<MaglevBackend> equal_backends(std::uint32_t n) {
  std::vector<MaglevBackend> out;
  for (std::uint32_t i = 0; i < n; ++i)
    out.push_back({backend_key(i), 1});
  return out;
}

MaglevTable build_ok(std::span<const MaglevBackend> backends, std::uint32_t m) {
  auto table = build_maglev(backends, m);
  EXPECT_TRUE(table.ok()) << (table.ok() ? "" : table.error().message);
  return table.ok() ? std::move(table).value() : MaglevTable{};
}

std::vector<std::uint64_t> slot_counts(const MaglevTable& table, std::size_t backends) {
  std::vector<std::uint64_t> counts(backends, 0);
  for (const std::uint16_t owner : table.slots()) {
    if (owner != kNoBackend) ++counts.at(owner);
  }
  return counts;
}

// Owners as keys, so tables built from differently ordered or sized lists compare directly.
std::vector<std::string> owner_keys(const MaglevTable& table,
                                    std::span<const MaglevBackend> backends) {
  std::vector<std::string> out;
  out.reserve(table.size());
  for (const std::uint16_t owner : table.slots())
    out.push_back(backends[owner].key);
  return out;
}

std::string as_digits(const MaglevTable& table) {
  std::string out;
  for (const std::uint16_t owner : table.slots())
    out += static_cast<char>('0' + owner);
  return out;
}

// ---- Known answers ----------------------------------------------------------------------------

// Table 1 of the paper: M = 7, B0 (offset 3, skip 4), B1 (0, 2), B2 (3, 1).
TEST(MaglevKnownAnswer, PaperExample) {
  const std::vector<MaglevPermutation> all = {{3, 4}, {0, 2}, {3, 1}};
  const std::vector<std::uint32_t> weights = {1, 1, 1};
  auto before = populate_maglev(all, weights, 7);
  ASSERT_TRUE(before.ok()) << before.error().message;
  EXPECT_EQ(as_digits(*before), "1010220");  // B1 B0 B1 B0 B2 B2 B0

  // B1 removed: B0 and B2 take turns alone.
  const std::vector<MaglevPermutation> without_b1 = {{3, 4}, {3, 1}};
  auto after = populate_maglev(without_b1, std::vector<std::uint32_t>{1, 1}, 7);
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_EQ(as_digits(*after), "0000111");  // B0 B0 B0 B0 B2 B2 B2
}

TEST(MaglevKnownAnswer, PinnedPermutations) {
  const MaglevPermutation a = maglev_permutation("198.18.1.1", 65537);
  EXPECT_EQ(a.offset, 10964u);
  EXPECT_EQ(a.skip, 31447u);
  const MaglevPermutation b = maglev_permutation("198.18.1.2", 65537);
  EXPECT_EQ(b.offset, 5751u);
  EXPECT_EQ(b.skip, 62293u);
  const MaglevPermutation c = maglev_permutation("198.18.1.3", 251);
  EXPECT_EQ(c.offset, 97u);
  EXPECT_EQ(c.skip, 242u);
}

TEST(MaglevKnownAnswer, PinnedSmallTable) {
  const auto backends = equal_backends(3);  // 198.18.1.1, .2, .3
  EXPECT_EQ(as_digits(build_ok(backends, 251)),
            "01121222100010022010012122112100021001001222121212202010012222110122122100001222"
            "00102121211120002200011212011212220100100122100121222110000012011012222011110002"
            "10010222110112120000001021201121212210000012210112122212120001201001222201111210"
            "20000012221");
}

TEST(MaglevKnownAnswer, PinnedWeightedTable) {
  const std::vector<MaglevBackend> backends = {
      {"198.18.1.1", 1}, {"198.18.1.2", 2}, {"198.18.1.3", 3}};
  EXPECT_EQ(as_digits(build_ok(backends, 251)),
            "21221222100012222012222122112100221101121222121212202010212222112122222100021222"
            "12122221211120022201212212011212222100122122112121222120001212011212222112110122"
            "10212222112112120200001222201221212210010222211112122212120001201121222221212210"
            "20001212221");
}

TEST(MaglevKnownAnswer, PinnedPaperSizedTable) {
  std::vector<MaglevBackend> shifted;  // 198.18.0.1 .. : the keys sluice-maglev-eval uses
  for (std::uint32_t i = 0; i < 1000; ++i) {
    shifted.push_back({IpAddress::from_v4(0xC6120001u + i).to_string(), 1});
  }
  const MaglevTable table = build_ok(shifted, 65537);
  const std::vector<std::uint16_t> first = {605, 227, 117, 221, 369, 357, 632, 609,
                                            528, 472, 75,  988, 770, 522, 815, 868};
  EXPECT_TRUE(std::equal(first.begin(), first.end(), table.slots().begin()));
  std::vector<std::byte> bytes;  // whole table, little-endian, through CRC32C
  for (const std::uint16_t owner : table.slots()) {
    bytes.push_back(static_cast<std::byte>(owner & 0xFF));
    bytes.push_back(static_cast<std::byte>(owner >> 8));
  }
  EXPECT_EQ(crc32c(bytes, 0), 0xC3F528F5u);
}

// ---- Agreement with the plain reference -------------------------------------------------------

TEST(MaglevReference, OptimisedPopulationMatchesPlainAlgorithm) {
  std::mt19937 rng(2024);
  struct Case {
    std::uint32_t backends;
    std::uint32_t table_size;
    std::uint32_t max_weight;  // 1: equal weights
  };
  const std::vector<Case> cases = {{1, 251, 1},      {2, 251, 1},     {3, 7, 1},
                                   {3, 251, 5},      {10, 1021, 1},   {10, 1021, 7},
                                   {100, 4093, 1},   {100, 16381, 3}, {1000, 65537, 1},
                                   {300, 65537, 10}, {50, 655373, 1}, {7, 13, 4}};
  for (const Case& c : cases) {
    std::vector<MaglevPermutation> perms;
    std::vector<std::uint32_t> weights;
    for (std::uint32_t i = 0; i < c.backends; ++i) {
      perms.push_back({static_cast<std::uint32_t>(rng() % c.table_size),
                       static_cast<std::uint32_t>(rng() % (c.table_size - 1) + 1)});
      weights.push_back(c.max_weight == 1 ? 1
                                          : static_cast<std::uint32_t>(rng() % (c.max_weight + 1)));
    }
    if (c.max_weight > 1) weights[0] = c.max_weight;  // at least one backend takes slots
    auto table = populate_maglev(perms, weights, c.table_size);
    ASSERT_TRUE(table.ok()) << table.error().message;
    const auto expected = testing::reference_populate(perms, weights, c.table_size);
    ASSERT_TRUE(
        std::equal(expected.begin(), expected.end(), table->slots().begin(), table->slots().end()))
        << c.backends << " backends, M = " << c.table_size << ", weights up to " << c.max_weight;
  }
}

// ---- Properties -------------------------------------------------------------------------------

TEST(MaglevProperties, NoEmptySlotAndEqualSharesDifferByAtMostOne) {
  for (const std::uint32_t m : {251u, 4093u, 65537u, 655373u}) {
    for (const std::uint32_t n : {1u, 2u, 3u, 17u, 100u, 1000u}) {
      if (n > m) continue;
      const MaglevTable table = build_ok(equal_backends(n), m);
      ASSERT_EQ(table.size(), m);
      const auto counts = slot_counts(table, n);
      EXPECT_EQ(std::accumulate(counts.begin(), counts.end(), std::uint64_t{0}), m)
          << "an empty slot at N = " << n << ", M = " << m;
      const auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
      EXPECT_LE(*hi - *lo, 1u) << "N = " << n << ", M = " << m;
    }
  }
}

TEST(MaglevProperties, PaperSizedTableIsWithinOnePercent) {
  const MaglevTable table = build_ok(equal_backends(1000), 65537);
  const auto counts = slot_counts(table, 1000);
  const double average = 65537.0 / 1000;
  EXPECT_LE(*std::max_element(counts.begin(), counts.end()) / average, 1.01);
}

TEST(MaglevProperties, SharesFollowWeights) {
  const std::vector<MaglevBackend> backends = {
      {"198.18.1.1", 1}, {"198.18.1.2", 2}, {"198.18.1.3", 3}};
  const MaglevTable table = build_ok(backends, 65537);
  const auto counts = slot_counts(table, 3);
  for (std::size_t i = 0; i < 3; ++i) {
    const double share = counts[i] / 65537.0;
    const double wanted = backends[i].weight / 6.0;
    EXPECT_NEAR(share / wanted, 1.0, 0.01) << backends[i].key;
    EXPECT_NEAR(static_cast<double>(counts[i]), 65537.0 * wanted, 2.0) << backends[i].key;
  }
}

TEST(MaglevProperties, ManyRandomWeightsWithinTwoSlots) {
  std::mt19937 rng(5);
  std::vector<MaglevBackend> backends;
  std::uint64_t total = 0;
  for (std::uint32_t i = 0; i < 100; ++i) {
    backends.push_back({backend_key(i), static_cast<std::uint32_t>(1 + rng() % 100)});
    total += backends.back().weight;
  }
  const MaglevTable table = build_ok(backends, 655373);
  const auto counts = slot_counts(table, backends.size());
  for (std::size_t i = 0; i < backends.size(); ++i) {
    const double wanted = 655373.0 * backends[i].weight / static_cast<double>(total);
    EXPECT_NEAR(static_cast<double>(counts[i]), wanted, 2.0) << backends[i].key;
  }
}

TEST(MaglevProperties, WeightZeroTakesNothing) {
  auto backends = equal_backends(10);
  backends[3].weight = 0;
  backends[7].weight = 0;
  const MaglevTable table = build_ok(backends, 4093);
  const auto counts = slot_counts(table, 10);
  EXPECT_EQ(counts[3], 0u);
  EXPECT_EQ(counts[7], 0u);
  EXPECT_EQ(std::accumulate(counts.begin(), counts.end(), std::uint64_t{0}), 4093u);
}

TEST(MaglevProperties, AllZeroOrNoBackendsMeansNoBackendEverywhere) {
  auto backends = equal_backends(4);
  for (auto& b : backends)
    b.weight = 0;
  for (const MaglevTable& table : {build_ok(backends, 251), build_ok({}, 65537)}) {
    EXPECT_TRUE(std::all_of(table.slots().begin(), table.slots().end(),
                            [](std::uint16_t s) { return s == kNoBackend; }));
  }
}

TEST(MaglevProperties, SameTableForEveryInputOrder) {
  auto backends = equal_backends(200);
  for (std::size_t i = 0; i < backends.size(); ++i)
    backends[i].weight = 1 + i % 4;
  const MaglevTable reference = build_ok(backends, 65537);
  const auto reference_keys = owner_keys(reference, backends);
  std::mt19937 rng(99);
  for (int round = 0; round < 5; ++round) {
    auto shuffled = backends;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    const MaglevTable table = build_ok(shuffled, 65537);
    EXPECT_EQ(owner_keys(table, shuffled), reference_keys) << "shuffle " << round;
  }
  // Reversed input: byte-identical once indices are mapped back to the original order.
  std::vector<MaglevBackend> reversed(backends.rbegin(), backends.rend());
  const MaglevTable table = build_ok(reversed, 65537);
  for (std::size_t s = 0; s < table.size(); ++s) {
    ASSERT_EQ(backends.size() - 1 - table.slots()[s], reference.slots()[s]) << "slot " << s;
  }
}

// Owners as ids that survive list edits: ids[i] names backends[i].
std::vector<std::uint32_t> owner_ids(const MaglevTable& table,
                                     const std::vector<std::uint32_t>& ids) {
  std::vector<std::uint32_t> out;
  out.reserve(table.size());
  for (const std::uint16_t owner : table.slots())
    out.push_back(ids[owner]);
  return out;
}

double moved_fraction(const std::vector<std::uint32_t>& before,
                      const std::vector<std::uint32_t>& after) {
  std::size_t moved = 0;
  for (std::size_t i = 0; i < before.size(); ++i)
    moved += before[i] != after[i];
  return static_cast<double>(moved) / static_cast<double>(before.size());
}

// Removing one of N backends must move its own ~1/N of the slots and only a little more;
// Maglev trades that small excess for perfect balance (the paper's figure 13: the excess shrinks
// as M grows). A plain modulo hash would move almost every slot.
TEST(MaglevProperties, FewSlotsMoveWhenOneBackendLeavesOrJoins) {
  constexpr std::uint32_t kBackends = 100;
  struct Bound {
    std::uint32_t table_size;
    double times_ideal;  // measured: 1.65 and 1.18 (worst of 10 removals and 10 additions)
  };
  for (const Bound bound : {Bound{65537, 2.0}, Bound{655373, 1.5}}) {
    const std::uint32_t m = bound.table_size;
    const auto backends = equal_backends(kBackends);
    std::vector<std::uint32_t> ids(kBackends);
    std::iota(ids.begin(), ids.end(), 0u);
    const auto before = owner_ids(build_ok(backends, m), ids);
    double worst_remove = 0;
    double worst_add = 0;
    for (std::uint32_t victim = 0; victim < kBackends; victim += 10) {
      auto fewer = backends;
      auto fewer_ids = ids;
      fewer.erase(fewer.begin() + victim);
      fewer_ids.erase(fewer_ids.begin() + victim);
      const double moved = moved_fraction(before, owner_ids(build_ok(fewer, m), fewer_ids));
      // At least the victim's own slots move.
      const double own = static_cast<double>(std::count(before.begin(), before.end(), victim)) / m;
      EXPECT_GE(moved, own);
      worst_remove = std::max(worst_remove, moved);

      auto more = backends;
      auto more_ids = ids;
      more.push_back({backend_key(kBackends + victim), 1});
      more_ids.push_back(kBackends + victim);
      worst_add =
          std::max(worst_add, moved_fraction(before, owner_ids(build_ok(more, m), more_ids)));
    }
    RecordProperty("worst_moved_on_remove_M" + std::to_string(m), std::to_string(worst_remove));
    RecordProperty("worst_moved_on_add_M" + std::to_string(m), std::to_string(worst_add));
    EXPECT_LE(worst_remove, bound.times_ideal / kBackends) << "M = " << m;
    EXPECT_LE(worst_add, bound.times_ideal / kBackends) << "M = " << m;
  }
}

// ---- Errors -----------------------------------------------------------------------------------

TEST(MaglevErrors, UnsupportedTableSize) {
  for (const std::uint32_t m : {0u, 1u, 7u, 65536u, 65539u, 655371u}) {
    auto table = build_maglev(equal_backends(3), m);
    ASSERT_FALSE(table.ok()) << m;
    EXPECT_NE(table.error().message.find("not supported"), std::string::npos)
        << table.error().message;
  }
}

TEST(MaglevErrors, DuplicateKey) {
  auto backends = equal_backends(5);
  backends[4].key = backends[1].key;
  backends[4].weight = 0;  // even a drained duplicate is a configuration error
  auto table = build_maglev(backends);
  ASSERT_FALSE(table.ok());
  EXPECT_NE(table.error().message.find("duplicate backend key \"198.18.1.2\""), std::string::npos)
      << table.error().message;
}

TEST(MaglevErrors, EmptyKey) {
  auto backends = equal_backends(2);
  backends[1].key.clear();
  auto table = build_maglev(backends);
  ASSERT_FALSE(table.ok());
  EXPECT_NE(table.error().message.find("empty key"), std::string::npos) << table.error().message;
}

TEST(MaglevErrors, TooManyBackends) {
  std::vector<MaglevBackend> backends(kMaxMaglevBackends + 1);
  for (std::size_t i = 0; i < backends.size(); ++i)
    backends[i].key = std::to_string(i);
  auto table = build_maglev(backends, 1048573);
  ASSERT_FALSE(table.ok());
  EXPECT_NE(table.error().message.find("at most 65534"), std::string::npos)
      << table.error().message;
}

TEST(MaglevErrors, MostBackendsAllowedStillFillsTheTable) {
  std::vector<MaglevBackend> backends(kMaxMaglevBackends);
  for (std::size_t i = 0; i < backends.size(); ++i)
    backends[i].key = std::to_string(i);
  const MaglevTable table = build_ok(backends, 1048573);
  const auto counts = slot_counts(table, backends.size());
  EXPECT_EQ(std::accumulate(counts.begin(), counts.end(), std::uint64_t{0}), 1048573u);
  EXPECT_EQ(*std::min_element(counts.begin(), counts.end()), 16u);  // 1048573 / 65534 = 16.0
}

TEST(MaglevErrors, PopulateRejectsBadInput) {
  const std::vector<MaglevPermutation> perms = {{0, 1}, {1, 2}};
  EXPECT_FALSE(populate_maglev(perms, std::vector<std::uint32_t>{1, 1}, 8).ok());  // not prime
  EXPECT_FALSE(populate_maglev(perms, std::vector<std::uint32_t>{1}, 7).ok());     // sizes differ
  const std::vector<MaglevPermutation> bad_skip = {{0, 7}};
  EXPECT_FALSE(populate_maglev(bad_skip, std::vector<std::uint32_t>{1}, 7).ok());
  const std::vector<MaglevPermutation> bad_offset = {{7, 1}};
  EXPECT_FALSE(populate_maglev(bad_offset, std::vector<std::uint32_t>{1}, 7).ok());
  EXPECT_FALSE(populate_maglev(perms, std::vector<std::uint32_t>{1, 1}, 1048583).ok());  // too big
}

TEST(MaglevSizes, SupportedSizesArePrimeAndIncludeThePapers) {
  const auto sizes = supported_table_sizes();
  EXPECT_TRUE(is_supported_table_size(65537));
  EXPECT_TRUE(is_supported_table_size(655373));
  EXPECT_EQ(kDefaultMaglevTableSize, 65537u);
  for (const std::uint32_t m : sizes) {
    for (std::uint32_t d = 2; d * d <= m; ++d)
      ASSERT_NE(m % d, 0u) << m << " divisible by " << d;
  }
  EXPECT_TRUE(std::is_sorted(sizes.begin(), sizes.end()));
}

}  // namespace
}  // namespace sluice::lb

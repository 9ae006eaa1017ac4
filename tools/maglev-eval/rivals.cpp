#include "rivals.hpp"

#include <algorithm>
#include <utility>

namespace sluice::maglev_eval {
namespace {

// The splitmix64 output function: a cheap full-avalanche 64-bit mix.
std::uint64_t mix64(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::uint64_t key_hash(const std::string& key) {
  std::uint64_t h = 0xCBF29CE484222325ull;  // FNV-1a 64
  for (const char c : key) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001B3ull;
  }
  return mix64(h);
}

}  // namespace

std::uint64_t entry_position(std::uint32_t entry) {
  return mix64(0xE27A1u ^ (std::uint64_t{entry} << 20));
}

KargerRing build_karger(const std::vector<std::string>& keys, std::uint32_t points_per_backend,
                        std::uint32_t table_size) {
  std::vector<std::pair<std::uint64_t, std::uint32_t>> ring;
  ring.reserve(keys.size() * points_per_backend);
  for (std::uint32_t b = 0; b < keys.size(); ++b) {
    const std::uint64_t base = key_hash(keys[b]);
    for (std::uint32_t r = 0; r < points_per_backend; ++r) {
      ring.emplace_back(mix64(base ^ mix64(r)), b);
    }
  }
  std::sort(ring.begin(), ring.end());

  KargerRing out;
  out.owners.resize(table_size);
  for (std::uint32_t i = 0; i < table_size; ++i) {
    const std::uint64_t pos = entry_position(i);
    auto it = std::lower_bound(ring.begin(), ring.end(), pos,
                               [](const auto& point, std::uint64_t p) { return point.first < p; });
    if (it == ring.end()) it = ring.begin();
    out.owners[i] = it->second;
  }

  // Each virtual node owns the arc from its predecessor (exclusive) up to itself.
  out.ring_share.assign(keys.size(), 0.0);
  constexpr double kRing = 18446744073709551616.0;  // 2^64
  for (std::size_t p = 0; p < ring.size(); ++p) {
    const std::uint64_t prev = ring[(p + ring.size() - 1) % ring.size()].first;
    const std::uint64_t arc = ring[p].first - prev;  // wraps correctly for the first point
    out.ring_share[ring[p].second] += static_cast<double>(arc) / kRing;
  }
  return out;
}

Owners build_rendezvous(const std::vector<std::string>& keys, std::uint32_t table_size) {
  std::vector<std::uint64_t> backend_hash(keys.size());
  for (std::size_t b = 0; b < keys.size(); ++b)
    backend_hash[b] = key_hash(keys[b]);

  Owners owners(table_size);
  for (std::uint32_t i = 0; i < table_size; ++i) {
    const std::uint64_t pos = entry_position(i);
    std::uint64_t best_score = 0;
    std::uint32_t best = 0;
    for (std::uint32_t b = 0; b < backend_hash.size(); ++b) {
      const std::uint64_t score = mix64(pos ^ backend_hash[b]);
      if (score > best_score) {
        best_score = score;
        best = b;
      }
    }
    owners[i] = best;
  }
  return owners;
}

}  // namespace sluice::maglev_eval

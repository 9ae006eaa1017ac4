// The two consistent-hashing schemes the Maglev paper (section 5.3) compares against, reduced to
// what the evaluation needs: fill a lookup table of M entries so that all three schemes are
// measured on the same entries, backends and clock.
//
// How the rivals are set up (the paper does not spell out its setup, so this is ours):
//  - Table entry i stands for the flows whose hash lands on it; its position in each rival's hash
//    space is entry_position(i), a 64-bit mix of i. Both rivals therefore see exactly the M
//    lookups that Maglev's table answers.
//  - Karger ring: each backend places `points_per_backend` virtual nodes on a 64-bit ring at
//    hashes of (key, replica); an entry belongs to the first virtual node at or after its
//    position, wrapping around. Besides the share of table entries we report the share of the
//    ring itself (arc lengths), which is what the ring gives an infinite stream of flows.
//  - Rendezvous (highest random weight): an entry belongs to the backend whose
//    mix(entry, backend key) is largest; every entry scores all N backends (O(M x N) build).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::maglev_eval {

// Owner per table entry, as an index into `keys` (the same convention as Maglev slots).
using Owners = std::vector<std::uint32_t>;

[[nodiscard]] std::uint64_t entry_position(std::uint32_t entry);

struct KargerRing {
  Owners owners;
  std::vector<double> ring_share;  // fraction of the 64-bit ring owned by each backend
};

[[nodiscard]] KargerRing build_karger(const std::vector<std::string>& keys,
                                      std::uint32_t points_per_backend, std::uint32_t table_size);

[[nodiscard]] Owners build_rendezvous(const std::vector<std::string>& keys,
                                      std::uint32_t table_size);

}  // namespace sluice::maglev_eval

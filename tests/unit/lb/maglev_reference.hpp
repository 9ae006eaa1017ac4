// A deliberately plain Maglev population, written straight from the paper's pseudocode (one
// modulo per probe, no bitmap, no tail scan), used as the oracle for the optimised population.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "sluice/lb/maglev.hpp"

namespace sluice::lb::testing {

// Same turn order, weights and credit rule as populate_maglev().
std::vector<std::uint16_t> reference_populate(std::span<const MaglevPermutation> permutations,
                                              std::span<const std::uint32_t> weights,
                                              std::uint32_t table_size);

}  // namespace sluice::lb::testing

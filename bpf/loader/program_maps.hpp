// Reaching the maps of a program that is already loaded (by the af_xdp PMD, or by an earlier
// `sluice-decap attach`), and summing per-CPU counter tables.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "loader/map_layout.hpp"
#include "sluice/unique_fd.hpp"
#include "sluice/result.hpp"

namespace sluice::bpf {

// The map called `map_name` (kernel name, at most 15 characters) used by `program_fd`.
[[nodiscard]] Result<UniqueFd> find_program_map(int program_fd, std::string_view map_name);

// Sums entry i over all possible CPUs for i in [0, N) of a per-CPU array of sluice_counter.
template <std::size_t N>
[[nodiscard]] Result<std::array<CounterTotals, N>> read_counter_table(int map_fd);

// Non-template core of read_counter_table.
[[nodiscard]] Status read_counters_into(int map_fd, CounterTotals* totals, std::size_t count);

template <std::size_t N>
Result<std::array<CounterTotals, N>> read_counter_table(int map_fd) {
  std::array<CounterTotals, N> totals{};
  if (auto status = read_counters_into(map_fd, totals.data(), N); !status.ok())
    return status.error();
  return totals;
}

}  // namespace sluice::bpf

#include "loader/program_maps.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <string>
#include <vector>

#include "loader/libbpf_error.hpp"

namespace sluice::bpf {

Result<UniqueFd> find_program_map(int program_fd, std::string_view map_name) {
  bpf_prog_info info{};
  std::uint32_t info_length = sizeof(info);
  if (int err = bpf_obj_get_info_by_fd(program_fd, &info, &info_length); err < 0)
    return libbpf_error("reading program info", err);

  std::vector<std::uint32_t> map_ids(info.nr_map_ids);
  info = bpf_prog_info{};
  info.nr_map_ids = static_cast<std::uint32_t>(map_ids.size());
  info.map_ids = reinterpret_cast<std::uintptr_t>(map_ids.data());
  info_length = sizeof(info);
  if (int err = bpf_obj_get_info_by_fd(program_fd, &info, &info_length); err < 0)
    return libbpf_error("reading program map ids", err);

  for (std::uint32_t id : map_ids) {
    UniqueFd map(bpf_map_get_fd_by_id(id));
    if (!map.valid()) continue;  // the map went away meanwhile
    bpf_map_info map_info{};
    std::uint32_t map_info_length = sizeof(map_info);
    if (bpf_obj_get_info_by_fd(map.get(), &map_info, &map_info_length) < 0) continue;
    if (map_name == map_info.name) return map;
  }
  return Error{"the program has no map named " + std::string(map_name)};
}

Status read_counters_into(int map_fd, CounterTotals* totals, std::size_t count) {
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return libbpf_error("counting possible CPUs", cpus);
  std::vector<sluice_counter> per_cpu(static_cast<std::size_t>(cpus));
  for (std::uint32_t index = 0; index < count; ++index) {
    if (int err = bpf_map_lookup_elem(map_fd, &index, per_cpu.data()); err < 0)
      return libbpf_error("reading counter " + std::to_string(index), err);
    CounterTotals sum;
    for (const sluice_counter& slot : per_cpu) {
      sum.packets += slot.packets;
      sum.bytes += slot.bytes;
    }
    totals[index] = sum;
  }
  return ok_status();
}

}  // namespace sluice::bpf

#include "loader/decap_program.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "decap.skel.h"
#include "loader/libbpf_error.hpp"
#include "loader/program_maps.hpp"

namespace sluice::bpf {

void DecapProgram::SkeletonDeleter::operator()(decap_bpf* skeleton) const {
  decap_bpf__destroy(skeleton);
}

DecapProgram::DecapProgram(DecapProgram&&) noexcept = default;
DecapProgram& DecapProgram::operator=(DecapProgram&&) noexcept = default;
DecapProgram::~DecapProgram() = default;

Result<DecapProgram> DecapProgram::load(const DecapOptions& options) {
  if (options.tunnel_addresses.size() > SLUICE_MAX_TUNNEL_ADDRS)
    return Error{"too many tunnel addresses: at most " + std::to_string(SLUICE_MAX_TUNNEL_ADDRS)};
  if (options.tunnel_sources.size() > SLUICE_MAX_TUNNEL_SOURCES)
    return Error{"too many tunnel sources: at most " + std::to_string(SLUICE_MAX_TUNNEL_SOURCES)};

  DecapProgram program;
  program.skeleton_.reset(decap_bpf__open_and_load());
  if (!program.skeleton_) return libbpf_error("loading the decap program", errno);
  const auto& maps = program.skeleton_->maps;

  DecapConfig config{};
  config.gue_port = htons(options.gue_port);
  config.match_any_address = options.tunnel_addresses.empty() ? 1 : 0;
  const std::uint32_t zero = 0;
  if (int err = bpf_map_update_elem(bpf_map__fd(maps.decap_config), &zero, &config, BPF_ANY);
      err < 0)
    return libbpf_error("writing the decap configuration", err);

  const std::uint32_t present = 1;
  for (const IpAddress& address : options.tunnel_addresses) {
    const AddressKey key = make_address_key(address);
    if (int err = bpf_map_update_elem(bpf_map__fd(maps.decap_addrs), &key, &present, BPF_ANY);
        err < 0)
      return libbpf_error("adding tunnel address " + address.to_string(), err);
  }
  for (const IpAddress& address : options.tunnel_sources) {
    const AddressKey key = make_address_key(address);
    if (int err = bpf_map_update_elem(bpf_map__fd(maps.decap_sources), &key, &present, BPF_ANY);
        err < 0)
      return libbpf_error("adding tunnel source " + address.to_string(), err);
  }
  return program;
}

Result<XdpAttachment> DecapProgram::attach(int ifindex, AttachMode mode,
                                           const AttachedProgram* replace) const {
  return attach_xdp(ifindex, program_fd(), mode, replace);
}

Result<DecapCounters> DecapProgram::counters() const {
  return read_counter_table<SLUICE_DECAP_OUTCOME_COUNT>(bpf_map__fd(skeleton_->maps.decap_stats));
}

Result<SecondHopCounters> DecapProgram::second_hop_counters() const {
  return read_counter_table<SLUICE_SECOND_HOP_OUTCOME_COUNT>(
      bpf_map__fd(skeleton_->maps.decap_hop_stats));
}

int DecapProgram::program_fd() const {
  return bpf_program__fd(skeleton_->progs.sluice_decap);
}

namespace {

// The map called `map_name` of the sluice_decap program attached to `ifindex`.
Result<UniqueFd> attached_map(int ifindex, std::string_view map_name) {
  auto program = query_attached_program(ifindex);
  if (!program.ok()) return program.error();
  if (!program->has_value() || (*program)->name != SLUICE_DECAP_PROG_NAME)
    return Error{"no " SLUICE_DECAP_PROG_NAME " XDP program on ifindex " + std::to_string(ifindex)};
  return find_program_map((*program)->fd.get(), map_name);
}

}  // namespace

Result<DecapCounters> DecapProgram::attached_counters(int ifindex) {
  auto map = attached_map(ifindex, SLUICE_DECAP_STATS_MAP_NAME);
  if (!map.ok()) return map.error();
  return read_counter_table<SLUICE_DECAP_OUTCOME_COUNT>(map->get());
}

Result<SecondHopCounters> DecapProgram::attached_second_hop_counters(int ifindex) {
  auto map = attached_map(ifindex, SLUICE_DECAP_HOP_STATS_MAP_NAME);
  if (!map.ok()) return map.error();
  return read_counter_table<SLUICE_SECOND_HOP_OUTCOME_COUNT>(map->get());
}

}  // namespace sluice::bpf

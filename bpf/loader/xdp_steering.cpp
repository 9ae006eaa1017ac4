#include "loader/xdp_steering.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <map>
#include <set>

#include "loader/libbpf_error.hpp"
#include "loader/program_maps.hpp"
#include "loader/xdp_attachment.hpp"
#include "xsk_steer.skel.h"

namespace sluice::bpf {
namespace {

Result<UniqueFd> open_pin(const std::string& pin_root, const char* name) {
  const std::string path = pin_root + "/" + name;
  UniqueFd fd(bpf_obj_get(path.c_str()));
  if (!fd.valid()) return libbpf_error("opening pinned map " + path, errno);
  return fd;
}

Result<UniqueFd> dup_fd(int fd) {
  UniqueFd copy(dup(fd));
  if (!copy.valid()) return libbpf_error("duplicating a map descriptor", errno);
  return copy;
}

bool valid_key(const VipKey& key) {
  if (key.family == SLUICE_FAMILY_V6) return true;
  if (key.family != SLUICE_FAMILY_V4) return false;
  for (std::size_t i = 4; i < sizeof(key.address); ++i)
    if (key.address[i] != 0) return false;
  return true;
}

// Every key currently in a hash map.
template <typename Key>
Result<std::vector<Key>> map_keys(int map_fd) {
  std::vector<Key> keys;
  Key key{};
  const Key* previous = nullptr;
  while (bpf_map_get_next_key(map_fd, previous, &key) == 0) {
    keys.push_back(key);
    previous = &keys.back();
  }
  if (errno != ENOENT) return libbpf_error("listing map keys", errno);
  return keys;
}

// Deletes the keys of `map_fd` that `wanted` does not hold.
template <typename Key, typename Wanted>
Status delete_unwanted(int map_fd, const Wanted& wanted) {
  auto keys = map_keys<Key>(map_fd);
  if (!keys.ok()) return keys.error();
  for (const Key& key : *keys) {
    if (wanted.count(key)) continue;
    if (int err = bpf_map_delete_elem(map_fd, &key); err < 0 && errno != ENOENT)
      return libbpf_error("deleting a stale key", err);
  }
  return ok_status();
}

}  // namespace

void XdpSteering::SkeletonDeleter::operator()(xsk_steer_bpf* skeleton) const {
  xsk_steer_bpf__destroy(skeleton);
}

XdpSteering::XdpSteering(XdpSteering&&) noexcept = default;
XdpSteering& XdpSteering::operator=(XdpSteering&&) noexcept = default;
XdpSteering::~XdpSteering() = default;

Result<XdpSteering> XdpSteering::open_pinned(const std::string& pin_root) {
  XdpSteering steering;
  auto vips = open_pin(pin_root, SLUICE_VIP_MAP_NAME);
  if (!vips.ok()) return vips.error();
  auto addresses = open_pin(pin_root, SLUICE_VIP_ADDR_MAP_NAME);
  if (!addresses.ok()) return addresses.error();
  auto counters = open_pin(pin_root, SLUICE_STEER_STATS_MAP_NAME);
  if (!counters.ok()) return counters.error();
  steering.vip_map_ = std::move(*vips);
  steering.address_map_ = std::move(*addresses);
  steering.counter_map_ = std::move(*counters);
  return steering;
}

Result<XdpSteering> XdpSteering::attached(int ifindex) {
  auto program = query_attached_program(ifindex);
  if (!program.ok()) return program.error();
  if (!program->has_value() || (*program)->name != SLUICE_STEER_PROG_NAME)
    return Error{"no " SLUICE_STEER_PROG_NAME " XDP program on ifindex " + std::to_string(ifindex)};
  const int program_fd = (*program)->fd.get();
  XdpSteering steering;
  auto vips = find_program_map(program_fd, SLUICE_VIP_MAP_NAME);
  if (!vips.ok()) return vips.error();
  auto addresses = find_program_map(program_fd, SLUICE_VIP_ADDR_MAP_NAME);
  if (!addresses.ok()) return addresses.error();
  auto counters = find_program_map(program_fd, SLUICE_STEER_STATS_MAP_NAME);
  if (!counters.ok()) return counters.error();
  steering.vip_map_ = std::move(*vips);
  steering.address_map_ = std::move(*addresses);
  steering.counter_map_ = std::move(*counters);
  return steering;
}

Result<XdpSteering> XdpSteering::load(const std::string& pin_root) {
  XdpSteering steering;
  LIBBPF_OPTS(bpf_object_open_opts, options,
              .pin_root_path = pin_root.empty() ? nullptr : pin_root.c_str());
  steering.skeleton_.reset(xsk_steer_bpf__open_opts(&options));
  if (!steering.skeleton_) return libbpf_error("opening the xsk_steer skeleton", errno);
  auto& maps = steering.skeleton_->maps;
  if (pin_root.empty()) {
    for (bpf_map* map : {maps.sluice_vips, maps.sluice_vip_addr, maps.sluice_steer_ct})
      if (int err = bpf_map__set_pin_path(map, nullptr); err < 0)
        return libbpf_error("disabling map pinning", err);
  }
  if (int err = xsk_steer_bpf__load(steering.skeleton_.get()); err < 0)
    return libbpf_error("loading xsk_steer (pin root '" + pin_root + "')", err);

  auto vips = dup_fd(bpf_map__fd(maps.sluice_vips));
  if (!vips.ok()) return vips.error();
  auto addresses = dup_fd(bpf_map__fd(maps.sluice_vip_addr));
  if (!addresses.ok()) return addresses.error();
  auto counters = dup_fd(bpf_map__fd(maps.sluice_steer_ct));
  if (!counters.ok()) return counters.error();
  steering.vip_map_ = std::move(*vips);
  steering.address_map_ = std::move(*addresses);
  steering.counter_map_ = std::move(*counters);
  return steering;
}

Status XdpSteering::set_vips(std::span<const VipKey> vips) {
  std::map<VipKey, VipValue, KeyBytesLess> wanted;
  std::map<AddressKey, std::uint32_t, KeyBytesLess> wanted_addresses;
  for (std::size_t i = 0; i < vips.size(); ++i) {
    if (!valid_key(vips[i]))
      return Error{"VIP key " + std::to_string(i) + " has a bad family or a non-zero IPv4 tail"};
    if (!wanted.emplace(vips[i], VipValue{static_cast<std::uint32_t>(i)}).second) continue;
    ++wanted_addresses[make_address_key(address_of(vips[i]))];
  }
  if (wanted.size() > SLUICE_MAX_VIPS)
    return Error{"too many VIP keys: " + std::to_string(wanted.size()) + " > " +
                 std::to_string(SLUICE_MAX_VIPS)};

  // Add first, then remove: a key that stays is never missing in between.
  for (const auto& [address, count] : wanted_addresses)
    if (int err = bpf_map_update_elem(address_map_.get(), &address, &count, BPF_ANY); err < 0)
      return libbpf_error("adding a VIP address", err);
  for (const auto& [key, value] : wanted)
    if (int err = bpf_map_update_elem(vip_map_.get(), &key, &value, BPF_ANY); err < 0)
      return libbpf_error("adding a VIP", err);
  if (auto status = delete_unwanted<VipKey>(vip_map_.get(), wanted); !status.ok()) return status;
  return delete_unwanted<AddressKey>(address_map_.get(), wanted_addresses);
}

Result<std::vector<VipKey>> XdpSteering::vips() const {
  return map_keys<VipKey>(vip_map_.get());
}

Result<SteerCounters> XdpSteering::counters() const {
  return read_counter_table<SLUICE_STEER_VERDICT_COUNT>(counter_map_.get());
}

int XdpSteering::program_fd() const {
  return skeleton_ ? bpf_program__fd(skeleton_->progs.sluice_steer) : -1;
}

int XdpSteering::xsk_map_fd() const {
  return skeleton_ ? bpf_map__fd(skeleton_->maps.xsks_map) : -1;
}

}  // namespace sluice::bpf

#include "pipeline/snapshot.hpp"

#include <algorithm>
#include <map>
#include <string>

#include "sluice/config/names.hpp"
#include "sluice/lb/maglev.hpp"

namespace sluice::pipeline {
namespace {

Status check_tunnel_sources(const config::State& state) {
  for (std::size_t v = 0; v < state.vips.size(); ++v) {
    for (std::size_t b = 0; b < state.vips[v].backends.size(); ++b) {
      const IpAddress& a = state.vips[v].backends[b].address;
      const bool missing = a.is_v4() ? !state.dataplane.tunnel_source_v4.has_value()
                                     : !state.dataplane.tunnel_source_v6.has_value();
      if (missing) {
        return Error{"vips[" + std::to_string(v) + "].backends[" + std::to_string(b) +
                     "].address: an IPv" + (a.is_v4() ? "4" : "6") +
                     " backend needs dataplane.tunnel_source_v" + (a.is_v4() ? "4" : "6")};
      }
    }
  }
  return ok_status();
}

// The previous snapshot's Maglev table for `e` if its input is the same: the slots hold
// stable ids, so equal ids with equal incarnations and weights (and the same table size) mean
// equal tables. An id recycled for another backend has another incarnation.
const std::vector<BackendId>* reusable_maglev(const Snapshot& previous, const VipEntry& e,
                                              const std::vector<BackendSlot>& slots,
                                              std::uint32_t table_size) {
  if (e.id >= previous.vips_by_id.size()) return nullptr;
  const std::uint32_t index = previous.vips_by_id[e.id];
  if (index >= previous.vips.size()) return nullptr;
  const VipEntry& old = previous.vips[index];
  if (old.key != e.key || old.maglev.size() != table_size || old.backends != e.backends) {
    return nullptr;
  }
  for (const BackendId id : e.backends) {
    const BackendSlot* was = previous.backend(id);
    if (was == nullptr || !was->present || was->incarnation != slots[id].incarnation ||
        was->weight != slots[id].weight || was->address != slots[id].address) {
      return nullptr;
    }
  }
  return &old.maglev;
}

// Fills e.second_hop from the VIP's previous table input (reusing the previous snapshot's when
// both tables are the same as then). A previous table that cannot be built leaves none: the
// VIP still works, without second chance.
void build_second_hop(VipEntry& e, const config::Vip& cv, const std::vector<BackendSlot>& slots,
                      const VipEntry* reused_from) {
  e.second_chance = config::second_chance_enabled(cv);
  if (!e.second_chance || !cv.previous || e.maglev.empty()) return;
  e.previous_input = cv.previous->backends;
  if (reused_from != nullptr && reused_from->second_chance &&
      reused_from->previous_input == e.previous_input) {
    e.second_hop = reused_from->second_hop;
    e.second_hop_slots = reused_from->second_hop_slots;
    return;
  }
  std::vector<lb::MaglevBackend> input;
  for (const config::PreviousBackend& p : e.previous_input) {
    input.push_back(lb::MaglevBackend{p.address.to_string(), p.weight});
  }
  const auto table = lb::build_maglev(input, static_cast<std::uint32_t>(e.maglev.size()));
  if (!table) return;
  std::map<IpAddress, BackendId> current;
  for (const BackendId id : e.backends)
    current.emplace(slots[id].address, id);
  std::vector<BackendId> hops(e.maglev.size(), kNoBackendId);
  std::uint32_t moved = 0;
  for (std::size_t s = 0; s < hops.size(); ++s) {
    const std::uint16_t was = table->slots()[s];
    const BackendId owner = e.maglev[s];
    if (was == lb::kNoBackend || owner == kNoBackendId) continue;
    const auto it = current.find(e.previous_input[was].address);
    if (it == current.end() || it->second == owner) continue;
    if (slots[it->second].address.family != slots[owner].address.family) continue;
    hops[s] = it->second;
    ++moved;
  }
  if (moved == 0) return;
  e.second_hop = std::move(hops);
  e.second_hop_slots = moved;
}

}  // namespace

Result<std::unique_ptr<const Snapshot>> build_snapshot(const config::State& state,
                                                       BackendRegistry& committed,
                                                       const Snapshot* previous) {
  // Work on a copy: a state that fails leaves the registry exactly as it was.
  BackendRegistry registry = committed;
  if (state.vips.size() > kMaxVips) {
    return Error{"vips: " + std::to_string(state.vips.size()) +
                 " VIPs, the dataplane holds at most " + std::to_string(kMaxVips)};
  }
  if (auto s = check_tunnel_sources(state); !s) return s.error();

  auto snap = std::make_unique<Snapshot>();
  snap->generation = state.generation;
  snap->settings = state.dataplane;

  // Ids first, so a failure leaves nothing half-built in the snapshot.
  std::vector<config::VipKey> vip_keys;
  std::vector<BackendIdentity> backend_keys;
  for (const config::Vip& vip : state.vips) {
    vip_keys.push_back(config::key_of(vip));
    for (const config::Backend& b : vip.backends) {
      backend_keys.push_back(BackendIdentity{vip_keys.back(), b.address});
    }
  }
  // Retire first so that ids of departed backends can be recycled by newcomers when full.
  registry.vips().retire_all_except(vip_keys);
  registry.backends().retire_all_except(backend_keys);

  snap->vips.reserve(state.vips.size());
  std::size_t backend_index = 0;
  for (std::size_t v = 0; v < state.vips.size(); ++v) {
    const config::Vip& cv = state.vips[v];
    const std::string where = "vips[" + std::to_string(v) + "]";
    VipEntry e;
    e.key = vip_keys[v];
    e.name = config::to_string(e.key);
    const auto vip_id = registry.vips().acquire(e.key);
    if (!vip_id) return Error{where + ": no free VIP id"};
    e.id = vip_id->id;
    e.scheduler = cv.scheduler;
    e.encap = cv.encap;
    e.fragments = cv.fragments;
    e.new_flows_per_s = cv.new_flows_per_s;
    e.syn_rescue = config::syn_rescue_enabled(cv);

    std::vector<lb::MaglevBackend> maglev_input;
    for (std::size_t b = 0; b < cv.backends.size(); ++b, ++backend_index) {
      const config::Backend& cb = cv.backends[b];
      const auto id = registry.backends().acquire(backend_keys[backend_index]);
      if (!id) {
        return Error{where + ".backends[" + std::to_string(b) + "]: more than " +
                     std::to_string(kMaxBackends) + " backends in the dataplane"};
      }
      if (snap->backends.size() <= id->id) snap->backends.resize(id->id + 1u);
      BackendSlot& slot = snap->backends[id->id];
      slot.address = cb.address;
      slot.incarnation = id->incarnation;
      slot.vip = e.id;
      slot.state = config::pushed_state(cb);
      slot.weight = config::scheduling_weight(cb);
      slot.present = true;
      slot.encap = make_encap_template(EncapTemplateParams{
          .encap = cv.encap,
          .inner_family = cv.address.family,
          .outer_src = cb.address.is_v4() ? *state.dataplane.tunnel_source_v4
                                          : *state.dataplane.tunnel_source_v6,
          .outer_dst = cb.address,
          .dst_mac = state.dataplane.next_hop_mac,
          .ttl = state.dataplane.outer_ttl,
          .gue_port = state.dataplane.gue_port,
      });
      e.backends.push_back(id->id);
      if (slot.weight > 0) {
        e.eligible.push_back(id->id);
        e.eligible_weight.push_back(slot.weight);
        e.eligible_total_weight += slot.weight;
        e.eligible_cumulative.push_back(e.eligible_total_weight);
      }
      maglev_input.push_back(lb::MaglevBackend{cb.address.to_string(), slot.weight});
    }

    const std::vector<BackendId>* reuse =
        previous != nullptr ? reusable_maglev(*previous, e, snap->backends, cv.maglev_table_size)
                            : nullptr;
    const VipEntry* reused_from = nullptr;
    if (reuse != nullptr) {
      e.maglev = *reuse;
      ++snap->maglev_tables_reused;
      reused_from = &previous->vips[previous->vips_by_id[e.id]];
    } else {
      auto table = lb::build_maglev(maglev_input, cv.maglev_table_size);
      if (!table) return Error{where + ".maglev_table_size: " + table.error().message};
      e.maglev.reserve(table->size());
      for (const std::uint16_t index : table->slots()) {
        e.maglev.push_back(index == lb::kNoBackend ? kNoBackendId : e.backends[index]);
      }
    }

    build_second_hop(e, cv, snap->backends, reused_from);

    ClassifyKey key;
    std::copy(cv.address.bytes.begin(), cv.address.bytes.end(), key.addr);
    key.family = static_cast<std::uint8_t>(cv.address.family);
    key.protocol = static_cast<std::uint8_t>(cv.protocol);
    key.port = cv.port;
    if (!snap->classify.insert(key, static_cast<std::uint16_t>(v))) {
      return Error{where + ": duplicate VIP " + e.name};
    }
    if (snap->vips_by_id.size() <= e.id) snap->vips_by_id.resize(e.id + 1u, kNoVipIndex);
    snap->vips_by_id[e.id] = static_cast<std::uint32_t>(v);
    snap->vips.push_back(std::move(e));
  }
  snap->classify.finalize();
  if (snap->backends.size() < registry.backends().high_water()) {
    snap->backends.resize(registry.backends().high_water());
  }
  committed = std::move(registry);
  return std::unique_ptr<const Snapshot>(std::move(snap));
}

}  // namespace sluice::pipeline

// The immutable forwarding state the workers read: built by the control thread from a
// config::State, published by pointer (RCU), never modified after build_snapshot() returns.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/backend_registry.hpp"
#include "pipeline/classify.hpp"
#include "pipeline/encap.hpp"
#include "pipeline/limits.hpp"
#include "sluice/config/model.hpp"
#include "sluice/ip_address.hpp"
#include "sluice/result.hpp"

namespace sluice::pipeline {

// Per stable backend id. A slot whose `present` is false belongs to no backend of this state
// (removed, or never used): flows pinned to it are rescheduled.
struct BackendSlot {
  std::uint16_t incarnation = 0;
  VipId vip = kNoVipId;  // stable id of the VIP the backend serves
  config::BackendState state = config::BackendState::down;
  bool present = false;
  std::uint32_t weight = 0;  // what new flows see: the effective weight while up, else 0
  IpAddress address;
  EncapTemplate encap;  // its VIP's encapsulation towards it
};

struct VipEntry {
  config::VipKey key;
  std::string name;     // config::vip_key(): "198.18.0.10:80/tcp"
  VipId id = kNoVipId;  // stable id (per-VIP counters)
  config::Scheduler scheduler = config::Scheduler::maglev;
  config::Encap encap = config::Encap::ipip;
  config::FragmentPolicy fragments = config::FragmentPolicy::forward;
  std::uint32_t new_flows_per_s = 0;  // 0: no limit
  bool syn_rescue = true;  // a retransmitted SYN leaves a backend that takes no new flows
  // Every configured backend of the VIP in config order, whatever its state: stable ids.
  std::vector<BackendId> backends;
  // Backends that take new flows (up, weight > 0), config order, with their weights and the
  // running weight sums (for weighted random).
  std::vector<BackendId> eligible;
  std::vector<std::uint32_t> eligible_weight;
  std::vector<std::uint64_t> eligible_cumulative;  // eligible_cumulative[i] = sum of w[0..i]
  std::uint64_t eligible_total_weight = 0;
  // Weighted Maglev table over the backends that take new flows; slots hold stable ids
  // (kNoBackendId: none). Built for every scheduler: IP fragments and source-hash use it too.
  std::vector<BackendId> maglev;
  // Second chance (docs/second-chance.md): per Maglev slot, the backend that owned it in the
  // VIP's previous table where that differs from the current owner and is still a backend of
  // the VIP with the owner's address family; kNoBackendId elsewhere. Empty when the VIP has no
  // second chance, no previous table, or no slot that changed owner.
  bool second_chance = false;
  std::vector<BackendId> second_hop;
  std::uint32_t second_hop_slots = 0;                   // slots whose entry is a backend
  std::vector<config::PreviousBackend> previous_input;  // what second_hop was built from
};

inline constexpr std::uint32_t kNoVipIndex = 0xFFFFFFFFu;

struct Snapshot {
  std::uint64_t generation = 0;
  config::DataplaneSettings settings;
  ClassifyTable classify;                 // (address, protocol, port) -> index into vips
  std::vector<VipEntry> vips;             // by snapshot index (ClassifyTable values)
  std::vector<BackendSlot> backends;      // by stable BackendId, size = registry high water
  std::vector<std::uint32_t> vips_by_id;  // stable VipId -> index into vips (kNoVipIndex)
  std::size_t maglev_tables_reused = 0;   // taken from the previous snapshot (build_snapshot)

  [[nodiscard]] const BackendSlot* backend(BackendId id) const {
    return id < backends.size() ? &backends[id] : nullptr;
  }

  // Whether a flow of `vip` pinned to (id, incarnation) stays where it is: the same backend
  // (not a recycled id) is still configured under that VIP and is not down. Draining
  // backends keep their flows.
  [[nodiscard]] bool keeps_flows(BackendId id, std::uint16_t incarnation, VipId vip) const {
    if (id >= backends.size()) return false;
    const BackendSlot& slot = backends[id];
    return slot.present && slot.incarnation == incarnation && slot.vip == vip &&
           slot.state != config::BackendState::down;
  }
};

// Builds a snapshot (Maglev tables included: about 1 ms per VIP at 65537 slots; call it off the
// fast path). On success, ids of VIPs/backends absent from `state` are retired in `registry`
// and new ones allocated (a backend's state never changes its id); on failure (too many
// VIPs/backends, Maglev size, missing tunnel source) the registry is left exactly as it was.
// `previous` (the snapshot built last with the same registry, if any) lends its Maglev table to
// every VIP whose table input is unchanged (same size, same backends with the same ids,
// incarnations and weights): a resync, or a change to a few VIPs of thousands, builds only
// what changed. The table is a pure function of that input, so the result is the same.
[[nodiscard]] Result<std::unique_ptr<const Snapshot>> build_snapshot(
    const config::State& state, BackendRegistry& registry, const Snapshot* previous = nullptr);

}  // namespace sluice::pipeline

// Stable ids for VIPs and backends across snapshots. Owned by the control thread; never
// touched by workers. A flow-table entry stores (backend id, incarnation): when an id is
// recycled its incarnation changes, so an old entry can never reach the new backend.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "pipeline/limits.hpp"
#include "sluice/config/names.hpp"
#include "sluice/ip_address.hpp"

namespace sluice::pipeline {

struct BackendIdentity {
  config::VipKey vip;
  IpAddress address;

  friend auto operator<=>(const BackendIdentity&, const BackendIdentity&) = default;
};

struct StableId {
  std::uint16_t id = 0;
  std::uint16_t incarnation = 0;
};

// One id space (VIPs or backends). Fresh ids are handed out first; once all `capacity` ids
// have been used, the id retired longest ago is recycled with a new incarnation, so ids are
// reused as late as possible (per-id counters stay meaningful and old flows have expired).
template <typename Key>
class IdAllocator {
 public:
  explicit IdAllocator(std::size_t capacity) : capacity_(capacity) {}

  // The id of `key`, allocating one if needed; nullopt when every id is live.
  [[nodiscard]] std::optional<StableId> acquire(const Key& key);
  // Marks every live key not in `keep` as retired (its id becomes recyclable).
  void retire_all_except(const std::vector<Key>& keep);
  [[nodiscard]] std::optional<StableId> find(const Key& key) const;
  [[nodiscard]] std::size_t high_water() const { return next_fresh_; }  // ids < this were used
  [[nodiscard]] std::size_t live() const { return live_.size(); }

 private:
  std::size_t capacity_;
  std::size_t next_fresh_ = 0;
  std::map<Key, StableId> live_;
  std::deque<std::uint16_t> retired_;       // oldest first
  std::vector<std::uint16_t> incarnation_;  // per id: the last incarnation handed out
};

template <typename Key>
std::optional<StableId> IdAllocator<Key>::acquire(const Key& key) {
  if (auto it = live_.find(key); it != live_.end()) return it->second;
  StableId id;
  if (next_fresh_ < capacity_) {
    id.id = static_cast<std::uint16_t>(next_fresh_++);
    incarnation_.push_back(0);
  } else if (!retired_.empty()) {
    id.id = retired_.front();
    retired_.pop_front();
    id.incarnation = ++incarnation_[id.id];
  } else {
    return std::nullopt;
  }
  live_.emplace(key, id);
  return id;
}

template <typename Key>
void IdAllocator<Key>::retire_all_except(const std::vector<Key>& keep) {
  std::vector<Key> sorted = keep;
  std::sort(sorted.begin(), sorted.end());
  for (auto it = live_.begin(); it != live_.end();) {
    if (std::binary_search(sorted.begin(), sorted.end(), it->first)) {
      ++it;
      continue;
    }
    retired_.push_back(it->second.id);
    it = live_.erase(it);
  }
}

template <typename Key>
std::optional<StableId> IdAllocator<Key>::find(const Key& key) const {
  if (auto it = live_.find(key); it != live_.end()) return it->second;
  return std::nullopt;
}

class BackendRegistry {
 public:
  BackendRegistry();

  IdAllocator<config::VipKey>& vips() { return vips_; }
  IdAllocator<BackendIdentity>& backends() { return backends_; }
  [[nodiscard]] const IdAllocator<config::VipKey>& vips() const { return vips_; }
  [[nodiscard]] const IdAllocator<BackendIdentity>& backends() const { return backends_; }

 private:
  IdAllocator<config::VipKey> vips_;
  IdAllocator<BackendIdentity> backends_;
};

}  // namespace sluice::pipeline

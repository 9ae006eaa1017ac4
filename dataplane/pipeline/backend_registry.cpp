#include "pipeline/backend_registry.hpp"

#include <algorithm>

namespace sluice::pipeline {

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

template class IdAllocator<config::VipKey>;
template class IdAllocator<BackendIdentity>;

BackendRegistry::BackendRegistry() : vips_(kMaxVips), backends_(kMaxBackends) {}

}  // namespace sluice::pipeline

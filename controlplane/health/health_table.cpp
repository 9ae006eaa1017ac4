#include "health/health_table.hpp"

namespace sluice::cp {

void HealthTable::set(const BackendRef& ref, BackendHealth health) {
  std::lock_guard lock(mutex_);
  entries_.insert_or_assign(ref, std::move(health));
}

void HealthTable::erase(const BackendRef& ref) {
  std::lock_guard lock(mutex_);
  entries_.erase(ref);
}

HealthMap HealthTable::healthy_map() const {
  std::lock_guard lock(mutex_);
  HealthMap out;
  for (const auto& [ref, health] : entries_)
    out.emplace(ref, health.healthy);
  return out;
}

std::vector<std::pair<BackendRef, BackendHealth>> HealthTable::snapshot() const {
  std::lock_guard lock(mutex_);
  return {entries_.begin(), entries_.end()};
}

std::optional<BackendHealth> HealthTable::find(const BackendRef& ref) const {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(ref);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

}  // namespace sluice::cp

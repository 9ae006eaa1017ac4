#include "api/connection_table.hpp"

#include <utility>

namespace sluice::cp {

ConnectionTable::Id ConnectionTable::add(CloseFn close, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  const Id id = next_id_++;
  entries_.emplace(id, Entry{std::move(close), ConnectionPhase::waiting, now, false});
  ++counted_;
  return id;
}

void ConnectionTable::set_phase(Id id, ConnectionPhase phase, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(id);
  if (it == entries_.end()) return;
  it->second.phase = phase;
  it->second.since = now;
}

void ConnectionTable::remove(Id id) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(id);
  if (it == entries_.end()) return;
  if (!it->second.closing) --counted_;
  entries_.erase(it);
}

std::map<ConnectionTable::Id, ConnectionTable::Entry>::iterator ConnectionTable::victim() {
  auto best = entries_.end();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    const Entry& e = it->second;
    if (e.closing || e.phase == ConnectionPhase::busy) continue;
    if (best == entries_.end()) {
      best = it;
      continue;
    }
    const Entry& b = best->second;
    // Idle connections go before slow requests; among equals, the one waiting longest.
    const bool better =
        (e.phase == ConnectionPhase::waiting && b.phase == ConnectionPhase::reading) ||
        (e.phase == b.phase && e.since < b.since);
    if (better) best = it;
  }
  return best;
}

ConnectionTable::CloseFn ConnectionTable::take(std::map<Id, Entry>::iterator it) {
  it->second.closing = true;
  --counted_;
  return std::exchange(it->second.close, CloseFn{});
}

ConnectionTable::Room ConnectionTable::make_room() {
  std::lock_guard lock(mutex_);
  if (counted_ < limit_) return Room{true, {}, ConnectionPhase::waiting};
  const auto it = victim();
  if (it == entries_.end()) return Room{};
  const ConnectionPhase phase = it->second.phase;
  return Room{true, take(it), phase};
}

ConnectionTable::CloseFn ConnectionTable::close_one() {
  std::lock_guard lock(mutex_);
  const auto it = victim();
  if (it == entries_.end()) return {};
  return take(it);
}

std::size_t ConnectionTable::open() const {
  std::lock_guard lock(mutex_);
  return counted_;
}

}  // namespace sluice::cp

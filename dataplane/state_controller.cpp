#include "state_controller.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "sluice/config/validate.hpp"
#include "state_diff.hpp"

namespace sluice::dataplane {
namespace {

using Clock = std::chrono::steady_clock;

// A state at the limits can differ from the running one in tens of thousands of ways.
constexpr std::size_t kMaxLoggedChanges = 100;

long long ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

}  // namespace

StateController::StateController(SnapshotPublisher& publisher, std::uint32_t flow_table_entries)
    : publisher_(publisher), flow_table_entries_(flow_table_entries) {}

Status StateController::publish_empty() {
  auto snapshot = pipeline::build_snapshot(running_, registry_);
  if (!snapshot) return Error{"cannot build the empty start-up state: " + snapshot.error().message};
  {
    std::lock_guard lock(readers_mutex_);
    publisher_.publish(std::move(snapshot.value()));
  }
  if (on_applied_) on_applied_(running_);
  return ok_status();
}

Result<std::uint64_t> StateController::apply(const config::State& state, std::string_view source) {
  if (loaded_) {
    if (state.generation == running_.generation && state == running_) {
      spdlog::info("state from {}: generation {} is already running, nothing to do", source,
                   state.generation);
      return running_.generation;
    }
    if (state.generation <= running_.generation) {
      return Error{fmt::format("generation: {} is not newer than the running generation {}",
                               state.generation, running_.generation)};
    }
  }
  const auto started = Clock::now();
  if (auto valid = config::validate(state); !valid) return valid.error();
  auto snapshot = pipeline::build_snapshot(state, registry_, publisher_.current());
  if (!snapshot) return snapshot.error();
  const std::size_t reused = (*snapshot)->maglev_tables_reused;
  const auto built = Clock::now();

  const auto changes = describe_changes(running_, state);
  const std::uint64_t previous = running_.generation;
  {
    std::lock_guard lock(readers_mutex_);
    publisher_.publish(std::move(snapshot.value()));
    running_ = state;
    loaded_ = true;
  }
  const auto swapped = Clock::now();
  spdlog::info(
      "state from {}: generation {} -> {} ({} VIPs, {} changes); built in {} ms ({} of {} "
      "Maglev tables kept), swapped in {} ms",
      source, previous, state.generation, state.vips.size(), changes.size(),
      ms_between(started, built), reused, state.vips.size(), ms_between(built, swapped));
  const std::size_t shown = std::min(changes.size(), kMaxLoggedChanges);
  for (std::size_t i = 0; i < shown; ++i)
    spdlog::info("  {}", changes[i]);
  if (shown < changes.size()) spdlog::info("  ... and {} more changes", changes.size() - shown);
  if (state.dataplane.flow_table_entries != flow_table_entries_) {
    spdlog::warn("dataplane.flow_table_entries {} takes effect at the next start (running {})",
                 state.dataplane.flow_table_entries, flow_table_entries_);
  }
  if (on_applied_) on_applied_(running_);
  return state.generation;
}

}  // namespace sluice::dataplane

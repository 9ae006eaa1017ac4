#include "state_controller.hpp"

#include <spdlog/spdlog.h>

#include "sluice/config/validate.hpp"
#include "state_diff.hpp"

namespace sluice::dataplane {

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
  if (auto valid = config::validate(state); !valid) return valid.error();
  auto snapshot = pipeline::build_snapshot(state, registry_);
  if (!snapshot) return snapshot.error();

  const auto changes = describe_changes(running_, state);
  const std::uint64_t previous = running_.generation;
  {
    std::lock_guard lock(readers_mutex_);
    publisher_.publish(std::move(snapshot.value()));
    running_ = state;
    loaded_ = true;
  }
  spdlog::info("state from {}: generation {} -> {} ({} VIPs, {} changes)", source, previous,
               state.generation, state.vips.size(), changes.size());
  for (const auto& line : changes)
    spdlog::info("  {}", line);
  if (state.dataplane.flow_table_entries != flow_table_entries_) {
    spdlog::warn("dataplane.flow_table_entries {} takes effect at the next start (running {})",
                 state.dataplane.flow_table_entries, flow_table_entries_);
  }
  if (on_applied_) on_applied_(running_);
  return state.generation;
}

}  // namespace sluice::dataplane

// The control thread's view of the forwarding state: owns the BackendRegistry (stable ids),
// turns a pushed config::State into a snapshot with build_snapshot(), publishes it (RCU) and
// logs what changed. A state that is stale (generation not newer) or invalid is refused with
// a message naming the field; the running state stays in force.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string_view>

#include "pipeline/backend_registry.hpp"
#include "pipeline/snapshot.hpp"
#include "sluice/config/model.hpp"
#include "sluice/result.hpp"
#include "snapshot_publisher.hpp"

namespace sluice::dataplane {

class StateController {
 public:
  // `flow_table_entries`: the per-lcore flow-table size the workers were created with (a
  // state asking for another size takes effect at the next start).
  StateController(SnapshotPublisher& publisher, std::uint32_t flow_table_entries);

  // Publishes the empty state (no VIP: everything goes to the host) so the workers always
  // have a snapshot. Call once before the workers start.
  [[nodiscard]] Status publish_empty();

  // Installs `state`; `source` ("--config file", "control socket") goes into the log.
  // Returns the generation now running.
  [[nodiscard]] Result<std::uint64_t> apply(const config::State& state, std::string_view source);

  // Called on the control thread after each state (the empty one included) is in force; e.g.
  // to mirror the VIP set into the XDP steering program.
  void on_applied(std::function<void(const config::State&)> listener) {
    on_applied_ = std::move(listener);
  }

  [[nodiscard]] bool loaded() const { return loaded_; }
  [[nodiscard]] std::uint64_t generation() const { return running_.generation; }
  [[nodiscard]] const config::State& running() const { return running_; }
  // Control thread only (no lock needed: it is the only writer).
  [[nodiscard]] const pipeline::Snapshot* snapshot() const { return publisher_.current(); }

  // Held while a snapshot is swapped and freed: other threads (telemetry) lock it to read
  // snapshot() and running().
  [[nodiscard]] std::mutex& readers_mutex() const { return readers_mutex_; }

 private:
  SnapshotPublisher& publisher_;
  std::uint32_t flow_table_entries_;
  pipeline::BackendRegistry registry_;
  config::State running_;
  bool loaded_ = false;  // false until a real state (not the empty start-up one) is applied
  mutable std::mutex readers_mutex_;
  std::function<void(const config::State&)> on_applied_;
};

}  // namespace sluice::dataplane

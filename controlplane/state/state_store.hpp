// The desired state: one copy, one mutex. Every change is applied to a copy, validated,
// persisted atomically (write, fsync, rename, fsync of the directory) and only then published
// and acknowledged, so concurrent API calls never lose an update and an acknowledged change
// survives a crash. A change that cannot be persisted (disk full, I/O error) is refused and
// leaves both the state in memory and the file as they were.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "sluice/atomic_file.hpp"
#include "sluice/config/model.hpp"
#include "sluice/result.hpp"
#include "state/mutations.hpp"

namespace sluice::cp {

// The start-up state: the YAML config, with the VIPs of the persisted state file (the runtime
// changes) in place of the config's when that file exists. Errors name file, line and field.
struct LoadedState {
  config::State desired;
  bool from_state_file = false;  // the VIPs came from the state file
};
[[nodiscard]] Result<LoadedState> load_desired_state(const std::string& config_path,
                                                     const std::string& state_file);

class StateStore {
 public:
  using Listener = std::function<void()>;

  // `state_file` empty: nothing is persisted. `calls`: the file system (tests inject faults);
  // it must outlive the store.
  StateStore(config::State desired, std::string state_file,
             const FileSystemCalls& calls = system_file_calls());

  // Applies `change` (one of mutations.hpp) and persists the result. On a refusal, or when the
  // state cannot be persisted, nothing changes. Returns the new revision when applied.
  [[nodiscard]] std::variant<std::uint64_t, Refusal> change(
      const std::function<Mutation(config::State&)>& change);

  [[nodiscard]] config::State desired() const;
  [[nodiscard]] std::uint64_t revision() const;
  [[nodiscard]] const std::string& state_file() const { return state_file_; }

  // Called (outside the lock) after every applied change. Register before serving requests.
  void add_listener(Listener listener);

 private:
  // Writes `next` to the state file (under mutex_); the refusal when it cannot.
  [[nodiscard]] std::optional<Refusal> persist(const config::State& next) const;

  mutable std::mutex mutex_;
  config::State desired_;
  std::uint64_t revision_ = 0;
  std::string state_file_;
  const FileSystemCalls& calls_;
  std::vector<Listener> listeners_;
};

}  // namespace sluice::cp

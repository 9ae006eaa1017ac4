#include "state/state_store.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <system_error>
#include <utility>

#include "sluice/config/validate.hpp"
#include "sluice/config/yaml.hpp"

namespace sluice::cp {

Result<LoadedState> load_desired_state(const std::string& config_path,
                                       const std::string& state_file) {
  Result<config::State> config = config::load_yaml_file(config_path);
  if (!config.ok()) return config.error();
  if (Status intent = config::validate_desired(config.value()); !intent.ok()) {
    return Error{config_path + ":\n" + intent.error().message};
  }
  LoadedState loaded{std::move(config.value()), false};

  std::error_code ec;
  if (state_file.empty() || !std::filesystem::exists(state_file, ec)) return loaded;

  Result<config::State> persisted = config::load_yaml_file(state_file);
  if (!persisted.ok()) {
    return Error{persisted.error().message +
                 "\n(the state file holds runtime changes made through the API; fix it, or move "
                 "it away to start from the config's VIPs)"};
  }
  loaded.desired.vips = std::move(persisted.value().vips);
  if (Status valid = config::validate_desired(loaded.desired); !valid.ok()) {
    return Error{state_file + ": its VIPs do not fit the settings of " + config_path + ":\n" +
                 valid.error().message};
  }
  loaded.from_state_file = true;
  return loaded;
}

StateStore::StateStore(config::State desired, std::string state_file, const FileSystemCalls& calls)
    : desired_(std::move(desired)), state_file_(std::move(state_file)), calls_(calls) {}

std::optional<Refusal> StateStore::persist(const config::State& next) const {
  if (state_file_.empty()) return std::nullopt;
  const ReplaceResult saved = config::save_yaml_file_atomic(next, state_file_, calls_);
  if (saved.ok()) return std::nullopt;
  std::string outcome = "nothing was changed";
  if (saved.replaced()) {
    // The file already holds the refused state: put the current one back, or a restart would
    // bring back a change that was never acknowledged.
    const ReplaceResult restored = config::save_yaml_file_atomic(desired_, state_file_, calls_);
    if (!restored.ok()) {
      outcome =
          "the file may hold the refused change until the next accepted one (restoring "
          "it failed: " +
          restored.error + ")";
    }
  }
  spdlog::error("state: change not applied: {}; {}", saved.error, outcome);
  return Refusal{RefusalKind::internal, "state file " + state_file_ + " could not be written (" +
                                            saved.error + "); " + outcome};
}

std::variant<std::uint64_t, Refusal> StateStore::change(
    const std::function<Mutation(config::State&)>& change) {
  std::vector<Listener> to_notify;
  std::uint64_t revision = 0;
  {
    std::lock_guard lock(mutex_);
    config::State next = desired_;
    if (Mutation refused = change(next)) return *refused;
    if (std::optional<Refusal> failed = persist(next)) return *std::move(failed);
    desired_ = std::move(next);
    revision = ++revision_;
    to_notify = listeners_;
  }
  for (const Listener& listener : to_notify)
    listener();
  return revision;
}

config::State StateStore::desired() const {
  std::lock_guard lock(mutex_);
  return desired_;
}

std::uint64_t StateStore::revision() const {
  std::lock_guard lock(mutex_);
  return revision_;
}

void StateStore::add_listener(Listener listener) {
  std::lock_guard lock(mutex_);
  listeners_.push_back(std::move(listener));
}

}  // namespace sluice::cp

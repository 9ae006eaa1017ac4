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

// What `sluicectl status` shows about where the desired VIPs live.
struct StateStoreStatus {
  std::string kind = "file";           // "file" | "etcd"
  std::string file;                    // file: the state file ("" when nothing is persisted)
  std::vector<std::string> endpoints;  // etcd
  std::string key;                     // etcd: <prefix>state
  std::string host_name;
  bool connected = true;            // etcd: the last call (watch, read or write) got an answer
  std::string last_error;           // etcd: why not, naming the endpoints tried
  std::uint64_t revision = 0;       // file: local change count; etcd: mod_revision in force
  std::uint64_t read_revision = 0;  // etcd: the key's mod_revision last read (0: absent)
  std::string refused;              // etcd: why the document at read_revision is not in force
};

// The shared VIPs of a tier (etcd): each write compares the revision it was based on.
class SharedStateBackend {
 public:
  virtual ~SharedStateBackend() = default;
  // Writes `document` if the key's mod_revision is still `based_on` (0: the key must not
  // exist). The key's new mod_revision, or conflict_retry / unavailable.
  [[nodiscard]] virtual std::variant<std::uint64_t, Refusal> write(const std::string& document,
                                                                   std::uint64_t based_on) = 0;
  // Fills the connection fields of `status`.
  virtual void describe(StateStoreStatus& status) const = 0;
};

// The desired state with the shared revision it came from (etcd), read together.
struct DesiredSnapshot {
  config::State desired;
  std::optional<std::uint64_t> shared_revision;  // etcd: mod_revision; file: none
};

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
  // File: the count of applied changes. etcd: the mod_revision of the shared state in force.
  [[nodiscard]] std::uint64_t revision() const;
  [[nodiscard]] DesiredSnapshot snapshot() const;
  [[nodiscard]] StateStoreStatus status() const;

  // etcd mode (before serving requests): changes go to `backend` with a compare on the
  // revision last read; the desired state came from revision `revision` of the shared key.
  void use_shared(SharedStateBackend* backend, std::uint64_t revision, std::string host_name);
  // A new document on the shared key (the watch, or a read after reconnecting). Applied when it
  // passes config::validate_desired with this host's settings; refused otherwise (logged with
  // the field; the state in force stays). Older or equal revisions are ignored.
  Status apply_shared(const std::string& document, std::uint64_t mod_revision);
  // The shared key was deleted (or found absent): the state in force stays; the next change
  // re-creates the key.
  void shared_absent(std::uint64_t revision);
  [[nodiscard]] const std::string& state_file() const { return state_file_; }

  // Called (outside the lock) after every applied change. Register before serving requests.
  void add_listener(Listener listener);

 private:
  // Writes `next` to the state file (under mutex_); the refusal when it cannot.
  [[nodiscard]] std::optional<Refusal> persist(const config::State& next) const;

  [[nodiscard]] std::variant<std::uint64_t, Refusal> change_shared(
      const std::function<Mutation(config::State&)>& change);
  void notify(const std::vector<Listener>& listeners) const;

  std::mutex write_mutex_;  // etcd: one transaction of this host at a time (outside mutex_)
  mutable std::mutex mutex_;
  config::State desired_;
  std::uint64_t revision_ = 0;
  SharedStateBackend* shared_ = nullptr;
  std::string host_name_;
  std::uint64_t read_revision_ = 0;
  std::string refused_;
  std::string state_file_;
  const FileSystemCalls& calls_;
  std::vector<Listener> listeners_;
};

}  // namespace sluice::cp

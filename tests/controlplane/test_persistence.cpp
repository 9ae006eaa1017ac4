#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "sluice/config/yaml.hpp"
#include "state/state_store.hpp"
#include "temp_dir.hpp"
#include "test_state.hpp"

namespace sluice::cp {
namespace {

using testing::backend;
using testing::base_state;
using testing::ip;
using testing::read_file;
using testing::TempDir;
using testing::vip;

const char* kConfig = R"(dataplane:
  next_hop_mac: "02:00:00:00:00:fe"
  tunnel_source_v4: 198.18.0.1
vips:
  - address: 198.18.0.10
    port: 80
    protocol: tcp
    health_check: {type: http, path: /healthz, interval_ms: 500, timeout_ms: 200, rise: 2, fall: 3}
    backends:
      - {address: 198.18.1.1, weight: 1}
      - {address: 198.18.1.2, weight: 2}
dataplanes:
  - {name: dp1, control_socket: /run/sluice/dp1.sock}
)";

TEST(Persistence, ChangesAreWrittenAndReadBackIdentically) {
  TempDir dir;
  const std::string config_path = dir.file("sluice.yaml");
  std::ofstream(config_path) << kConfig;
  const std::string state_path = dir.file("state.yaml");

  Result<LoadedState> loaded = load_desired_state(config_path, state_path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_FALSE(loaded->from_state_file);

  StateStore store(loaded->desired, state_path);
  const config::VipKey key = config::key_of(loaded->desired.vips[0]);
  auto r1 =
      store.change([&](config::State& s) { return add_backend(s, key, backend("198.18.1.3", 4)); });
  ASSERT_TRUE(std::holds_alternative<std::uint64_t>(r1));
  auto r2 =
      store.change([&](config::State& s) { return set_drained(s, key, ip("198.18.1.1"), true); });
  ASSERT_TRUE(std::holds_alternative<std::uint64_t>(r2));
  auto r3 = store.change([&](config::State& s) {
    return add_vip(s, vip("198.18.0.11", 53, {backend("198.18.1.7")}));
  });
  ASSERT_TRUE(std::holds_alternative<std::uint64_t>(r3));
  EXPECT_EQ(store.revision(), 3u);

  // A restart: the config is unchanged, the state file brings the runtime changes back.
  Result<LoadedState> again = load_desired_state(config_path, state_path);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(again->from_state_file);
  EXPECT_EQ(again->desired, store.desired());
  ASSERT_EQ(again->desired.vips.size(), 2u);
  EXPECT_TRUE(again->desired.vips[0].backends[0].drained);
  EXPECT_EQ(again->desired.vips[0].backends[2].weight, 4u);
  ASSERT_TRUE(again->desired.vips[0].health_check.has_value());
  EXPECT_EQ(again->desired.vips[0].health_check->http_path, "/healthz");
}

// Second chance: a change of a VIP's backends or weights keeps the table input from before it
// (with the time), persisted with the state; a change of something else keeps that block.
TEST(Persistence, AWeightChangeRecordsThePreviousTableInput) {
  TempDir dir;
  const std::string config_path = dir.file("sluice.yaml");
  std::ofstream(config_path) << kConfig;
  const std::string state_path = dir.file("state.yaml");
  Result<LoadedState> loaded = load_desired_state(config_path, state_path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_FALSE(loaded->desired.vips[0].previous.has_value());

  StateStore store(loaded->desired, state_path);
  const config::VipKey key = config::key_of(loaded->desired.vips[0]);
  const auto before = static_cast<std::uint64_t>(std::time(nullptr));
  auto r1 = store.change([&](config::State& s) { return set_weight(s, key, ip("198.18.1.2"), 5); });
  ASSERT_TRUE(std::holds_alternative<std::uint64_t>(r1));
  const config::State after = store.desired();
  ASSERT_TRUE(after.vips[0].previous.has_value());
  const std::vector<config::PreviousBackend> want = {{ip("198.18.1.1"), 1}, {ip("198.18.1.2"), 2}};
  EXPECT_EQ(after.vips[0].previous->backends, want);
  EXPECT_GE(after.vips[0].previous->replaced_at, before);
  EXPECT_LE(after.vips[0].previous->replaced_at, before + 5);

  auto r2 = store.change([&](config::State& s) {
    return add_vip(s, vip("198.18.0.11", 53, {backend("198.18.1.7")}));
  });
  ASSERT_TRUE(std::holds_alternative<std::uint64_t>(r2));
  EXPECT_EQ(store.desired().vips[0].previous, after.vips[0].previous);
  EXPECT_FALSE(store.desired().vips[1].previous.has_value()) << "a new VIP has no past";

  Result<LoadedState> again = load_desired_state(config_path, state_path);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->desired.vips[0].previous, after.vips[0].previous);
}

TEST(Persistence, RefusedChangeLeavesTheFileUntouched) {
  TempDir dir;
  const std::string state_path = dir.file("state.yaml");
  config::State s = base_state();
  s.vips.push_back(vip("198.18.0.10", 80, {backend("198.18.1.1")}));
  StateStore store(s, state_path);
  const config::VipKey key = config::key_of(s.vips[0]);
  ASSERT_TRUE(std::holds_alternative<std::uint64_t>(
      store.change([&](config::State& st) { return set_weight(st, key, ip("198.18.1.1"), 9); })));
  const std::string before = read_file(state_path);
  ASSERT_FALSE(before.empty());
  auto refused =
      store.change([&](config::State& st) { return set_weight(st, key, ip("198.18.1.1"), 70000); });
  ASSERT_TRUE(std::holds_alternative<Refusal>(refused));
  EXPECT_EQ(read_file(state_path), before);
  EXPECT_EQ(store.desired().vips[0].backends[0].weight, 9u);
  EXPECT_EQ(store.revision(), 1u);
}

TEST(Persistence, UnwritableStateFileRefusesTheChange) {
  TempDir dir;
  config::State s = base_state();
  s.vips.push_back(vip("198.18.0.10", 80, {backend("198.18.1.1")}));
  StateStore store(s, dir.file("no-such-dir/state.yaml"));
  const config::VipKey key = config::key_of(s.vips[0]);
  auto outcome =
      store.change([&](config::State& st) { return set_weight(st, key, ip("198.18.1.1"), 9); });
  ASSERT_TRUE(std::holds_alternative<Refusal>(outcome));
  EXPECT_EQ(std::get<Refusal>(outcome).kind, RefusalKind::internal);
  EXPECT_EQ(store.desired().vips[0].backends[0].weight, 1u);  // not applied
}

TEST(Persistence, BrokenStateFileIsRefusedWithItsLocation) {
  TempDir dir;
  const std::string config_path = dir.file("sluice.yaml");
  std::ofstream(config_path) << kConfig;
  const std::string state_path = dir.file("state.yaml");
  std::ofstream(state_path)
      << "vips:\n  - address: 198.18.0.10\n    port: 80\n    protocol: tcp\n    bogus: 1\n";
  Result<LoadedState> loaded = load_desired_state(config_path, state_path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message.find("state.yaml:5"), std::string::npos)
      << loaded.error().message;
  EXPECT_NE(loaded.error().message.find("bogus"), std::string::npos) << loaded.error().message;
}

TEST(Persistence, ListenersRunAfterEachAppliedChangeOnly) {
  TempDir dir;
  config::State s = base_state();
  s.vips.push_back(vip("198.18.0.10", 80, {backend("198.18.1.1")}));
  StateStore store(s, dir.file("state.yaml"));
  int calls = 0;
  store.add_listener([&] { ++calls; });
  const config::VipKey key = config::key_of(s.vips[0]);
  (void)store.change([&](config::State& st) { return set_weight(st, key, ip("198.18.1.1"), 2); });
  (void)store.change([&](config::State& st) { return set_weight(st, key, ip("198.18.1.9"), 2); });
  EXPECT_EQ(calls, 1);
}

// Fails chosen calls the way the kernel would: `fail[{"fsync_dir", 1}] = EIO` makes the first
// fsync of a directory return -1 with errno EIO. Calls are told apart by what they act on
// (open_dir, open_file, write, fsync_file, fsync_dir, close, rename), not by their order, so
// a save that does its steps in another order meets the same faults. Every other call is real.
class FaultyFileSystem : public FileSystemCalls {
 public:
  std::map<std::pair<std::string, int>, int> fail;
  // The first write writes this many bytes at most (0: all): a disk that fills up midway.
  std::size_t first_write_limit = 0;

  int open(const char* path, int flags, mode_t mode) const override {
    if (failed((flags & O_DIRECTORY) != 0 ? "open_dir" : "open_file")) return -1;
    return FileSystemCalls::open(path, flags, mode);
  }
  ssize_t write(int fd, const void* data, std::size_t size) const override {
    if (failed("write")) return -1;
    if (count_["write"] == 1 && first_write_limit > 0) size = std::min(size, first_write_limit);
    return FileSystemCalls::write(fd, data, size);
  }
  int fsync(int fd) const override {
    struct stat st {};
    ::fstat(fd, &st);
    return failed(S_ISDIR(st.st_mode) ? "fsync_dir" : "fsync_file") ? -1
                                                                    : FileSystemCalls::fsync(fd);
  }
  int close(int fd) const override {
    if (failed("close")) {
      FileSystemCalls::close(fd);  // Linux closes the descriptor even when close() fails
      return -1;
    }
    return FileSystemCalls::close(fd);
  }
  int rename(const char* from, const char* to) const override {
    return failed("rename") ? -1 : FileSystemCalls::rename(from, to);
  }
  void reset() {
    fail.clear();
    count_.clear();
    first_write_limit = 0;
  }

 private:
  bool failed(const std::string& call) const {
    const auto it = fail.find({call, ++count_[call]});
    if (it == fail.end()) return false;
    errno = it->second;
    return true;
  }
  mutable std::map<std::string, int> count_;
};

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    out.push_back(e.path().filename().string());
  return out;
}

struct Fault {
  const char* name;
  std::map<std::pair<std::string, int>, int> fail;
  std::size_t first_write_limit;
  const char* message;  // in the refusal
};

// Every step of a save fails once: the change is refused with a message naming the file and
// the cause, and the state in memory, the file and the directory are exactly as before.
TEST(Persistence, AFailureAtAnyStepOfTheSaveChangesNothing) {
  const std::vector<Fault> faults = {
      {"open directory", {{{"open_dir", 1}, EMFILE}}, 0, "open "},
      {"create (no inode left)", {{{"open_file", 1}, ENOSPC}}, 0, "create "},
      {"write (disk full)", {{{"write", 1}, ENOSPC}}, 0, "write "},
      {"write (disk full midway)", {{{"write", 2}, ENOSPC}}, 100, "(100 of "},
      {"fsync", {{{"fsync_file", 1}, EIO}}, 0, "fsync "},
      {"close", {{{"close", 1}, EIO}}, 0, "close "},
      {"rename", {{{"rename", 1}, EIO}}, 0, "rename "},
      // The rename is done when the directory sync fails: the store puts the old state back.
      {"fsync of the directory", {{{"fsync_dir", 1}, EIO}}, 0, "fsync of the directory"},
  };
  TempDir dir;
  const std::string state_path = dir.file("state.yaml");
  config::State s = base_state();
  s.vips.push_back(vip("198.18.0.10", 80, {backend("198.18.1.1")}));
  FaultyFileSystem fs;
  StateStore store(s, state_path, fs);
  int notified = 0;
  store.add_listener([&] { ++notified; });
  const config::VipKey key = config::key_of(s.vips[0]);
  ASSERT_TRUE(std::holds_alternative<std::uint64_t>(
      store.change([&](config::State& st) { return set_weight(st, key, ip("198.18.1.1"), 9); })));

  std::uint32_t weight = 100;
  for (const Fault& fault : faults) {
    SCOPED_TRACE(fault.name);
    const std::string file_before = read_file(state_path);
    const config::State desired_before = store.desired();
    const std::uint64_t revision_before = store.revision();
    const int notified_before = notified;
    fs.reset();
    fs.fail = fault.fail;
    fs.first_write_limit = fault.first_write_limit;
    auto refused = store.change(
        [&](config::State& st) { return set_weight(st, key, ip("198.18.1.1"), ++weight); });
    ASSERT_TRUE(std::holds_alternative<Refusal>(refused));
    const Refusal& r = std::get<Refusal>(refused);
    EXPECT_EQ(r.kind, RefusalKind::internal);
    EXPECT_NE(r.message.find("state file " + state_path + " could not be written"),
              std::string::npos)
        << r.message;
    EXPECT_NE(r.message.find(fault.message), std::string::npos) << r.message;
    EXPECT_NE(r.message.find(std::strerror(fault.fail.begin()->second)), std::string::npos)
        << r.message;
    EXPECT_NE(r.message.find("nothing was changed"), std::string::npos) << r.message;
    EXPECT_EQ(read_file(state_path), file_before);
    EXPECT_EQ(store.desired(), desired_before);
    EXPECT_EQ(store.revision(), revision_before);
    EXPECT_EQ(notified, notified_before);
    EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"state.yaml"});
    Result<config::State> on_disk = config::load_yaml_file(state_path);
    ASSERT_TRUE(on_disk.ok()) << on_disk.error().message;
    EXPECT_EQ(on_disk->vips, desired_before.vips);
  }

  // Once the disk is fine again, changes are accepted and persisted.
  fs.reset();
  ASSERT_TRUE(std::holds_alternative<std::uint64_t>(
      store.change([&](config::State& st) { return set_weight(st, key, ip("198.18.1.1"), 7); })));
  Result<config::State> on_disk = config::load_yaml_file(state_path);
  ASSERT_TRUE(on_disk.ok()) << on_disk.error().message;
  EXPECT_EQ(on_disk->vips[0].backends[0].weight, 7u);
}

// Both the save and the restore fail after their rename: the refusal says the file may hold
// the refused change, and the state in memory is still the acknowledged one.
TEST(Persistence, AFailedRestoreIsReportedNotHidden) {
  TempDir dir;
  const std::string state_path = dir.file("state.yaml");
  config::State s = base_state();
  s.vips.push_back(vip("198.18.0.10", 80, {backend("198.18.1.1")}));
  FaultyFileSystem fs;
  StateStore store(s, state_path, fs);
  const config::VipKey key = config::key_of(s.vips[0]);
  fs.fail = {{{"fsync_dir", 1}, EIO}, {{"fsync_dir", 2}, EIO}};
  auto refused =
      store.change([&](config::State& st) { return set_weight(st, key, ip("198.18.1.1"), 9); });
  ASSERT_TRUE(std::holds_alternative<Refusal>(refused));
  const std::string& message = std::get<Refusal>(refused).message;
  EXPECT_NE(message.find("the file may hold the refused change"), std::string::npos) << message;
  EXPECT_EQ(message.find("nothing was changed"), std::string::npos) << message;
  EXPECT_EQ(store.desired().vips[0].backends[0].weight, 1u);
}

}  // namespace
}  // namespace sluice::cp

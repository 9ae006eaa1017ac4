#include <gtest/gtest.h>

#include <fstream>
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

}  // namespace
}  // namespace sluice::cp

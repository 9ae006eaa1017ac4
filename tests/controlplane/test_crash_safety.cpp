// Crash-safe state, with the real sluice-controlplane in this network namespace (no health
// checks, so no probe leaves the host; metrics on a loopback address of its own):
//  - SIGKILL at random moments during 1,000 API mutations: after each restart the state file
//    loads and holds every acknowledged mutation (the one in flight may or may not be there),
//    and a REAL sluice-dataplane (DPDK --no-huge, null vdevs) converges to the desired state;
//  - a full disk (a small tmpfs holding the state file): mutations are refused naming the file,
//    nothing changes in memory or on disk, reads are still served, and writes work again once
//    there is room.
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <utility>

#include <gtest/gtest.h>

#include "harness/fake_dataplane.hpp"
#include "harness/process.hpp"
#include "real_processes.hpp"
#include "sluice/config/names.hpp"
#include "sluice/config/yaml.hpp"
#include "sluice/control/client.hpp"
#include "sluicectl/api_client.hpp"
#include "temp_dir.hpp"

namespace sluice::cp::testing {
namespace {

// A loopback address no other test process uses: metrics bind 127.99.x.y:9780.
std::string metrics_listen() {
  const auto pid = static_cast<unsigned>(::getpid());
  return "127.99." + std::to_string((pid >> 8) & 255) + "." + std::to_string(pid & 255) + ":9780";
}

// The desired state as the test's client knows it: VIP key -> backend address -> settings.
struct BackendIntent {
  std::uint32_t weight = 1;
  bool drained = false;
  friend bool operator==(const BackendIntent&, const BackendIntent&) = default;
};
using Model = std::map<std::string, std::map<std::string, BackendIntent>>;

std::string describe(const Model& m) {
  std::string out;
  for (const auto& [vip, backends] : m) {
    out += vip + ":";
    for (const auto& [address, b] : backends)
      out += " " + address + "/" + std::to_string(b.weight) + (b.drained ? "d" : "");
    out += "\n";
  }
  return out;
}

Model model_of(const config::State& s) {
  Model m;
  for (const config::Vip& v : s.vips) {
    auto& backends = m[config::vip_key(v)];
    for (const config::Backend& b : v.backends)
      backends[b.address.to_string()] = {b.weight, b.drained};
  }
  return m;
}

std::optional<Model> model_of(const ctl::ApiReply& vips) {
  if (vips.status != 200 || !vips.body.contains("vips")) return std::nullopt;
  Model m;
  for (const auto& v : vips.body["vips"]) {
    auto& backends = m[v["vip"].get<std::string>()];
    for (const auto& b : v["backends"]) {
      backends[b["address"].get<std::string>()] = {b["weight"].get<std::uint32_t>(),
                                                   b["drained"].get<bool>()};
    }
  }
  return m;
}

// What a dataplane must run for `m`: VIP -> backend -> "up" or "draining" (no health checks).
std::map<std::string, std::map<std::string, std::string>> expected_running(const Model& m) {
  std::map<std::string, std::map<std::string, std::string>> out;
  for (const auto& [vip, backends] : m) {
    auto& running = out[vip];
    for (const auto& [address, b] : backends)
      running[address] = b.drained || b.weight == 0 ? "draining" : "up";
  }
  return out;
}

// One API change and its effect on the model.
struct Mutation {
  ctl::ApiRequest request;
  Model after;
  std::string what;
};

// Picks a valid mutation of `m` (each kind keeps at least one VIP and one backend per VIP).
Mutation random_mutation(const Model& m, std::mt19937& rng) {
  const auto pick = [&](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
  };
  auto nth_vip = [&](const Model& model) {
    auto it = model.begin();
    std::advance(it, static_cast<long>(pick(model.size())));
    return it;
  };
  for (;;) {
    Mutation mu;
    mu.after = m;
    const auto vip_it = nth_vip(m);
    const std::string& vip = vip_it->first;
    const auto& backends = vip_it->second;
    auto backend_it = backends.begin();
    std::advance(backend_it, static_cast<long>(pick(backends.size())));
    const std::string& address = backend_it->first;
    const auto q = [&](const std::string& path, bool with_address) {
      return with_address ? ctl::with_query(path, {{"vip", vip}, {"address", address}})
                          : ctl::with_query(path, {{"vip", vip}});
    };
    switch (pick(7)) {
      case 0: {  // add a VIP (8 at most)
        if (m.size() >= 8) continue;
        const std::string a = "198.18.0." + std::to_string(10 + pick(8));
        const std::string key = a + ":80/tcp";
        if (m.contains(key)) continue;
        const std::string b = "198.18.1." + std::to_string(1 + pick(60));
        mu.request = {"POST", "/v1/vips",
                      R"({"address": ")" + a +
                          R"(", "port": 80, "protocol": "tcp", "backends": [{"address": ")" + b +
                          R"("}]})"};
        mu.after[key][b] = {};
        mu.what = "add VIP " + key;
        return mu;
      }
      case 1:  // remove a VIP
        if (m.size() <= 1) continue;
        mu.request = {"DELETE", q("/v1/vips", false), ""};
        mu.after.erase(vip);
        mu.what = "remove VIP " + vip;
        return mu;
      case 2: {  // add a backend (12 per VIP at most)
        if (backends.size() >= 12) continue;
        const std::string b = "198.18.1." + std::to_string(1 + pick(60));
        if (backends.contains(b)) continue;
        const auto weight = static_cast<std::uint32_t>(pick(100));
        mu.request = {"POST", q("/v1/backends", false),
                      R"({"address": ")" + b + R"(", "weight": )" + std::to_string(weight) + "}"};
        mu.after[vip][b] = {weight, false};
        mu.what = "add backend " + b + " to " + vip;
        return mu;
      }
      case 3:  // remove a backend
        if (backends.size() <= 1) continue;
        mu.request = {"DELETE", q("/v1/backends", true), ""};
        mu.after[vip].erase(address);
        mu.what = "remove backend " + address + " of " + vip;
        return mu;
      case 4:
      case 5: {  // set a weight (often, and to a value it does not have)
        const auto weight = static_cast<std::uint32_t>(pick(65536));
        if (weight == backend_it->second.weight) continue;
        mu.request = {"PUT", q("/v1/backends/weight", true),
                      R"({"weight": )" + std::to_string(weight) + "}"};
        mu.after[vip][address].weight = weight;
        mu.what = "weight " + std::to_string(weight) + " for " + address + " of " + vip;
        return mu;
      }
      default: {  // drain or undrain
        const bool drain = !backend_it->second.drained;
        mu.request = {"POST", q(drain ? "/v1/backends/drain" : "/v1/backends/undrain", true), ""};
        mu.after[vip][address].drained = drain;
        mu.what = std::string(drain ? "drain " : "undrain ") + address + " of " + vip;
        return mu;
      }
    }
  }
}

class ControlplaneProcess {
 public:
  ControlplaneProcess(const TempDir& dir, std::string config_path)
      : dir_(dir), config_path_(std::move(config_path)) {}

  // Starts the daemon and waits for its API; false (with the reason in `why`) when it does not
  // come up (e.g. it refused its state file).
  bool start(std::string& why) {
    process_ = std::make_unique<Process>(
        std::vector<std::string>{env_or("SLUICE_CONTROLPLANE", "sluice-controlplane"), "--config",
                                 config_path_},
        dir_.file("daemon.log"));
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (Clock::now() < deadline) {
      if (call("GET", "/v1/status").status == 200) return true;
      if (const int code = process_->wait(ms(1)); code != -1) {
        why = "sluice-controlplane exited with " + std::to_string(code);
        return false;
      }
      std::this_thread::sleep_for(ms(10));
    }
    why = "sluice-controlplane did not answer within 20 s";
    return false;
  }

  ctl::ApiReply call(const std::string& method, const std::string& target,
                     const std::string& body = "") const {
    Result<ctl::ApiReply> r =
        ctl::call_api(api_socket(), {method, target, body}, std::chrono::seconds(10));
    return r.ok() ? r.value() : ctl::ApiReply{};
  }

  [[nodiscard]] Process& process() { return *process_; }
  [[nodiscard]] std::string api_socket() const { return dir_.file("api.sock"); }
  [[nodiscard]] std::string log() const { return read_file(dir_.file("daemon.log")); }

 private:
  const TempDir& dir_;
  std::string config_path_;
  std::unique_ptr<Process> process_;
};

void write_config(const std::string& path, const std::string& state_file,
                  const std::string& api_socket, const std::string& dataplane_socket) {
  std::ofstream(path) << "dataplane:\n  next_hop_mac: \"02:00:00:00:00:fe\"\n"
                      << "  tunnel_source_v4: 198.18.0.1\n"
                      << "vips:\n  - address: 198.18.0.10\n    port: 80\n    protocol: tcp\n"
                      << "    backends:\n      - {address: 198.18.1.1}\n"
                      << "      - {address: 198.18.1.2, weight: 3}\n"
                      << "controlplane:\n  api_socket: " << api_socket
                      << "\n  state_file: " << state_file
                      << "\n  metrics_listen: " << metrics_listen() << "\n"
                      << "dataplanes:\n  - {name: dp1, control_socket: " << dataplane_socket
                      << "}\n";
}

// ---- SIGKILL during mutations, with a real dataplane -----------------------------------------

// A dataplane on two null ports, programmed by the daemon, asked what it runs.
class RealDataplane {
 public:
  explicit RealDataplane(const TempDir& dir)
      : runner_(dir, test_prefix("crashsafe"), null_ports(), {"--no-huge", "-m", "256"}) {}

  void start() {
    ASSERT_TRUE(runner_.start()) << "sluice-dataplane did not open its control socket\n"
                                 << runner_.log();
  }

  // VIP -> backend -> state, as the dataplane's get_counters reports what it runs.
  std::optional<std::map<std::string, std::map<std::string, std::string>>> running() const {
    Result<control::ControlClient> c = control::ControlClient::connect(socket(), ms(1000));
    if (!c.ok()) return std::nullopt;
    Result<control::Counters> counters = c->get_counters();
    if (!counters.ok()) return std::nullopt;
    std::map<std::string, std::map<std::string, std::string>> out;
    for (const control::VipCounters& v : counters->per_vip) {
      auto& backends = out[v.vip];
      for (const control::BackendCounters& b : v.per_backend)
        backends[b.address] = b.state == config::BackendState::up         ? "up"
                              : b.state == config::BackendState::draining ? "draining"
                                                                          : "down";
    }
    return out;
  }

  [[nodiscard]] std::string socket() const { return runner_.socket(); }
  [[nodiscard]] std::string log() const { return runner_.log(); }

 private:
  DataplaneRunner runner_;
};

// Kills the armed daemon with SIGKILL `delay` after arm(), to the microsecond, then disarms.
class Killer {
 public:
  Killer() {
    thread_ = std::thread([this] { run(); });
  }
  ~Killer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  void arm(pid_t pid, std::chrono::microseconds delay) {
    {
      std::lock_guard lock(mutex_);
      pid_ = pid;
      killed_ = false;
      kill_at_ = Clock::now() + delay;
    }
    wake_.notify_all();
  }
  // Whether the armed daemon was killed; disarms.
  bool disarm() {
    std::lock_guard lock(mutex_);
    pid_ = 0;
    return std::exchange(killed_, false);
  }
  [[nodiscard]] int kills() const {
    std::lock_guard lock(mutex_);
    return kills_;
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      if (pid_ <= 0) {
        wake_.wait(lock);
        continue;
      }
      if (wake_.wait_until(lock, kill_at_) != std::cv_status::timeout || pid_ <= 0) continue;
      ::kill(pid_, SIGKILL);
      pid_ = 0;
      killed_ = true;
      ++kills_;
    }
  }

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  pid_t pid_ = 0;
  Clock::time_point kill_at_;
  bool killed_ = false;
  bool stopping_ = false;
  int kills_ = 0;
  std::thread thread_;
};

class CrashSafetyTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::geteuid(), 0u) << "needs root (DPDK, tmpfs mounts)"; }

  // Waits until the dataplane runs `m`; false after `timeout`.
  bool converged(const RealDataplane& dp, const Model& m, ms timeout, std::string& last) {
    const auto want = expected_running(m);
    const auto deadline = Clock::now() + timeout;
    do {
      if (const auto running = dp.running(); running && *running == want) return true;
      std::this_thread::sleep_for(ms(20));
    } while (Clock::now() < deadline);
    last.clear();
    if (const auto running = dp.running()) {
      for (const auto& [vip, backends] : *running) {
        last += vip + ":";
        for (const auto& [a, st] : backends)
          last += " " + a + "=" + st;
        last += "\n";
      }
    }
    return false;
  }

  TempDir dir_;
};

TEST_F(CrashSafetyTest, SigkillDuringAThousandMutationsLosesNoAcknowledgedOne) {
  const std::uint32_t seed =
      std::getenv("SLUICE_CRASH_SEED") != nullptr
          ? static_cast<std::uint32_t>(std::stoul(std::getenv("SLUICE_CRASH_SEED")))
          : std::random_device{}();
  std::printf("seed %u (SLUICE_CRASH_SEED=%u repeats this run)\n", seed, seed);
  const int mutations = std::getenv("SLUICE_CRASH_MUTATIONS") != nullptr
                            ? std::stoi(std::getenv("SLUICE_CRASH_MUTATIONS"))
                            : 1000;
  const auto budget = std::chrono::seconds(300);
  const std::string config = dir_.file("sluice.yaml");
  const std::string state_file = dir_.file("state.yaml");
  RealDataplane dataplane(dir_);
  write_config(config, state_file, dir_.file("api.sock"), dataplane.socket());
  ASSERT_NO_FATAL_FAILURE(dataplane.start());
  ControlplaneProcess daemon(dir_, config);
  std::string why;
  ASSERT_TRUE(daemon.start(why)) << why << "\n" << daemon.log();

  std::mt19937 rng(seed);
  Model acknowledged = model_of(*config::load_yaml_file(config));
  std::string last;
  ASSERT_TRUE(converged(dataplane, acknowledged, ms(10000), last))
      << "want\n"
      << describe(acknowledged) << "running\n"
      << last << dataplane.log();

  // After each (re)start, the killer strikes during the Nth mutation from then (N = 1..20, so
  // about one kill per ten mutations whatever the speed of the build), at a random moment up
  // to twice the mean time of a mutation after it is sent: before the request arrives, while
  // it is parsed, during any step of the save, after it, while the answer is written.
  Killer killer;
  std::uniform_int_distribution<int> mutations_to_kill(1, 20);
  int kill_at = mutations_to_kill(rng);
  double mean_us = 10000;  // of an acknowledged mutation, running mean
  int acked = 0, in_doubt = 0, in_doubt_applied = 0, restarts = 0, lost = 0;
  const auto started = Clock::now();
  for (int i = 0; i < mutations; ++i) {
    ASSERT_LT(Clock::now() - started, budget)
        << "over the time budget after " << i << " mutations, " << killer.kills() << " kills";
    if (--kill_at == 0) {
      std::uniform_int_distribution<long> delay(0, static_cast<long>(2 * mean_us));
      killer.arm(daemon.process().pid(), std::chrono::microseconds(delay(rng)));
    }
    const Mutation mu = random_mutation(acknowledged, rng);
    const auto sent = Clock::now();
    Result<ctl::ApiReply> reply =
        ctl::call_api(daemon.api_socket(), mu.request, std::chrono::seconds(10));
    if (reply.ok() && (reply->status == 200 || reply->status == 201)) {
      acknowledged = mu.after;
      ++acked;
      const auto took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent);
      mean_us += (static_cast<double>(took.count()) - mean_us) / acked;
      continue;
    }
    if (reply.ok()) {
      // Any HTTP answer but success is a failure: the mutation was valid.
      FAIL() << mu.what << ": HTTP " << reply->status << " " << reply->raw_body << "\n"
             << daemon.log();
    }
    // No answer: only because the killer struck.
    ASSERT_TRUE(killer.disarm()) << mu.what << ": " << reply.error().message << " without a kill\n"
                                 << daemon.log();
    ASSERT_NE(daemon.process().stop(SIGKILL, std::chrono::seconds(5)), -1);
    ++in_doubt;

    // The state file loads and holds every acknowledged mutation; the one in flight may be
    // there or not.
    Result<config::State> on_disk = config::load_yaml_file(state_file);
    if (!on_disk.ok() && !std::filesystem::exists(state_file)) {
      on_disk = config::load_yaml_file(config);  // killed before the first save
    }
    ASSERT_TRUE(on_disk.ok()) << "after kill " << killer.kills() << ": " << on_disk.error().message;
    const Model persisted = model_of(*on_disk);
    if (persisted == mu.after) {
      ++in_doubt_applied;
      acknowledged = mu.after;
    } else if (persisted != acknowledged) {
      ++lost;
      FAIL() << "after kill " << killer.kills() << " (" << mu.what << " in flight) the state file "
             << "holds\n"
             << describe(persisted) << "but " << acked << " acknowledged mutations give\n"
             << describe(acknowledged);
    }

    ++restarts;
    ASSERT_TRUE(daemon.start(why)) << why << "\n" << daemon.log();
    const std::optional<Model> served = model_of(daemon.call("GET", "/v1/vips"));
    ASSERT_TRUE(served.has_value());
    ASSERT_EQ(*served, acknowledged) << describe(*served) << "vs\n" << describe(acknowledged);
    ASSERT_TRUE(converged(dataplane, acknowledged, ms(10000), last))
        << "after restart " << restarts << ": want\n"
        << describe(acknowledged) << "running\n"
        << last << daemon.log();
    for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
      ASSERT_EQ(entry.path().filename().string().find("state.yaml.tmp."), std::string::npos)
          << entry.path() << " left behind after the restart";
    }
    kill_at = mutations_to_kill(rng);
  }
  // A kill armed during the last mutation may land after its answer: then nothing asks the
  // dead daemon again, so restart it here (it must push what it acknowledged).
  if (killer.disarm()) {
    ASSERT_NE(daemon.process().stop(SIGKILL, std::chrono::seconds(5)), -1);
    ++restarts;
    ASSERT_TRUE(daemon.start(why)) << why << "\n" << daemon.log();
  }

  // Without a kill: the dataplane runs the last acknowledged state, and so does a restart.
  std::string last_running;
  EXPECT_TRUE(converged(dataplane, acknowledged, ms(10000), last_running))
      << describe(acknowledged) << "running\n"
      << last_running;
  const std::string log = daemon.log();
  std::size_t stale = 0;
  for (std::size_t p = 0;
       (p = log.find("left by a process killed while saving", p)) != std::string::npos; ++p)
    ++stale;
  const auto seconds = std::chrono::duration_cast<ms>(Clock::now() - started).count() / 1000.0;
  std::printf(
      "%d mutations in %.1f s (%.1f ms each): %d kills, %d restarts, %d acknowledged, %d in "
      "flight at a kill (%d of them persisted), %d lost; %zu stale temporary files removed at "
      "start; %zu VIPs, dataplane converged after every restart\n",
      mutations, seconds, mean_us / 1000, killer.kills(), restarts, acked, in_doubt,
      in_doubt_applied, lost, stale, acknowledged.size());
  EXPECT_EQ(lost, 0);
  EXPECT_GT(killer.kills(), mutations / 50) << "too few kills to mean anything";
}

// ---- A full disk ---------------------------------------------------------------------------

// A tmpfs of its own, in a mount namespace of this test process (and of the daemons it starts),
// so it disappears with them even when the test dies; unmounted at the end anyway.
class SmallTmpfs {
 public:
  SmallTmpfs(const std::string& path, const std::string& options) : path_(path) {
    if (::unshare(CLONE_NEWNS) != 0) {
      error_ = std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
      return;
    }
    // Nothing mounted here propagates back to the host's mount namespace.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      error_ = std::string("make / private: ") + std::strerror(errno);
      return;
    }
    ::mkdir(path_.c_str(), 0755);
    if (::mount("sluice-test", path_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) !=
        0) {
      error_ = "mount tmpfs " + options + " on " + path_ + ": " + std::strerror(errno);
      return;
    }
    mounted_ = true;
  }
  ~SmallTmpfs() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  SmallTmpfs(const SmallTmpfs&) = delete;
  SmallTmpfs& operator=(const SmallTmpfs&) = delete;

  [[nodiscard]] bool ok() const { return mounted_; }
  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  std::string path_;
  std::string error_;
  bool mounted_ = false;
};

// Fills the file system holding `dir`: filler files until ENOSPC, leaving `room` bytes free
// (rounded down to pages); then, when `inodes` is set, empty files until no inode is left.
void fill(const std::string& dir, std::size_t room, bool inodes) {
  const std::string block(4096, 'f');
  for (int i = 0;; ++i) {
    struct statvfs st {};
    ::statvfs(dir.c_str(), &st);
    const std::size_t free_bytes = st.f_bavail * st.f_frsize;
    if (free_bytes <= room) break;
    std::FILE* f = std::fopen((dir + "/filler" + std::to_string(i)).c_str(), "w");
    if (f == nullptr) break;
    std::size_t left = free_bytes - room;
    while (left >= block.size() && std::fwrite(block.data(), 1, block.size(), f) == block.size())
      left -= block.size();
    std::fclose(f);
    if (left < block.size()) break;
  }
  if (!inodes) return;
  for (int i = 0;; ++i) {
    std::FILE* f = std::fopen((dir + "/inode" + std::to_string(i)).c_str(), "w");
    if (f == nullptr) break;
    std::fclose(f);
  }
}

void unfill(const std::string& dir) {
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("filler") || name.starts_with("inode")) std::filesystem::remove(e.path());
  }
}

TEST_F(CrashSafetyTest, AFullDiskRefusesMutationsChangesNothingAndReadsGoOn) {
  const std::string mount_point = dir_.file("small");
  SmallTmpfs tmpfs(mount_point, "size=512k,nr_inodes=64,mode=0755");
  ASSERT_TRUE(tmpfs.ok()) << tmpfs.error();
  const std::string state_file = mount_point + "/state.yaml";
  const std::string config = dir_.file("sluice.yaml");
  FakeDataplane dataplane(dir_.file("dp1.sock"));
  write_config(config, state_file, dir_.file("api.sock"), dir_.file("dp1.sock"));
  ControlplaneProcess daemon(dir_, config);
  std::string why;
  ASSERT_TRUE(daemon.start(why)) << why << "\n" << daemon.log();
  const std::string sluicectl =
      env_or("SLUICECTL", "sluicectl") + " --socket " + daemon.api_socket() + " ";
  const std::string vip = "198.18.0.10:80/tcp";
  // A first change, so the state file exists and is larger than a page.
  ASSERT_EQ(capture(sluicectl + "backend add " + vip + " 198.18.1.3 --weight 5").code, 0);
  // ... and a VIP with 150 backends: a state file of several pages.
  std::string many;
  for (int i = 0; i < 150; ++i)
    many +=
        std::string(i == 0 ? "" : ", ") + R"({"address": "198.18.2.)" + std::to_string(i) + R"("})";
  const ctl::ApiReply added = daemon.call(
      "POST", "/v1/vips",
      R"({"address": "198.18.0.11", "port": 80, "protocol": "tcp", "backends": [)" + many + "]}");
  ASSERT_EQ(added.status, 201u) << added.raw_body;
  ASSERT_GT(std::filesystem::file_size(state_file), 2 * 4096u);

  struct Case {
    const char* name;
    std::size_t room;  // bytes left free
    bool inodes;       // no inode left either
  };
  int weight = 10;
  for (const Case& c :
       {Case{"no byte free", 0, false}, Case{"one page free: a partial write", 4096, false},
        Case{"no inode free", 64 * 1024, true}}) {
    SCOPED_TRACE(c.name);
    fill(mount_point, c.room, c.inodes);
    const std::string file_before = read_file(state_file);
    const ctl::ApiReply vips_before = daemon.call("GET", "/v1/vips");
    const ctl::ApiReply status_before = daemon.call("GET", "/v1/status");
    // The push of the last accepted change is asynchronous: count pushes only once the
    // dataplane runs the daemon's generation, so a late one is not taken for a refused change's.
    const std::uint64_t generation = status_before.body.value("generation", std::uint64_t{0});
    const auto settle_deadline = Clock::now() + ms(10000);
    while (dataplane.generation() < generation && Clock::now() < settle_deadline) {
      std::this_thread::sleep_for(ms(10));
    }
    ASSERT_EQ(dataplane.generation(), generation);
    const std::size_t pushes_before = dataplane.pushes().size();

    // Refused over the API (HTTP 500) and by sluicectl (exit 6), naming the file and the cause.
    const ctl::ApiReply refused = daemon.call(
        "PUT", ctl::with_query("/v1/backends/weight", {{"vip", vip}, {"address", "198.18.1.3"}}),
        R"({"weight": )" + std::to_string(++weight) + "}");
    EXPECT_EQ(refused.status, 500u) << refused.raw_body;
    const std::string error = refused.body.value("error", "");
    EXPECT_NE(error.find("state file " + state_file + " could not be written"), std::string::npos)
        << error;
    EXPECT_NE(error.find("No space left on device"), std::string::npos) << error;
    EXPECT_NE(error.find("nothing was changed"), std::string::npos) << error;
    std::printf("%s: HTTP %u %s\n", c.name, refused.status, error.c_str());
    const Output cli = capture(sluicectl + "backend drain " + vip + " 198.18.1.1");
    EXPECT_EQ(cli.code, 6) << cli.text;
    EXPECT_NE(cli.text.find(state_file), std::string::npos) << cli.text;
    std::printf("%s: sluicectl exit %d: %s", c.name, cli.code, cli.text.c_str());

    // Nothing changed: not in memory, not on disk, not pushed; no temporary file left.
    EXPECT_EQ(read_file(state_file), file_before);
    const ctl::ApiReply vips_after = daemon.call("GET", "/v1/vips");
    EXPECT_EQ(vips_after.body["vips"], vips_before.body["vips"]);
    EXPECT_EQ(daemon.call("GET", "/v1/status").body["generation"],
              status_before.body["generation"]);
    std::this_thread::sleep_for(ms(200));
    EXPECT_EQ(dataplane.pushes().size(), pushes_before);
    for (const auto& e : std::filesystem::directory_iterator(mount_point)) {
      EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
    }

    // Reads are still served.
    EXPECT_EQ(daemon.call("GET", "/v1/status").status, 200u);
    EXPECT_EQ(daemon.call("GET", "/v1/stats").status, 200u);
    EXPECT_EQ(capture(sluicectl + "status").code, 0);
    EXPECT_EQ(capture(sluicectl + "stats").code, 0);
    EXPECT_EQ(capture(sluicectl + "health").code, 0);

    // Room again: the next change is accepted and persisted.
    unfill(mount_point);
    const Output accepted =
        capture(sluicectl + "backend weight " + vip + " 198.18.1.3 " + std::to_string(++weight));
    EXPECT_EQ(accepted.code, 0) << accepted.text;
    Result<config::State> on_disk = config::load_yaml_file(state_file);
    ASSERT_TRUE(on_disk.ok()) << on_disk.error().message;
    EXPECT_NE(read_file(state_file).find("weight: " + std::to_string(weight)), std::string::npos);
  }
  EXPECT_EQ(daemon.process().stop(SIGTERM), 0) << daemon.log();
}

}  // namespace
}  // namespace sluice::cp::testing

// The real sluice-dataplane (DPDK on vdevs: net_pcap infinite_rx into net_null) and the real
// sluice-controlplane as plain processes, without network namespaces: the VIPs have no health
// checks, so nothing is probed, and Prometheus listens on a free loopback port nobody scrapes.
// Optionally the dataplane runs on 2 MiB hugepages the test reserves and releases itself.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "harness/process.hpp"
#include "sluice/control/client.hpp"
#include "sluicectl/api_client.hpp"
#include "temp_dir.hpp"

namespace sluice::cp::testing {

using ms = std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

inline long long ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<ms>(Clock::now() - t).count();
}

// A DPDK file prefix of this test run: SLUICE_TEST_TAG (optional) goes in, so that runs sharing
// a machine can tell theirs apart; "sl" first for tools/cleanup-leftovers.
inline std::string test_prefix(const std::string& name) {
  const std::string tag = env_or("SLUICE_TEST_TAG", "");
  return "sl-" + (tag.empty() ? "" : tag + "-") + name + "-" + std::to_string(::getpid());
}

// A loopback TCP port nobody listens on now (for the control plane's Prometheus listener).
inline int free_loopback_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(s);
  return port;
}

// `pages` more 2 MiB hugepages and a private hugetlbfs mount, both undone on destruction
// (the count is lowered by what was added, so other users' pages are left alone).
class Hugepages {
 public:
  static constexpr const char* kSysfs = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages";

  // nullptr (and `why`) when the machine cannot give them.
  static std::unique_ptr<Hugepages> reserve(std::size_t pages, const std::string& mount_point,
                                            std::string& why) {
    auto h = std::unique_ptr<Hugepages>(new Hugepages(mount_point));
    const std::optional<std::size_t> before = read_count();
    if (!before) {
      why = std::string("cannot read ") + kSysfs;
      return nullptr;
    }
    if (!write_count(*before + pages)) {
      why = std::string("cannot write ") + kSysfs;
      return nullptr;
    }
    h->added_ = read_count().value_or(*before) - *before;
    if (h->added_ < pages) {
      why = "only " + std::to_string(h->added_) + " of " + std::to_string(pages) +
            " hugepages could be reserved";
      return nullptr;  // the destructor gives back what was added
    }
    std::filesystem::create_directories(mount_point);
    if (::mount("nodev", mount_point.c_str(), "hugetlbfs", 0, "pagesize=2M") != 0) {
      why = "cannot mount hugetlbfs on " + mount_point + ": " + std::strerror(errno);
      return nullptr;
    }
    h->mounted_ = true;
    return h;
  }

  ~Hugepages() {
    if (mounted_) {
      for (const auto& f : std::filesystem::directory_iterator(mount_point_)) {
        std::filesystem::remove(f.path());  // whatever a failed test left
      }
      ::umount(mount_point_.c_str());
      std::filesystem::remove(mount_point_);
    }
    if (added_ > 0) {
      const std::size_t now = read_count().value_or(added_);
      write_count(now > added_ ? now - added_ : 0);
    }
  }

  [[nodiscard]] const std::string& dir() const { return mount_point_; }

  // Hugepage files of `prefix` in the mount, by name.
  [[nodiscard]] std::vector<std::string> files(const std::string& prefix) const {
    std::vector<std::string> out;
    for (const auto& f : std::filesystem::directory_iterator(mount_point_)) {
      const std::string name = f.path().filename().string();
      if (name.starts_with(prefix + "map_")) out.push_back(name);
    }
    return out;
  }
  [[nodiscard]] static std::size_t free_pages() {
    std::ifstream in("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");
    std::size_t n = 0;
    in >> n;
    return n;
  }

 private:
  explicit Hugepages(std::string mount_point) : mount_point_(std::move(mount_point)) {}
  static std::optional<std::size_t> read_count() {
    std::ifstream in(kSysfs);
    std::size_t n = 0;
    if (!(in >> n)) return std::nullopt;
    return n;
  }
  static bool write_count(std::size_t n) {
    std::ofstream out(kSysfs);
    out << n;
    out.flush();
    return static_cast<bool>(out);
  }

  std::string mount_point_;
  std::size_t added_ = 0;
  bool mounted_ = false;
};

// The dataplane's two ports: a pcap replayed forever (infinite_rx) in, net_null out.
inline std::vector<std::string> pcap_ports(const std::string& pcap) {
  return {"net_pcap0,rx_pcap=" + pcap + ",infinite_rx=1", "net_null0,no-rx=1"};
}
// Two net_null ports: a dataplane that is programmed but receives nothing.
inline std::vector<std::string> null_ports() {
  return {"net_null0,no-rx=1", "net_null1,no-rx=1"};
}

// sluice-dataplane on `ports` (vdevs; port 1 transmits), -l 0-1 --main-lcore 0.
class DataplaneRunner {
 public:
  DataplaneRunner(const TempDir& dir, std::string prefix, std::vector<std::string> ports,
                  std::vector<std::string> memory_args, std::vector<std::string> app_args = {})
      : dir_(dir),
        prefix_(std::move(prefix)),
        ports_(std::move(ports)),
        memory_args_(std::move(memory_args)),
        app_args_(std::move(app_args)) {}
  ~DataplaneRunner() {
    stop(SIGTERM);
    std::filesystem::remove_all("/var/run/dpdk/" + prefix_);  // after a failed test
  }

  // Starts it and waits until its control socket answers; false on a timeout.
  bool start() {
    std::vector<std::string> argv{env_or("SLUICE_DATAPLANE", "sluice-dataplane"),
                                  "-l",
                                  "0-1",
                                  "--main-lcore",
                                  "0",
                                  "--no-pci",
                                  "--file-prefix",
                                  prefix_,
                                  "--log-level",
                                  "lib.eal:warning"};
    argv.insert(argv.end(), memory_args_.begin(), memory_args_.end());
    for (const std::string& v : ports_) {
      argv.push_back("--vdev");
      argv.push_back(v);
    }
    for (const std::string& a :
         {std::string("--"), std::string("--control-socket"), socket(), std::string("--tx-port"),
          std::string("1"), std::string("--mbufs"), std::string("16383")}) {
      argv.push_back(a);
    }
    argv.insert(argv.end(), app_args_.begin(), app_args_.end());
    process_ = std::make_unique<Process>(argv, dir_.file("dataplane.log"));
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < deadline) {
      if (control::ControlClient::connect(socket(), ms(200)).ok()) return true;
      std::this_thread::sleep_for(ms(10));
    }
    return false;
  }

  int stop(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    if (!process_) return -1;
    const int code = process_->stop(sig, timeout);
    process_.reset();
    return code;
  }

  [[nodiscard]] control::DataplaneStatus status() const {
    auto c = control::ControlClient::connect(socket(), ms(1000));
    if (!c.ok()) return {};
    auto s = c->get_status();
    return s.ok() ? s.value() : control::DataplaneStatus{};
  }

  [[nodiscard]] std::uint64_t vip_packets(const std::string& vip) const {
    auto c = control::ControlClient::connect(socket(), ms(1000));
    if (!c.ok()) return 0;
    auto counters = c->get_counters();
    if (!counters.ok()) return 0;
    for (const auto& v : counters->per_vip) {
      if (v.vip == vip) return v.packets;
    }
    return 0;
  }

  // One request on a fresh connection; the reply ({"ok": ...}), or an empty object.
  [[nodiscard]] nlohmann::json request(const nlohmann::json& request) const {
    auto c = control::ControlClient::connect(socket(), ms(1000));
    if (!c.ok()) return nlohmann::json::object();
    auto reply = c->request(request, std::chrono::seconds(60));
    if (reply.ok()) return reply.value();
    return control::error_reply(reply.error().message);
  }

  [[nodiscard]] std::string socket() const { return dir_.file("dataplane.sock"); }
  [[nodiscard]] const std::string& prefix() const { return prefix_; }
  [[nodiscard]] std::string runtime_dir() const { return "/var/run/dpdk/" + prefix_; }
  [[nodiscard]] std::string log() const { return read_file(dir_.file("dataplane.log")); }
  [[nodiscard]] bool running() const { return process_ != nullptr; }

 private:
  const TempDir& dir_;
  std::string prefix_;
  std::vector<std::string> ports_;
  std::vector<std::string> memory_args_;
  std::vector<std::string> app_args_;
  std::unique_ptr<Process> process_;
};

// sluice-controlplane with one dataplane, `vips` (YAML list items under "vips:").
class ControlPlaneRunner {
 public:
  ControlPlaneRunner(const TempDir& dir, std::string dataplane_socket)
      : dir_(dir), dataplane_socket_(std::move(dataplane_socket)) {}
  ~ControlPlaneRunner() { stop(SIGTERM); }

  bool start(const std::string& vips) {
    std::ofstream(dir_.file("sluice.yaml"))
        << "dataplane:\n  next_hop_mac: \"02:00:00:00:00:fe\"\n  tunnel_source_v4: 198.18.0.1\n"
        << "vips:\n"
        << vips << "controlplane:\n  api_socket: " << api_socket()
        << "\n  state_file: " << dir_.file("state.yaml")
        << "\n  metrics_listen: 127.0.0.1:" << free_loopback_port() << "\n"
        << "dataplanes:\n  - {name: dp1, control_socket: " << dataplane_socket_ << "}\n";
    process_ = std::make_unique<Process>(
        std::vector<std::string>{env_or("SLUICE_CONTROLPLANE", "sluice-controlplane"), "--config",
                                 dir_.file("sluice.yaml"), "--log-level", "debug"},
        dir_.file("controlplane.log"));
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
      if (api("GET", "/v1/status").status == 200) return true;
      std::this_thread::sleep_for(ms(50));
    }
    return false;
  }

  int stop(int sig) {
    if (!process_) return -1;
    const int code = process_->stop(sig);
    process_.reset();
    return code;
  }

  ctl::ApiReply api(const std::string& method, const std::string& target,
                    const std::string& body = "") const {
    auto r = ctl::call_api(api_socket(), {method, target, body}, std::chrono::seconds(5));
    return r.ok() ? r.value() : ctl::ApiReply{};
  }
  // The dataplane's entry of GET /v1/status ({} when there is none).
  [[nodiscard]] nlohmann::json dataplane_report() const {
    const ctl::ApiReply r = api("GET", "/v1/status");
    if (r.status != 200 || !r.body.contains("dataplanes") || r.body["dataplanes"].empty()) {
      return nlohmann::json::object();
    }
    return r.body["dataplanes"][0];
  }

  [[nodiscard]] std::string api_socket() const { return dir_.file("api.sock"); }
  [[nodiscard]] std::string log() const { return read_file(dir_.file("controlplane.log")); }

 private:
  const TempDir& dir_;
  std::string dataplane_socket_;
  std::unique_ptr<Process> process_;
};

// Polls `predicate` every 10 ms until it holds or `timeout` passes.
template <typename Predicate>
bool eventually(Predicate&& predicate, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(ms(10));
  }
  return predicate();
}

}  // namespace sluice::cp::testing

// The real sluice-controlplane in this network namespace, for tests of its API socket that
// need no backend: every socket in a temporary directory, metrics on a free 127.0.0.1 port, a
// FakeDataplane, VIPs without health checks (nothing is probed, no packet leaves the host).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness/fake_dataplane.hpp"
#include "harness/process.hpp"
#include "local_servers.hpp"
#include "sluicectl/api_client.hpp"
#include "temp_dir.hpp"

namespace sluice::cp::testing {

class LocalDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override { dataplane_ = std::make_unique<FakeDataplane>(dir_.file("dp1.sock")); }

  // `controlplane` is added under "controlplane:" (two-space indented keys).
  void write_config(const std::string& controlplane = "") {
    metrics_port_ = unused_port();
    std::ofstream(config_path()) << "dataplane:\n  next_hop_mac: \"02:00:00:00:00:fe\"\n"
                                 << "  tunnel_source_v4: 198.18.0.1\n"
                                 << "vips:\n"
                                 << "  - address: 198.18.0.10\n    port: 80\n    protocol: tcp\n"
                                 << "    backends:\n      - {address: 198.18.1.1}\n"
                                 << "      - {address: 198.18.1.2, weight: 2}\n"
                                 << "controlplane:\n  api_socket: " << api_socket()
                                 << "\n  state_file: " << state_file()
                                 << "\n  metrics_listen: 127.0.0.1:" << metrics_port_ << "\n"
                                 << controlplane << "dataplanes:\n  - {name: dp1, control_socket: "
                                 << dir_.file("dp1.sock") << "}\n";
  }

  // Starts the daemon (with RLIMIT_NOFILE lowered to `max_descriptors` when non-zero) and
  // waits until its API answers.
  void start_daemon(const std::vector<std::string>& extra_args = {}, int max_descriptors = 0) {
    std::vector<std::string> argv;
    if (max_descriptors > 0) {
      argv = {"/usr/bin/prlimit",
              "--nofile=" + std::to_string(max_descriptors) + ":" + std::to_string(max_descriptors),
              "--"};
    }
    for (const std::string& a :
         {env_or("SLUICE_CONTROLPLANE", "sluice-controlplane"), std::string("--config"),
          config_path(), std::string("--log-level"), std::string("debug")})
      argv.push_back(a);
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    daemon_ = std::make_unique<Process>(argv, dir_.file("daemon.log"));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (api("GET", "/v1/status").status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "the daemon did not answer on " << api_socket() << "\n" << daemon_->log();
  }

  ctl::ApiReply api(const std::string& method, const std::string& target,
                    const std::string& body = "") {
    Result<ctl::ApiReply> r =
        ctl::call_api(api_socket(), {method, target, body}, std::chrono::seconds(5));
    return r.ok() ? r.value() : ctl::ApiReply{};
  }

  // sluicectl with the test's socket; stdout and stderr together.
  Output sluicectl(const std::string& args) {
    return capture(env_or("SLUICECTL", "sluicectl") + " --socket " + api_socket() + " " + args);
  }

  // CPU seconds the daemon has used (user + system), from /proc.
  [[nodiscard]] double daemon_cpu_seconds() const {
    std::ifstream in("/proc/" + std::to_string(daemon_->pid()) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::size_t close = text.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    double ticks = 0;
    for (int i = 3; fields >> field; ++i) {  // field 3 is the state; 14 utime, 15 stime
      if (i == 14 || i == 15) ticks += std::stod(field);
      if (i == 15) break;
    }
    return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }

  // Descriptors the daemon holds now.
  [[nodiscard]] std::size_t daemon_descriptors() const {
    std::size_t n = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(
             "/proc/" + std::to_string(daemon_->pid()) + "/fd", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
      ++n;
    return n;
  }

  // Lines of the daemon's log that contain `needle`.
  [[nodiscard]] std::size_t log_lines_with(const std::string& needle) const {
    const std::string log = daemon_->log();
    std::size_t count = 0;
    for (std::size_t pos = log.find(needle); pos != std::string::npos;
         pos = log.find(needle, pos + 1))
      ++count;
    return count;
  }

  std::string config_path() const { return dir_.file("sluice.yaml"); }
  std::string api_socket() const { return dir_.file("api.sock"); }
  std::string state_file() const { return dir_.file("state.yaml"); }

  TempDir dir_;
  std::uint16_t metrics_port_ = 0;
  std::unique_ptr<FakeDataplane> dataplane_;
  std::unique_ptr<Process> daemon_;  // declared last: stopped first
};

}  // namespace sluice::cp::testing

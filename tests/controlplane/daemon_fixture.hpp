// The real sluice-controlplane in a network namespace, real backends (python3) in another,
// and a FakeDataplane on a Unix socket recording every pushed state.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "harness/fake_dataplane.hpp"
#include "harness/netns.hpp"
#include "harness/process.hpp"
#include "sluice/config/names.hpp"
#include "sluicectl/api_client.hpp"
#include "temp_dir.hpp"

namespace sluice::cp::testing {

class DaemonTest : public ::testing::Test {
 protected:
  DaemonTest() : net_({"198.18.1.1", "198.18.1.2", "198.18.1.3"}) {}

  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "needs root (network namespaces)";
    ASSERT_TRUE(net_.ok()) << "could not create the test namespaces";
    dataplane_ = std::make_unique<FakeDataplane>(dir_.file("dp1.sock"));
  }

  // Writes the config: `vips` is the YAML list under "vips:".
  void write_config(const std::string& vips) { write_config(vips, dir_.file("dp1.sock")); }
  void write_config(const std::string& vips, const std::string& dataplane_socket) {
    std::ofstream(config_path()) << "dataplane:\n  next_hop_mac: \"02:00:00:00:00:fe\"\n"
                                 << "  tunnel_source_v4: 198.18.0.1\n"
                                 << "vips:\n"
                                 << vips << "controlplane:\n  api_socket: " << api_socket()
                                 << "\n  state_file: " << state_file()
                                 << "\n  metrics_listen: 127.0.0.1:9780\n"
                                 << "dataplanes:\n  - {name: dp1, control_socket: "
                                 << dataplane_socket << "}\n";
  }

  void start_daemon() {
    daemon_ = std::make_unique<Process>(
        BackendNetwork::in(net_.client_ns(), {env_or("SLUICE_CONTROLPLANE", "sluice-controlplane"),
                                              "--config", config_path(), "--log-level", "debug"}),
        dir_.file("daemon.log"));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (api("GET", "/v1/status").status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "the daemon did not answer on " << api_socket() << "\n" << daemon_->log();
  }

  // A python3 backend in the backend namespace.
  Process& start_backend(const std::string& mode, const std::string& address, int port,
                         const std::string& body = "ok") {
    backends_.push_back(std::make_unique<Process>(
        BackendNetwork::in(net_.backend_ns(),
                           {"/usr/bin/python3", env_or("SLUICE_TEST_BACKEND", "backend_server.py"),
                            "--mode", mode, "--bind", address, "--port", std::to_string(port),
                            "--body", body, "--lifetime", "120"}),
        dir_.file("backend-" + address + "-" + std::to_string(port) + ".log")));
    return *backends_.back();
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

  // Waits until every checked backend has been probed successfully at least once.
  bool wait_all_healthy_and_checked(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      const ctl::ApiReply r = api("GET", "/v1/health");
      bool all = r.status == 200;
      for (const auto& b : r.body["backends"]) {
        all = all && b["health"] == "up" && b.contains("last") && b["last"].is_object() &&
              b["last"]["success"] == true;
      }
      if (all) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::string config_path() const { return dir_.file("sluice.yaml"); }
  std::string api_socket() const { return dir_.file("api.sock"); }
  std::string state_file() const { return dir_.file("state.yaml"); }

  TempDir dir_;
  BackendNetwork net_;
  std::unique_ptr<FakeDataplane> dataplane_;
  std::vector<std::unique_ptr<Process>> backends_;
  std::unique_ptr<Process> daemon_;  // declared last: stopped first
};

// A pushed VIP's backends with their pushed state and effective weight: "198.18.1.1 up/1".
inline std::vector<std::string> pushed_backends(const config::State& s, std::size_t vip = 0) {
  std::vector<std::string> out;
  if (vip >= s.vips.size()) return out;
  for (const auto& b : s.vips[vip].backends) {
    out.push_back(b.address.to_string() + " " +
                  std::string(config::to_string(config::pushed_state(b))) + "/" +
                  std::to_string(config::scheduling_weight(b)));
  }
  return out;
}

// Whether the pushed VIP has the backend in that state.
inline bool backend_is(const config::State& s, const std::string& address,
                       config::BackendState state, std::size_t vip = 0) {
  if (vip >= s.vips.size()) return false;
  for (const auto& b : s.vips[vip].backends) {
    if (b.address.to_string() == address) return config::pushed_state(b) == state;
  }
  return false;
}

}  // namespace sluice::cp::testing

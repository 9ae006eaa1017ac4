// One real etcd member (Debian etcd 3.4, /usr/bin/etcd) on 127.0.0.1 with free ports and its
// data in a directory under /run, for the control plane's etcd tests.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "etcd/etcd_client.hpp"
#include "harness/process.hpp"
#include "local_servers.hpp"

namespace sluice::cp::testing {

inline constexpr const char* kKey = "/sluice-test/state";

// A directory under /run (tmpfs: etcd's fsyncs cost nothing), removed at the end.
class RunDir {
 public:
  RunDir() {
    std::string pattern = "/run/sl-etcd-test-XXXXXX";
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~RunDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  [[nodiscard]] std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// One etcd member on 127.0.0.1; kill() and start() keep its data and ports.
class Etcd {
 public:
  explicit Etcd(const RunDir& dir)
      : data_(dir.file("etcd-data")), log_(dir.file("etcd.log")), client_port_(unused_port()) {
    do {
      peer_port_ = unused_port();
    } while (peer_port_ == client_port_);
    EtcdClientOptions options;
    options.endpoints.push_back(parse_etcd_endpoint(url()).value());
    client_ = std::make_unique<EtcdClient>(std::move(options));
  }

  void start() {
    const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
    process_ = std::make_unique<Process>(
        std::vector<std::string>{"/usr/bin/etcd", "--name", "sl-etcd-test", "--data-dir", data_,
                                 "--listen-client-urls", url(), "--advertise-client-urls", url(),
                                 "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                                 "--initial-cluster", "sl-etcd-test=" + peer, "--logger", "zap",
                                 "--log-level", "warn"},
        log_);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (client_->get("/sluice-test/ping", std::chrono::milliseconds(500)).ok()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "etcd did not answer on " << url() << "\n" << process_->log();
  }
  void kill() { process_.reset(); }

  [[nodiscard]] std::string url() const {
    return "http://127.0.0.1:" + std::to_string(client_port_);
  }
  [[nodiscard]] std::uint16_t port() const { return client_port_; }
  EtcdClient& client() { return *client_; }

  EtcdValue get() {
    Result<EtcdValue> v = client_->get(kKey, std::chrono::milliseconds(2000));
    EXPECT_TRUE(v.ok()) << v.error().message;
    return v.ok() ? v.value() : EtcdValue{};
  }
  // A plain put, as an operator's `etcdctl put` would do.
  std::uint64_t put(const std::string& value) {
    Result<nlohmann::json> r = client_->post(
        "/v3/kv/put", nlohmann::json{{"key", base64_encode(kKey)}, {"value", base64_encode(value)}},
        std::chrono::milliseconds(2000));
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? std::stoull(r.value()["header"]["revision"].get<std::string>()) : 0;
  }

 private:
  std::string data_;
  std::string log_;
  std::uint16_t client_port_;
  std::uint16_t peer_port_ = 0;
  std::unique_ptr<EtcdClient> client_;
  std::unique_ptr<Process> process_;
};

}  // namespace sluice::cp::testing

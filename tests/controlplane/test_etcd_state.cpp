// The tier's shared desired state in a REAL etcd (Debian etcd 3.4, /usr/bin/etcd on 127.0.0.1
// with free ports and its data in /run): two real sluice-controlplane processes, each with its
// own fake dataplane socket, against one etcd (docs/tier.md, "Shared state in etcd").
// No network namespace: nothing but loopback TCP and Unix sockets; no VIP is health-checked.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dataplanes/dataplane_sync.hpp"
#include "etcd/etcd_client.hpp"
#include "harness/etcd_member.hpp"
#include "harness/fake_dataplane.hpp"
#include "harness/process.hpp"
#include "local_servers.hpp"
#include "real_processes.hpp"
#include "sluice/config/yaml.hpp"
#include "sluicectl/api_client.hpp"
#include "state/shared_document.hpp"

namespace sluice::cp::testing {
namespace {

using ms = std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

// A loopback TCP proxy in front of etcd that can hold back what etcd sends on watch streams
// (not on reads or transactions): a control plane whose watch lags, so that its next change is
// based on a revision that is no longer the latest. Released bytes arrive in order.
class WatchHoldingProxy {
 public:
  explicit WatchHoldingProxy(std::uint16_t to_port) : to_port_(to_port) {
    listen_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_, 16);
    ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~WatchHoldingProxy() {
    running_ = false;
    acceptor_.join();
    for (std::thread& t : pumps_)
      t.join();
    ::close(listen_);
  }
  void hold_watch(bool hold) { hold_ = hold; }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  void accept_loop() {
    while (running_) {
      pollfd p{listen_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int client = ::accept(listen_, nullptr, nullptr);
      if (client < 0) continue;
      const int server = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(to_port_);
      if (::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(server);
        ::close(client);
        continue;
      }
      pumps_.emplace_back([this, client, server] { pump(client, server); });
    }
  }

  void pump(int client, int server) {
    bool watch = false;
    bool first = true;
    std::string held;
    char buffer[65536];
    while (running_) {
      if (!held.empty() && !hold_) {
        if (::send(client, held.data(), held.size(), MSG_NOSIGNAL) < 0) break;
        held.clear();
      }
      pollfd p[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (::poll(p, 2, 20) <= 0) continue;
      if (p[0].revents != 0) {
        const ssize_t n = ::recv(client, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        if (first) watch = std::string_view(buffer, n).starts_with("POST /v3/watch");
        first = false;
        if (::send(server, buffer, n, MSG_NOSIGNAL) < 0) break;
      }
      if (p[1].revents != 0) {
        const ssize_t n = ::recv(server, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        if (watch && (hold_ || !held.empty())) {
          held.append(buffer, n);
        } else if (::send(client, buffer, n, MSG_NOSIGNAL) < 0) {
          break;
        }
      }
    }
    ::close(client);
    ::close(server);
  }

  std::uint16_t to_port_;
  int listen_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> running_{true};
  std::atomic<bool> hold_{false};
  std::thread acceptor_;
  std::vector<std::thread> pumps_;
};

// One LB host's control plane: its own config (host settings, seed VIPs), API socket and fake
// dataplane.
class Host {
 public:
  // `dataplane_socket` empty: a fake dataplane of its own; else that (real) one.
  Host(const RunDir& dir, std::string name, std::string dataplane_socket = "")
      : name_(std::move(name)),
        dir_(dir),
        dataplane_socket_(dataplane_socket.empty() ? dir.file(name_ + "-dp.sock")
                                                   : std::move(dataplane_socket)) {
    if (dataplane_socket_ == dir.file(name_ + "-dp.sock")) {
      dataplane_ = std::make_unique<FakeDataplane>(dataplane_socket_);
    }
  }

  void write_config(const std::vector<std::string>& endpoints, const std::string& seed_vip) {
    std::string list;
    for (const std::string& e : endpoints)
      list += (list.empty() ? "" : ", ") + ("\"" + e + "\"");
    std::ofstream(config()) << "dataplane:\n  next_hop_mac: \"02:00:00:00:00:fe\"\n"
                            << "  tunnel_source_v4: 198.18.0.1\n"
                            << "vips:\n"
                            << "  - address: " << seed_vip << "\n    port: 80\n    protocol: tcp\n"
                            << "    backends:\n      - {address: 198.18.1.1}\n"
                            << "      - {address: 198.18.1.2, weight: 2}\n"
                            << "controlplane:\n  host_name: " << name_
                            << "\n  state_store: etcd\n  etcd:\n    endpoints: [" << list
                            << "]\n    prefix: /sluice-test/\n  api_socket: " << socket()
                            << "\n  state_file: " << dir_.file(name_ + "-state.yaml")
                            << "\n  metrics_listen: 127.0.0.1:" << unused_port() << "\n"
                            << "dataplanes:\n  - {name: " << name_
                            << "-dp, control_socket: " << dataplane_socket_ << "}\n";
  }

  // Starts the daemon and waits for its API (or for its exit, returned; -1 while running).
  int start(bool expect_api = true) {
    daemon_ = std::make_unique<Process>(
        std::vector<std::string>{env_or("SLUICE_CONTROLPLANE", "sluice-controlplane"), "--config",
                                 config(), "--log-level", "debug"},
        dir_.file(name_ + ".log"));
    const auto deadline = Clock::now() + std::chrono::seconds(15);
    while (Clock::now() < deadline) {
      if (expect_api && api("GET", "/v1/status").status == 200) return -1;
      if (!expect_api) {
        const int code = daemon_->wait(ms(100));
        if (code >= 0) return code;
      }
      std::this_thread::sleep_for(ms(50));
    }
    ADD_FAILURE() << name_ << " did not answer\n" << daemon_->log();
    return -1;
  }

  ctl::ApiReply api(const std::string& method, const std::string& target,
                    const std::string& body = "") {
    Result<ctl::ApiReply> r = ctl::call_api(socket(), {method, target, body}, ms(5000));
    return r.ok() ? r.value() : ctl::ApiReply{};
  }
  json status() { return api("GET", "/v1/status").body; }
  Output sluicectl(const std::string& args) {
    return capture(env_or("SLUICECTL", "sluicectl") + " --socket " + socket() + " " + args);
  }
  // The backends of VIP 198.18.0.10:80/tcp in this host's desired state ("" entries: none).
  std::vector<std::string> backends() {
    std::vector<std::string> out;
    const json vips = api("GET", "/v1/vips").body;
    if (!vips.is_object()) return out;
    for (const json& v : vips["vips"]) {
      if (v["vip"] != "198.18.0.10:80/tcp") continue;
      for (const json& b : v["backends"])
        out.push_back(b["address"].get<std::string>());
    }
    return out;
  }
  bool has_backend(const std::string& address) {
    const std::vector<std::string> b = backends();
    return std::find(b.begin(), b.end(), address) != b.end();
  }
  // Waits until `predicate` holds; how long it took (nullopt on timeout).
  template <typename Predicate>
  std::optional<ms> wait_until(Predicate predicate, ms timeout = ms(5000)) {
    const auto start = Clock::now();
    while (Clock::now() - start < timeout) {
      if (predicate()) return std::chrono::duration_cast<ms>(Clock::now() - start);
      std::this_thread::sleep_for(ms(5));
    }
    return std::nullopt;
  }

  [[nodiscard]] std::string log() const { return daemon_ ? daemon_->log() : ""; }
  FakeDataplane& dataplane() { return *dataplane_; }
  Process& daemon() { return *daemon_; }
  void stop() { daemon_.reset(); }

 private:
  std::string config() const { return dir_.file(name_ + ".yaml"); }
  std::string socket() const { return dir_.file(name_ + "-api.sock"); }

  std::string name_;
  const RunDir& dir_;
  std::string dataplane_socket_;
  std::unique_ptr<FakeDataplane> dataplane_;
  std::unique_ptr<Process> daemon_;
};

std::uint64_t revision_of(const json& status) {
  return status["state_store"]["revision"].get<std::uint64_t>();
}

class EtcdStateTest : public ::testing::Test {
 protected:
  void SetUp() override { etcd_.start(); }

  // Two hosts on the same etcd with the same config's VIP, both started (the first seeds it).
  void start_both(Host& a, Host& b) {
    a.write_config({etcd_.url()}, "198.18.0.10");
    b.write_config({etcd_.url()}, "198.18.0.10");
    a.start();
    b.start();
  }

  RunDir dir_;
  Etcd etcd_{dir_};
};

// Seed on an empty key (create-only), a second host loads the same state (not its own
// config's VIPs), and both dataplanes run generation revision * 65536.
TEST_F(EtcdStateTest, SeedsAnEmptyKeyAndASecondHostLoadsIt) {
  Host a(dir_, "lb1");
  Host b(dir_, "lb2");
  a.write_config({etcd_.url()}, "198.18.0.10");
  b.write_config({etcd_.url()}, "198.18.0.99");  // ignored: the key exists by then
  a.start();
  const EtcdValue seeded = etcd_.get();
  ASSERT_GT(seeded.mod_revision, 0u) << a.log();
  Result<std::vector<config::Vip>> vips = decode_shared_state(seeded.value);
  ASSERT_TRUE(vips.ok()) << vips.error().message << "\n" << seeded.value;
  ASSERT_EQ(vips->size(), 1u);
  EXPECT_EQ(vips->front().address.to_string(), "198.18.0.10");
  EXPECT_NE(seeded.value.find("\"written_by\":\"lb1\""), std::string::npos) << seeded.value;

  b.start();
  EXPECT_EQ(etcd_.get().mod_revision, seeded.mod_revision) << "the second host did not write";
  EXPECT_EQ(b.backends(), (std::vector<std::string>{"198.18.1.1", "198.18.1.2"}));
  const json vips_b = b.api("GET", "/v1/vips").body;
  ASSERT_EQ(vips_b["vips"].size(), 1u) << vips_b.dump();
  EXPECT_EQ(vips_b["vips"][0]["vip"], "198.18.0.10:80/tcp");

  for (Host* h : {&a, &b}) {
    const json s = h->status();
    EXPECT_EQ(s["state_store"]["kind"], "etcd") << s.dump();
    EXPECT_EQ(s["state_store"]["connected"], true) << s.dump();
    EXPECT_EQ(s["state_store"]["key"], kKey);
    EXPECT_EQ(revision_of(s), seeded.mod_revision);
    const std::uint64_t expected = seeded.mod_revision * kGenerationsPerRevision;
    EXPECT_EQ(s["generation"].get<std::uint64_t>(), expected) << s.dump();
    EXPECT_TRUE(h->wait_until([&] { return h->dataplane().generation() == expected; }))
        << "dataplane runs " << h->dataplane().generation() << ", expected " << expected;
  }
  const Output text = a.sluicectl("status");
  EXPECT_NE(text.text.find("state store: etcd " + etcd_.url() +
                           " key /sluice-test/state, "
                           "connected, revision " +
                           std::to_string(seeded.mod_revision)),
            std::string::npos)
      << text.text;
  EXPECT_NE(a.log().find("seeded from"), std::string::npos);
  EXPECT_EQ(b.log().find("seeded from"), std::string::npos);
}

// A change through one host's API is in the other's desired state (and its dataplane, with the
// same generation) within a bound.
TEST_F(EtcdStateTest, AChangeOnOneHostIsInForceOnTheOther) {
  Host a(dir_, "lb1");
  Host b(dir_, "lb2");
  start_both(a, b);
  std::vector<ms> delays;
  for (int i = 0; i < 5; ++i) {
    const std::string address = "198.18.1." + std::to_string(10 + i);
    const auto before = Clock::now();
    const Output added = a.sluicectl("backend add 198.18.0.10:80/tcp " + address);
    ASSERT_EQ(added.code, 0) << added.text << a.log();
    std::optional<ms> seen = b.wait_until([&] { return b.has_backend(address); });
    ASSERT_TRUE(seen) << b.log();
    delays.push_back(std::chrono::duration_cast<ms>(Clock::now() - before));
  }
  const std::uint64_t revision = etcd_.get().mod_revision;
  const std::uint64_t expected = revision * kGenerationsPerRevision;
  for (Host* h : {&a, &b}) {
    EXPECT_TRUE(h->wait_until([&] { return h->dataplane().generation() == expected; }))
        << "dataplane runs " << h->dataplane().generation() << ", expected " << expected;
    EXPECT_EQ(revision_of(h->status()), revision);
    EXPECT_EQ(h->backends().size(), 7u);
  }
  std::sort(delays.begin(), delays.end());
  std::printf("change on lb1 (sluicectl included) seen on lb2: median %lld ms, max %lld ms\n",
              static_cast<long long>(delays[delays.size() / 2].count()),
              static_cast<long long>(delays.back().count()));
  EXPECT_LT(delays.back(), ms(3000));
}

// Two changes based on the same revision: exactly one wins, the other is refused with the
// retry error (HTTP 412, sluicectl exit code 8) and nothing is lost: after a retry both are in.
// lb2's watch is held back by a proxy, so its change is based on the revision before lb1's.
TEST_F(EtcdStateTest, ConcurrentChangesOneWinsTheOtherMustRetry) {
  WatchHoldingProxy proxy(etcd_.port());
  Host a(dir_, "lb1");
  Host b(dir_, "lb2");
  a.write_config({etcd_.url()}, "198.18.0.10");
  b.write_config({proxy.url()}, "198.18.0.10");
  a.start();
  b.start();
  const std::uint64_t before = etcd_.get().mod_revision;
  proxy.hold_watch(true);
  const Output won = a.sluicectl("backend add 198.18.0.10:80/tcp 198.18.1.21");
  EXPECT_EQ(won.code, 0) << won.text;
  EXPECT_FALSE(b.has_backend("198.18.1.21")) << "lb2's watch is held";
  const Output lost = b.sluicectl("backend add 198.18.0.10:80/tcp 198.18.1.22");
  EXPECT_EQ(lost.code, 8) << lost.text << b.log();
  EXPECT_NE(lost.text.find(
                "the shared state changed meanwhile (on another host): read it again and retry"),
            std::string::npos)
      << lost.text;
  const ctl::ApiReply raw =
      b.api("POST", "/v1/backends?vip=198.18.0.10%3A80%2Ftcp", R"({"address": "198.18.1.22"})");
  EXPECT_EQ(raw.status, 412u) << raw.raw_body;
  EXPECT_EQ(raw.body["retry"], true) << raw.raw_body;
  EXPECT_FALSE(b.has_backend("198.18.1.22")) << "a refused change is not applied locally";
  Result<std::vector<config::Vip>> mid = decode_shared_state(etcd_.get().value);
  ASSERT_TRUE(mid.ok());
  EXPECT_EQ(mid->front().backends.size(), 3u) << "only lb1's change is in etcd";
  EXPECT_EQ(etcd_.get().mod_revision, before + 1);

  proxy.hold_watch(false);
  EXPECT_TRUE(b.wait_until([&] { return b.has_backend("198.18.1.21"); })) << b.log();
  const Output retried = b.sluicectl("backend add 198.18.0.10:80/tcp 198.18.1.22");
  EXPECT_EQ(retried.code, 0) << retried.text;
  EXPECT_TRUE(a.wait_until([&] { return a.has_backend("198.18.1.22"); }));
  for (Host* h : {&a, &b}) {
    EXPECT_EQ(h->backends(),
              (std::vector<std::string>{"198.18.1.1", "198.18.1.2", "198.18.1.21", "198.18.1.22"}));
  }
  // An existing backend is still "already exists" (409, exit code 5), not a retry.
  const Output exists = a.sluicectl("backend add 198.18.0.10:80/tcp 198.18.1.22");
  EXPECT_EQ(exists.code, 5) << exists.text;
}

// Many changes at once from both hosts (no proxy): every acknowledged change is in the final
// state, every refused one was refused with the retry error, none lost.
TEST_F(EtcdStateTest, RacingHostsNeverLoseAnAcknowledgedChange) {
  Host a(dir_, "lb1");
  Host b(dir_, "lb2");
  start_both(a, b);
  std::vector<std::string> acknowledged;
  std::mutex mutex;
  int retries = 0;
  int other = 0;
  for (int round = 0; round < 10; ++round) {
    std::vector<std::thread> threads;
    for (int side = 0; side < 2; ++side) {
      threads.emplace_back([&, side, round] {
        Host& h = side == 0 ? a : b;
        const std::string address =
            "198.18." + std::to_string(2 + side) + "." + std::to_string(1 + round);
        const ctl::ApiReply r = h.api("POST", "/v1/backends?vip=198.18.0.10%3A80%2Ftcp",
                                      R"({"address": ")" + address + "\"}");
        std::lock_guard lock(mutex);
        if (r.status == 201) {
          acknowledged.push_back(address);
        } else if (r.status == 412) {
          ++retries;
        } else {
          ++other;
        }
      });
    }
    for (std::thread& t : threads)
      t.join();
  }
  std::printf("20 changes in 10 pairs: %zu applied, %d refused with retry, %d other\n",
              acknowledged.size(), retries, other);
  EXPECT_EQ(other, 0);
  EXPECT_EQ(acknowledged.size() + static_cast<std::size_t>(retries), 20u);
  EXPECT_GE(acknowledged.size(), 10u) << "at least one of each pair wins";
  Result<std::vector<config::Vip>> final_state = decode_shared_state(etcd_.get().value);
  ASSERT_TRUE(final_state.ok());
  for (const std::string& address : acknowledged) {
    const auto& backends = final_state->front().backends;
    EXPECT_TRUE(
        std::any_of(backends.begin(), backends.end(),
                    [&](const config::Backend& x) { return x.address.to_string() == address; }))
        << address << " was acknowledged but is not in etcd";
  }
  EXPECT_EQ(final_state->front().backends.size(), 2 + acknowledged.size());
}

// etcd gone: reads keep answering from the last state, a change is refused within the bound
// naming the endpoint, no crash; etcd back: the watch resumes and changes work again.
TEST_F(EtcdStateTest, FailStaticWhileEtcdIsDownThenResumes) {
  Host a(dir_, "lb1");
  Host b(dir_, "lb2");
  start_both(a, b);
  const std::uint64_t dataplane_generation = a.dataplane().generation();
  etcd_.kill();

  const auto before = Clock::now();
  const Output refused = a.sluicectl("backend add 198.18.0.10:80/tcp 198.18.1.31");
  const ms took = std::chrono::duration_cast<ms>(Clock::now() - before);
  EXPECT_EQ(refused.code, 3) << refused.text;
  EXPECT_NE(refused.text.find(etcd_.url()), std::string::npos) << refused.text;
  EXPECT_LT(took, ms(2500)) << refused.text;
  std::printf("change refused with etcd down in %lld ms: %s", static_cast<long long>(took.count()),
              refused.text.c_str());

  const Output read = a.sluicectl("backend list 198.18.0.10:80/tcp");
  EXPECT_EQ(read.code, 0) << read.text;
  EXPECT_NE(read.text.find("198.18.1.2"), std::string::npos) << read.text;
  const json s = a.status();
  EXPECT_EQ(s["state_store"]["connected"], false) << s.dump();
  EXPECT_NE(s["state_store"]["last_error"].get<std::string>().find(etcd_.url()), std::string::npos)
      << s.dump();
  EXPECT_EQ(a.dataplane().generation(), dataplane_generation) << "the dataplane keeps its state";
  const Output text = a.sluicectl("status");
  EXPECT_NE(text.text.find("NOT CONNECTED"), std::string::npos) << text.text;
  EXPECT_EQ(a.daemon().wait(ms(1)), -1) << "still running";

  etcd_.start();
  // Changed behind the hosts' backs while they reconnect (an operator's put).
  Result<std::vector<config::Vip>> current = decode_shared_state(etcd_.get().value);
  ASSERT_TRUE(current.ok());
  std::vector<config::Vip> next = *current;
  next.front().backends.push_back(next.front().backends.front());
  next.front().backends.back().address = *IpAddress::parse("198.18.1.32");
  etcd_.put(encode_shared_state(next, "operator"));
  for (Host* h : {&a, &b}) {
    EXPECT_TRUE(h->wait_until([&] { return h->has_backend("198.18.1.32"); }, ms(8000))) << h->log();
    EXPECT_TRUE(h->wait_until([&] { return h->status()["state_store"]["connected"] == true; }));
  }
  const Output again = a.sluicectl("backend add 198.18.0.10:80/tcp 198.18.1.31");
  EXPECT_EQ(again.code, 0) << again.text;
  EXPECT_TRUE(b.wait_until([&] { return b.has_backend("198.18.1.31"); })) << b.log();
  const std::string log = a.log();
  std::size_t losses = 0;
  for (std::size_t p = log.find("etcd: unreachable"); p != std::string::npos;
       p = log.find("etcd: unreachable", p + 1))
    ++losses;
  EXPECT_EQ(losses, 1u) << "logged once on loss\n" << log;
  EXPECT_NE(log.find("etcd: reachable again"), std::string::npos) << log;
}

// A document written by hand that does not validate is refused, naming the field; the state in
// force stays, and a fixed document is taken.
TEST_F(EtcdStateTest, ABadDocumentIsRefusedWithTheFieldNamed) {
  Host a(dir_, "lb1");
  a.write_config({etcd_.url()}, "198.18.0.10");
  a.start();
  const std::uint64_t good = etcd_.get().mod_revision;
  // A structural error, then a validation error (weight out of range).
  const std::uint64_t bad1 =
      etcd_.put(R"({"format":1,"vips":[{"address":"198.18.0.10","port":"http"}]})");
  EXPECT_TRUE(a.wait_until([&] {
    return a.log().find("refused the shared state at etcd revision " + std::to_string(bad1)) !=
           std::string::npos;
  })) << a.log();
  EXPECT_NE(a.log().find("vips[0].port"), std::string::npos) << a.log();
  Result<std::vector<config::Vip>> current =
      decode_shared_state(encode_shared_state({}, "x"));  // an empty list decodes too
  ASSERT_TRUE(current.ok());
  const std::string bad_weight =
      R"({"format":1,"vips":[{"address":"198.18.0.10","port":80,"protocol":"tcp",)"
      R"("backends":[{"address":"198.18.1.1","weight":70000}]}]})";
  const std::uint64_t bad2 = etcd_.put(bad_weight);
  EXPECT_TRUE(a.wait_until([&] {
    return a.log().find("refused the shared state at etcd revision " + std::to_string(bad2)) !=
           std::string::npos;
  })) << a.log();
  EXPECT_NE(a.log().find("vips[0].backends[0].weight"), std::string::npos) << a.log();
  EXPECT_EQ(a.backends(), (std::vector<std::string>{"198.18.1.1", "198.18.1.2"}));
  const json s = a.status();
  EXPECT_EQ(revision_of(s), good) << s.dump();
  EXPECT_NE(s["state_store"]["refused"].get<std::string>().find("weight"), std::string::npos);
  const Output text = a.sluicectl("status");
  EXPECT_NE(text.text.find("REFUSED"), std::string::npos) << text.text;
  // A change would overwrite a document this host cannot read: refused until it is fixed.
  const Output change = a.sluicectl("backend add 198.18.0.10:80/tcp 198.18.1.41");
  EXPECT_EQ(change.code, 2) << change.text;

  const std::string fixed =
      R"({"format":1,"vips":[{"address":"198.18.0.10","port":80,"protocol":"tcp",)"
      R"("backends":[{"address":"198.18.1.1","weight":7}]}]})";
  const std::uint64_t good2 = etcd_.put(fixed);
  EXPECT_TRUE(a.wait_until([&] { return revision_of(a.status()) == good2; })) << a.log();
  EXPECT_EQ(a.backends(), (std::vector<std::string>{"198.18.1.1"}));
  EXPECT_EQ(a.status()["state_store"]["refused"], "");
  EXPECT_TRUE(
      a.wait_until([&] { return a.dataplane().generation() == good2 * kGenerationsPerRevision; }));
}

// The key deleted by hand: both hosts keep the state in force; the next change writes it again
// (create-only) and the other host takes it.
TEST_F(EtcdStateTest, ADeletedKeyKeepsTheStateAndTheNextChangeWritesItAgain) {
  Host a(dir_, "lb1");
  Host b(dir_, "lb2");
  start_both(a, b);
  Result<json> deleted =
      etcd_.client().post("/v3/kv/deleterange", json{{"key", base64_encode(kKey)}}, ms(2000));
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_TRUE(a.wait_until([&] {
    return a.log().find("the shared state key is gone from etcd") != std::string::npos;
  })) << a.log();
  EXPECT_EQ(a.backends(), (std::vector<std::string>{"198.18.1.1", "198.18.1.2"}));
  EXPECT_EQ(b.backends(), (std::vector<std::string>{"198.18.1.1", "198.18.1.2"}));
  const Output added = a.sluicectl("backend add 198.18.0.10:80/tcp 198.18.1.51");
  EXPECT_EQ(added.code, 0) << added.text << a.log();
  EXPECT_GT(etcd_.get().mod_revision, 0u) << "written again";
  EXPECT_TRUE(b.wait_until([&] { return b.has_backend("198.18.1.51"); })) << b.log();
}

// Endpoints are tried in turn: a dead first member is passed over (start, watch, changes); with
// every member gone the refusal names each endpoint tried.
TEST_F(EtcdStateTest, EndpointsAreTriedInTurn) {
  const std::string dead = "http://127.0.0.1:" + std::to_string(unused_port());
  Host a(dir_, "lb1");
  Host b(dir_, "lb2");
  a.write_config({dead, etcd_.url()}, "198.18.0.10");
  b.write_config({etcd_.url()}, "198.18.0.10");
  a.start();
  b.start();
  const Output added = a.sluicectl("backend add 198.18.0.10:80/tcp 198.18.1.71");
  EXPECT_EQ(added.code, 0) << added.text << a.log();
  const Output other = b.sluicectl("backend add 198.18.0.10:80/tcp 198.18.1.72");
  EXPECT_EQ(other.code, 0) << other.text;
  EXPECT_TRUE(a.wait_until([&] { return a.has_backend("198.18.1.72"); })) << "a's watch works";
  etcd_.kill();
  const Output refused = a.sluicectl("backend add 198.18.0.10:80/tcp 198.18.1.73");
  EXPECT_EQ(refused.code, 3) << refused.text;
  EXPECT_NE(refused.text.find(dead + ": connect"), std::string::npos) << refused.text;
  EXPECT_NE(refused.text.find(etcd_.url() + ": connect"), std::string::npos) << refused.text;
}

// With the REAL sluice-dataplane on lb1 (DPDK --no-huge, two net_null ports) and a fake one on
// lb2: after a change on lb2, both dataplanes run generation revision * 65536.
TEST_F(EtcdStateTest, ARealDataplaneRunsRevisionTimes65536) {
  if (std::getenv("SLUICE_DATAPLANE") == nullptr) GTEST_SKIP() << "no SLUICE_DATAPLANE";
  TempDir dp_dir;
  DataplaneRunner dp(dp_dir, test_prefix("etcdgen"), null_ports(), {"--no-huge", "-m", "512"});
  ASSERT_TRUE(dp.start()) << "the dataplane did not start";
  Host a(dir_, "lb1", dp.socket());
  Host b(dir_, "lb2");
  start_both(a, b);
  const Output added = b.sluicectl("backend add 198.18.0.10:80/tcp 198.18.1.61");
  ASSERT_EQ(added.code, 0) << added.text;
  const std::uint64_t expected = etcd_.get().mod_revision * kGenerationsPerRevision;
  EXPECT_TRUE(a.wait_until([&] { return dp.status().generation == expected; }, ms(10000)))
      << "the real dataplane runs " << dp.status().generation << ", expected " << expected << "\n"
      << a.log();
  EXPECT_TRUE(b.wait_until([&] { return b.dataplane().generation() == expected; }));
  EXPECT_EQ(a.status()["generation"].get<std::uint64_t>(), expected);
  EXPECT_EQ(b.status()["generation"].get<std::uint64_t>(), expected);
  std::printf("generation on both hosts: %llu (revision %llu)\n",
              static_cast<unsigned long long>(expected),
              static_cast<unsigned long long>(expected / kGenerationsPerRevision));
}

// A host whose etcd is unreachable at start gives up after a bound and says which endpoint.
TEST(EtcdStartTest, UnreachableAtStartIsRefusedNamingTheEndpoint) {
  RunDir dir;
  Host a(dir, "lb1");
  const std::string url = "http://127.0.0.1:" + std::to_string(unused_port());
  a.write_config({url}, "198.18.0.10");
  const auto before = Clock::now();
  const int code = a.start(false);
  EXPECT_EQ(code, 2) << a.log();
  EXPECT_LT(Clock::now() - before, std::chrono::seconds(14));
  EXPECT_NE(a.log().find(url), std::string::npos) << a.log();
}

// The config keys: parsed, defaults, refused with the field named; TLS options validated (a TLS
// etcd is not started here: the client's TLS context is built from the files and checked).
TEST(EtcdConfig, KeysAreParsedAndCheckedWithTheFieldNamed) {
  const std::string base =
      "dataplane: {next_hop_mac: \"02:00:00:00:00:fe\"}\ncontrolplane:\n  host_name: lb1\n";
  Result<config::State> ok = config::load_yaml_string(
      base +
      "  state_store: etcd\n  etcd:\n    endpoints: [\"http://198.18.6.1:2379\", "
      "\"https://etcd-2.example:2379\"]\n    tls: {ca_file: /x/ca.pem}\n");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->controlplane->host_name, "lb1");
  EXPECT_EQ(ok->controlplane->state_store, config::StateStoreKind::etcd);
  EXPECT_EQ(ok->controlplane->etcd->endpoints.size(), 2u);
  EXPECT_EQ(ok->controlplane->etcd->prefix, "/sluice/");
  EXPECT_EQ(ok->controlplane->etcd->tls->ca_file, "/x/ca.pem");
  Result<config::State> round = config::load_yaml_string(config::to_yaml(*ok));
  ASSERT_TRUE(round.ok()) << round.error().message;
  EXPECT_EQ(round->controlplane, ok->controlplane);

  Result<config::State> file = config::load_yaml_string(base);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->controlplane->state_store, config::StateStoreKind::file) << "the default";

  const std::pair<std::string, std::string> bad[] = {
      {"  state_store: etcd\n", "controlplane.etcd: required when state_store is etcd"},
      {"  state_store: consul\n", "controlplane.state_store: expected one of file or etcd"},
      {"  state_store: etcd\n  etcd: {endpoints: []}\n", "controlplane.etcd.endpoints"},
      {"  state_store: etcd\n  etcd: {endpoints: [\"198.18.6.1:2379\"]}\n",
       "controlplane.etcd.endpoints[0]"},
      {"  state_store: etcd\n  etcd: {endpoints: [\"http://198.18.6.1\"]}\n",
       "controlplane.etcd.endpoints[0]"},
      {"  state_store: etcd\n  etcd: {endpoints: [\"http://198.18.6.1:2379\"], prefix: x}\n",
       "controlplane.etcd.prefix"},
      {"  state_store: etcd\n  etcd: {endpoints: [\"http://198.18.6.1:2379\"], tls: {ca_file: "
       "a}}\n",
       "controlplane.etcd.tls: set, but no endpoint is https://"},
      {"  state_store: etcd\n  etcd: {endpoints: [\"https://198.18.6.1:2379\"], tls: "
       "{cert_file: c}}\n",
       "controlplane.etcd.tls: cert_file and key_file go together"},
      {"  state_store: etcd\n  etcd: {endpoints: [\"http://198.18.6.1:2379\"], tsl: {}}\n", "tsl"},
  };
  for (const auto& [yaml, field] : bad) {
    Result<config::State> r = config::load_yaml_string(base + yaml);
    ASSERT_FALSE(r.ok()) << yaml;
    EXPECT_NE(r.error().message.find(field), std::string::npos) << r.error().message;
  }
  Result<config::State> name = config::load_yaml_string("controlplane:\n  host_name: \"lb 1\"\n");
  ASSERT_FALSE(name.ok());
  EXPECT_NE(name.error().message.find("controlplane.host_name"), std::string::npos);

  // TLS files: a missing CA file is named; https without a TLS section uses the system CAs.
  EtcdClientOptions tls;
  tls.endpoints.push_back(parse_etcd_endpoint("https://127.0.0.1:2379").value());
  tls.tls = config::EtcdTls{"/nonexistent/ca.pem", "", ""};
  EtcdClient with_missing_ca(tls);
  const Status missing = with_missing_ca.init();
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("controlplane.etcd.tls.ca_file /nonexistent/ca.pem"),
            std::string::npos)
      << missing.error().message;
  tls.tls.reset();
  EtcdClient system_cas(tls);
  EXPECT_TRUE(system_cas.init().ok());

  EXPECT_FALSE(parse_etcd_endpoint("ftp://a:1").ok());
  EXPECT_EQ(parse_etcd_endpoint("http://[::1]:2379/").value().host, "::1");
  EXPECT_EQ(base64_decode(base64_encode(std::string("\0\xff/sluice/", 10))).value(),
            std::string("\0\xff/sluice/", 10));
}

// The generation rule (docs/tier.md): revision * 65536 + n, above the current in any case.
TEST(SharedGeneration, RevisionTimes65536PlusLocalChanges) {
  EXPECT_EQ(shared_generation(7, 0, 0), 7u * 65536);
  EXPECT_EQ(shared_generation(7, 3, 7u * 65536), 7u * 65536 + 3);
  EXPECT_EQ(shared_generation(7, 70000, 0), 7u * 65536 + 65535) << "n is capped";
  EXPECT_EQ(shared_generation(7, 0, 9u * 65536), 9u * 65536 + 1) << "never goes down";
}

}  // namespace
}  // namespace sluice::cp::testing

// A small client of etcd's v3 HTTP/JSON gateway (POST /v3/kv/range, /v3/kv/txn, /v3/watch),
// on Boost.Beast over plain TCP or TLS. Every call is synchronous for its caller and bounded by
// a budget: the endpoints are tried in turn (the last one that answered first) until one
// answers or the budget is spent, and the error then names every endpoint tried. Keys and
// values are base64 on the wire; this class takes and returns plain bytes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sluice/config/model.hpp"
#include "sluice/result.hpp"

namespace sluice::cp {

struct EtcdEndpoint {
  std::string url;  // as configured, for messages
  bool tls = false;
  std::string host;
  std::uint16_t port = 0;
};

// "http://198.18.6.1:2379" -> {tls false, host, port}. Errors name the URL.
[[nodiscard]] Result<EtcdEndpoint> parse_etcd_endpoint(const std::string& url);

[[nodiscard]] std::string base64_encode(std::string_view bytes);
[[nodiscard]] Result<std::string> base64_decode(std::string_view text);

// One key's value as read: mod_revision 0 when the key does not exist.
struct EtcdValue {
  std::uint64_t header_revision = 0;  // the store's revision when read
  std::uint64_t mod_revision = 0;
  std::string value;
};

// A write that compares the key first: `expected_mod_revision` 0 means "the key must not exist"
// (version == 0, the create-only seed).
struct EtcdTxnOutcome {
  bool succeeded = false;
  std::uint64_t revision = 0;  // header revision: the key's new mod_revision on success
};

// One event of a watch stream on one key.
struct EtcdEvent {
  bool deleted = false;
  std::uint64_t mod_revision = 0;
  std::string value;
};

struct EtcdClientOptions {
  std::vector<EtcdEndpoint> endpoints;
  std::optional<config::EtcdTls> tls;
  std::chrono::milliseconds connect_timeout{700};
  std::size_t max_body_bytes = 64u << 20;
};

class EtcdClient {
 public:
  explicit EtcdClient(EtcdClientOptions options);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // Builds the TLS context (reads ca/cert/key files); an error names the file.
  [[nodiscard]] Status init();

  [[nodiscard]] Result<EtcdValue> get(const std::string& key, std::chrono::milliseconds budget);
  [[nodiscard]] Result<EtcdTxnOutcome> put_if(const std::string& key, const std::string& value,
                                              std::uint64_t expected_mod_revision,
                                              std::chrono::milliseconds budget);

  // Watches `key` from `start_revision` on one endpoint (the next in turn) until the stream
  // breaks, `stop` is set, or `on_event` returns false. Returns why it ended. Blocks.
  // `on_created` runs once the stream is established.
  [[nodiscard]] Error watch(const std::string& key, std::uint64_t start_revision,
                            const std::atomic<bool>& stop, const std::function<void()>& on_created,
                            const std::function<bool(const EtcdEvent&)>& on_event);

  [[nodiscard]] const std::vector<EtcdEndpoint>& endpoints() const { return options_.endpoints; }
  [[nodiscard]] std::string endpoint_list() const;  // "http://a:2379, http://b:2379"

  // One POST to the gateway, endpoints in turn; the parsed JSON answer. Public for tests.
  [[nodiscard]] Result<nlohmann::json> post(const std::string& path, const nlohmann::json& body,
                                            std::chrono::milliseconds budget);

 private:
  struct Tls;
  EtcdClientOptions options_;
  std::unique_ptr<Tls> tls_;
  std::mutex mutex_;
  std::size_t preferred_ = 0;  // the endpoint that answered last
  std::size_t next_watch_ = 0;
};

// A client for `controlplane.etcd` (its endpoints and TLS), initialised; errors name the field.
[[nodiscard]] Result<std::unique_ptr<EtcdClient>> make_etcd_client(
    const config::EtcdSettings& settings);

}  // namespace sluice::cp

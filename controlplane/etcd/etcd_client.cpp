#include "etcd/etcd_client.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <charconv>
#include <optional>
#include <utility>

#include "common/asio.hpp"
#include "sluice/ip_address.hpp"

namespace sluice::cp {
namespace {

using Clock = std::chrono::steady_clock;
using boost::system::error_code;
using nlohmann::json;

constexpr std::chrono::milliseconds kStopPoll{100};
constexpr std::chrono::milliseconds kWatchSetup{2000};

// Starts one asynchronous operation and runs `io` until it completes; its error code. The
// stream's own expiry (tcp_stream::expires_at) bounds it.
template <typename Start>
error_code wait(asio::io_context& io, Start&& start) {
  std::optional<error_code> result;
  start([&result](const error_code& ec, auto&&...) { result = ec; });
  io.restart();
  io.run();
  return result.value_or(asio::error::operation_aborted);
}

// Same, but gives up when `stop` is set (checked every kStopPoll): the socket is closed and
// the aborted operation drained.
template <typename Socket, typename Start>
error_code wait_or_stop(asio::io_context& io, Socket& socket, const std::atomic<bool>& stop,
                        Start&& start) {
  std::optional<error_code> result;
  start([&result](const error_code& ec, auto&&...) { result = ec; });
  while (!result) {
    if (stop.load()) {
      error_code ignored;
      socket.close(ignored);
      io.restart();
      io.run();
      return asio::error::operation_aborted;
    }
    io.restart();
    io.run_for(kStopPoll);
  }
  return *result;
}

std::uint64_t u64_field(const json& j, const char* name) {
  const auto it = j.find(name);
  if (it == j.end()) return 0;  // the gateway leaves out zero values
  if (it->is_number_unsigned()) return it->get<std::uint64_t>();
  if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && end == s.data() + s.size()) return v;
  }
  return 0;
}

std::string gateway_error(const json& j) {
  if (j.is_object()) {
    for (const char* name : {"error", "message"}) {
      const auto it = j.find(name);
      if (it != j.end() && it->is_string()) return it->get<std::string>();
    }
  }
  return j.dump();
}

std::string host_header(const EtcdEndpoint& ep) {
  const bool v6 = ep.host.find(':') != std::string::npos;
  return (v6 ? "[" + ep.host + "]" : ep.host) + ":" + std::to_string(ep.port);
}

Result<asio::ip::tcp::endpoint> resolve(asio::io_context& io, const EtcdEndpoint& ep) {
  error_code ec;
  const asio::ip::address address = asio::ip::make_address(ep.host, ec);
  if (!ec) return asio::ip::tcp::endpoint(address, ep.port);
  asio::ip::tcp::resolver resolver(io);
  const auto found = resolver.resolve(ep.host, std::to_string(ep.port), ec);
  if (ec || found.empty()) {
    return Error{"cannot resolve " + ep.host + ": " + (ec ? ec.message() : "no address")};
  }
  return found.begin()->endpoint();
}

}  // namespace

struct EtcdClient::Tls {
  asio::ssl::context context{asio::ssl::context::tls_client};
};

Result<EtcdEndpoint> parse_etcd_endpoint(const std::string& url) {
  EtcdEndpoint ep;
  ep.url = url;
  std::string_view rest(url);
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
    ep.tls = true;
  } else {
    return Error{"\"" + url + "\": expected http://HOST:PORT or https://HOST:PORT"};
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  std::size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) return Error{"\"" + url + "\": no :PORT"};
  std::string_view host = rest.substr(0, colon);
  const std::string_view port = rest.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (host.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 ||
      value > 65535) {
    return Error{"\"" + url + "\": expected HOST:PORT with a port in 1..65535"};
  }
  ep.host = std::string(host);
  ep.port = static_cast<std::uint16_t>(value);
  return ep;
}

std::string base64_encode(std::string_view bytes) {
  namespace b64 = beast::detail::base64;
  std::string out(b64::encoded_size(bytes.size()), '\0');
  out.resize(b64::encode(out.data(), bytes.data(), bytes.size()));
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  namespace b64 = beast::detail::base64;
  std::string out(b64::decoded_size(text.size()), '\0');
  const auto [written, read] = b64::decode(out.data(), text.data(), text.size());
  // Beast stops at the padding; anything else left over is not base64.
  if (text.substr(read).find_first_not_of('=') != std::string_view::npos) {
    return Error{"not valid base64"};
  }
  out.resize(written);
  return out;
}

EtcdClient::EtcdClient(EtcdClientOptions options) : options_(std::move(options)) {}

EtcdClient::~EtcdClient() = default;

Status EtcdClient::init() {
  const bool any_tls = std::any_of(options_.endpoints.begin(), options_.endpoints.end(),
                                   [](const EtcdEndpoint& e) { return e.tls; });
  if (!any_tls) return ok_status();
  tls_ = std::make_unique<Tls>();
  error_code ec;
  const config::EtcdTls files = options_.tls.value_or(config::EtcdTls{});
  if (!files.ca_file.empty()) {
    tls_->context.load_verify_file(files.ca_file, ec);
    if (ec) return Error{"controlplane.etcd.tls.ca_file " + files.ca_file + ": " + ec.message()};
  } else {
    tls_->context.set_default_verify_paths(ec);
    if (ec) return Error{"controlplane.etcd.tls: the system's CA certificates: " + ec.message()};
  }
  tls_->context.set_verify_mode(asio::ssl::verify_peer);
  if (!files.cert_file.empty()) {
    tls_->context.use_certificate_chain_file(files.cert_file, ec);
    if (ec) {
      return Error{"controlplane.etcd.tls.cert_file " + files.cert_file + ": " + ec.message()};
    }
    tls_->context.use_private_key_file(files.key_file, asio::ssl::context::pem, ec);
    if (ec) return Error{"controlplane.etcd.tls.key_file " + files.key_file + ": " + ec.message()};
  }
  return ok_status();
}

std::string EtcdClient::endpoint_list() const {
  std::string out;
  for (const EtcdEndpoint& e : options_.endpoints) {
    if (!out.empty()) out += ", ";
    out += e.url;
  }
  return out;
}

namespace {

// Runs `use(stream)` on a connected (and, for https, handshaken) stream to `ep`.
template <typename Use>
Error with_stream(asio::io_context& io, asio::ssl::context* tls, const EtcdEndpoint& ep,
                  Clock::time_point connect_deadline, Use&& use) {
  Result<asio::ip::tcp::endpoint> to = resolve(io, ep);
  if (!to.ok()) return to.error();
  auto connect = [&](beast::tcp_stream& tcp) -> error_code {
    tcp.expires_at(connect_deadline);
    return wait(io, [&](auto handler) { tcp.async_connect(*to, std::move(handler)); });
  };
  if (!ep.tls) {
    beast::tcp_stream stream(io);
    if (error_code ec = connect(stream)) return Error{"connect: " + ec.message()};
    return use(stream);
  }
  if (tls == nullptr) return Error{"https endpoint without a TLS context"};
  beast::ssl_stream<beast::tcp_stream> stream(io, *tls);
  if (!IpAddress::parse(ep.host).has_value()) {
    SSL_set_tlsext_host_name(stream.native_handle(), ep.host.c_str());
  }
  stream.set_verify_callback(asio::ssl::host_name_verification(ep.host));
  if (error_code ec = connect(beast::get_lowest_layer(stream))) {
    return Error{"connect: " + ec.message()};
  }
  error_code ec = wait(io, [&](auto handler) {
    stream.async_handshake(asio::ssl::stream_base::client, std::move(handler));
  });
  if (ec) return Error{"tls handshake: " + ec.message()};
  return use(stream);
}

http::request<http::string_body> make_request(const EtcdEndpoint& ep, const std::string& target,
                                              std::string body) {
  http::request<http::string_body> request{http::verb::post, target, 11};
  request.set(http::field::host, host_header(ep));
  request.set(http::field::user_agent, "sluice-controlplane");
  request.set(http::field::content_type, "application/json");
  request.body() = std::move(body);
  request.prepare_payload();
  return request;
}

}  // namespace

Result<json> EtcdClient::post(const std::string& path, const json& body,
                              std::chrono::milliseconds budget) {
  const Clock::time_point deadline = Clock::now() + budget;
  const std::size_t n = options_.endpoints.size();
  std::size_t first = 0;
  {
    std::lock_guard lock(mutex_);
    first = preferred_;
  }
  const std::string payload = body.dump();
  std::string errors;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t index = (first + i) % n;
    const EtcdEndpoint& ep = options_.endpoints[index];
    const Clock::time_point now = Clock::now();
    if (!errors.empty()) errors += "; ";
    if (now >= deadline) {
      errors +=
          ep.url + ": not tried (the " + std::to_string(budget.count()) + " ms budget was spent)";
      continue;
    }
    asio::io_context io;
    std::optional<json> answer;
    Error failed = with_stream(
        io, tls_ ? &tls_->context : nullptr, ep, std::min(deadline, now + options_.connect_timeout),
        [&](auto& stream) -> Error {
          auto& tcp = beast::get_lowest_layer(stream);
          tcp.expires_at(deadline);
          http::request<http::string_body> request = make_request(ep, path, payload);
          error_code ec = wait(
              io, [&](auto handler) { http::async_write(stream, request, std::move(handler)); });
          if (ec) return Error{"send: " + ec.message()};
          beast::flat_buffer buffer;
          http::response_parser<http::string_body> parser;
          parser.body_limit(options_.max_body_bytes);
          ec = wait(io, [&](auto handler) {
            http::async_read(stream, buffer, parser, std::move(handler));
          });
          if (ec) return Error{"receive: " + ec.message()};
          const auto& response = parser.get();
          json parsed = json::parse(response.body(), nullptr, false);
          if (response.result() != http::status::ok) {
            return Error{
                "HTTP " + std::to_string(response.result_int()) + ": " +
                (parsed.is_discarded() ? response.body().substr(0, 200) : gateway_error(parsed))};
          }
          if (parsed.is_discarded() || !parsed.is_object()) {
            return Error{"the answer is not a JSON object"};
          }
          answer = std::move(parsed);
          return Error{};
        });
    if (answer) {
      std::lock_guard lock(mutex_);
      preferred_ = index;
      return *std::move(answer);
    }
    errors += ep.url + ": " + failed.message;
  }
  return Error{"etcd: no endpoint answered " + path + " (" + errors + ")"};
}

Result<EtcdValue> EtcdClient::get(const std::string& key, std::chrono::milliseconds budget) {
  Result<json> answer = post("/v3/kv/range", json{{"key", base64_encode(key)}}, budget);
  if (!answer.ok()) return answer.error();
  EtcdValue out;
  out.header_revision = u64_field(answer->value("header", json::object()), "revision");
  const auto kvs = answer->find("kvs");
  if (kvs != answer->end() && kvs->is_array() && !kvs->empty()) {
    const json& kv = kvs->front();
    out.mod_revision = u64_field(kv, "mod_revision");
    Result<std::string> value = base64_decode(kv.value("value", std::string()));
    if (!value.ok()) return Error{"etcd: the value of " + key + " is " + value.error().message};
    out.value = std::move(value.value());
  }
  return out;
}

Result<EtcdTxnOutcome> EtcdClient::put_if(const std::string& key, const std::string& value,
                                          std::uint64_t expected_mod_revision,
                                          std::chrono::milliseconds budget) {
  const std::string k = base64_encode(key);
  json compare =
      expected_mod_revision == 0
          ? json{{"target", "VERSION"}, {"key", k}, {"result", "EQUAL"}, {"version", "0"}}
          : json{{"target", "MOD"},
                 {"key", k},
                 {"result", "EQUAL"},
                 {"mod_revision", std::to_string(expected_mod_revision)}};
  const json txn{
      {"compare", json::array({compare})},
      {"success",
       json::array({json{{"request_put", json{{"key", k}, {"value", base64_encode(value)}}}}})}};
  Result<json> answer = post("/v3/kv/txn", txn, budget);
  if (!answer.ok()) return answer.error();
  EtcdTxnOutcome out;
  out.succeeded = answer->value("succeeded", false);
  out.revision = u64_field(answer->value("header", json::object()), "revision");
  return out;
}

Error EtcdClient::watch(const std::string& key, std::uint64_t start_revision,
                        const std::atomic<bool>& stop, const std::function<void()>& on_created,
                        const std::function<bool(const EtcdEvent&)>& on_event) {
  std::size_t index = 0;
  {
    std::lock_guard lock(mutex_);
    index = next_watch_ == 0 ? preferred_ : next_watch_ - 1;
  }
  const EtcdEndpoint& ep = options_.endpoints[index % options_.endpoints.size()];
  const json create{
      {"create_request",
       {{"key", base64_encode(key)}, {"start_revision", std::to_string(start_revision)}}}};
  asio::io_context io;
  const Clock::time_point setup_deadline = Clock::now() + kWatchSetup;
  Error ended = with_stream(
      io, tls_ ? &tls_->context : nullptr, ep, Clock::now() + options_.connect_timeout,
      [&](auto& stream) -> Error {
        auto& tcp = beast::get_lowest_layer(stream);
        tcp.expires_at(setup_deadline);
        http::request<http::string_body> request = make_request(ep, "/v3/watch", create.dump());
        // etcd ends the watch when its member loses the leader, so a partitioned member is
        // left for another.
        request.set("Grpc-Metadata-hasleader", "true");
        error_code ec =
            wait(io, [&](auto handler) { http::async_write(stream, request, std::move(handler)); });
        if (ec) return Error{"send: " + ec.message()};
        beast::flat_buffer buffer;
        http::response_parser<http::string_body> parser;
        parser.body_limit(boost::none);
        ec = wait(io, [&](auto handler) {
          http::async_read_header(stream, buffer, parser, std::move(handler));
        });
        if (ec) return Error{"receive: " + ec.message()};
        if (parser.get().result() != http::status::ok) {
          return Error{"watch: HTTP " + std::to_string(parser.get().result_int())};
        }
        tcp.expires_never();
        for (;;) {
          ec = wait_or_stop(io, tcp.socket(), stop, [&](auto handler) {
            http::async_read_some(stream, buffer, parser, std::move(handler));
          });
          if (ec == asio::error::operation_aborted && stop.load()) return Error{"stopped"};
          if (ec && ec != http::error::need_buffer) return Error{"watch stream: " + ec.message()};
          std::string& body = parser.get().body();
          std::size_t start = 0;
          for (std::size_t nl = body.find('\n'); nl != std::string::npos;
               nl = body.find('\n', start)) {
            const std::string_view line(body.data() + start, nl - start);
            start = nl + 1;
            if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
            const json message = json::parse(line, nullptr, false);
            if (message.is_discarded()) return Error{"watch stream: a message is not JSON"};
            if (message.contains("error")) {
              return Error{"watch: " + gateway_error(message["error"])};
            }
            const json& result = message.value("result", json::object());
            if (result.value("created", false)) on_created();
            if (result.value("canceled", false)) {
              return Error{"watch canceled by etcd: " +
                           result.value("cancel_reason", std::string("no reason given")) +
                           (u64_field(result, "compact_revision") != 0
                                ? " (compacted at " +
                                      std::to_string(u64_field(result, "compact_revision")) + ")"
                                : "")};
            }
            const auto events = result.find("events");
            if (events == result.end() || !events->is_array()) continue;
            for (const json& e : *events) {
              EtcdEvent event;
              event.deleted = e.value("type", std::string()) == "DELETE";
              const json& kv = e.value("kv", json::object());
              event.mod_revision = u64_field(kv, "mod_revision");
              Result<std::string> value = base64_decode(kv.value("value", std::string()));
              if (!value.ok()) return Error{"watch: a value is " + value.error().message};
              event.value = std::move(value.value());
              if (!on_event(event)) return Error{"stopped"};
            }
          }
          body.erase(0, start);
          if (parser.is_done()) return Error{"watch stream ended by " + ep.url};
        }
      });
  {
    // The next watch goes to the next endpoint, so a member that keeps failing is left.
    std::lock_guard lock(mutex_);
    next_watch_ = (index + 1) % options_.endpoints.size() + 1;
  }
  return Error{ep.url + ": " + ended.message};
}

Result<std::unique_ptr<EtcdClient>> make_etcd_client(const config::EtcdSettings& settings) {
  EtcdClientOptions options;
  for (const std::string& url : settings.endpoints) {
    Result<EtcdEndpoint> endpoint = parse_etcd_endpoint(url);
    if (!endpoint.ok()) return Error{"controlplane.etcd.endpoints: " + endpoint.error().message};
    options.endpoints.push_back(std::move(endpoint.value()));
  }
  if (options.endpoints.empty()) return Error{"controlplane.etcd.endpoints: none listed"};
  options.tls = settings.tls;
  auto client = std::make_unique<EtcdClient>(std::move(options));
  if (Status ok = client->init(); !ok.ok()) return ok.error();
  return client;
}

}  // namespace sluice::cp

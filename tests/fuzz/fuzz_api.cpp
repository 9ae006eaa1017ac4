// libFuzzer target for the control-plane API: bytes as they arrive on the API socket, parsed
// into requests as the server parses them (Beast, the same body limit, keep-alive: one input
// may hold several requests), each routed and handled by ApiRoutes::handle over a real
// StateStore whose state file lives in a fresh directory under /dev/shm. Besides sanitizers,
// every answer is checked against the API's promises (docs/operations.md):
//   - a status of 200..599 and a JSON object body (with "error" on a 4xx or 5xx);
//   - a refused request (4xx, 5xx) and any GET change nothing: same state, same revision;
//   - an accepted change moves the revision by one, leaves a valid desired state and has
//     persisted it: the state file loads back to the same state.
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include <boost/beast/_experimental/test/stream.hpp>

#include "api/api_routes.hpp"
#include "fuzz_check.hpp"
#include "sluice/config/strict_json.hpp"
#include "sluice/config/validate.hpp"
#include "sluice/config/yaml.hpp"

namespace sluice::cp {
namespace {

IpAddress ip(const char* text) {
  return *IpAddress::parse(text);
}

// Two VIPs (IPv4 with two backends, IPv6 with one) for the seeds' requests to work on.
config::State initial_state() {
  config::State s;
  s.dataplane.next_hop_mac = {0x02, 0, 0, 0, 0, 0xfe};
  s.dataplane.tunnel_source_v4 = ip("198.18.0.1");
  s.dataplane.tunnel_source_v6 = ip("2001:db8::1");
  config::Vip web;
  web.address = ip("198.18.0.10");
  web.port = 80;
  web.backends = {config::Backend{ip("198.18.1.1"), 1, false, {}, {}, {}},
                  config::Backend{ip("198.18.1.2"), 2, false, {}, {}, {}}};
  s.vips.push_back(web);
  config::Vip dns;
  dns.address = ip("2001:db8::10");
  dns.port = 53;
  dns.protocol = config::Protocol::udp;
  dns.backends = {config::Backend{ip("2001:db8:1::1"), 1, false, {}, {}, {}}};
  s.vips.push_back(dns);
  return s;
}

std::string temp_root() {
  std::error_code ec;
  return std::filesystem::is_directory("/dev/shm", ec) ? "/dev/shm" : "/tmp";
}

class Directory {
 public:
  Directory() {
    std::string pattern = temp_root() + "/sluice-fuzz-api-XXXXXX";
    FUZZ_CHECK(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~Directory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  Directory(const Directory&) = delete;
  Directory& operator=(const Directory&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void check_answer(const HttpRequest& request, const HttpResponse& response,
                  const config::State& before, std::uint64_t revision_before,
                  const StateStore& store) {
  const unsigned status = response.result_int();
  FUZZ_CHECK(status >= 200 && status <= 599);
  const Result<nlohmann::json> body = config::parse_strict_json(response.body(), "response");
  if (!body.ok()) FUZZ_CHECK_EQ_TEXT("", body.error().message);
  FUZZ_CHECK(body->is_object());
  const bool refused = status >= 400;
  if (refused) FUZZ_CHECK(body->contains("error") && (*body)["error"].is_string());

  const std::uint64_t revision = store.revision();
  if (refused || request.method() == http::verb::get) {
    FUZZ_CHECK(revision == revision_before);
    FUZZ_CHECK(store.desired() == before);
    return;
  }
  if (revision == revision_before) {
    FUZZ_CHECK(store.desired() == before);
    return;
  }
  FUZZ_CHECK(revision == revision_before + 1);
  const config::State after = store.desired();
  const Status valid = config::validate_desired(after);
  if (!valid.ok()) FUZZ_CHECK_EQ_TEXT("", valid.error().message);
  const Result<config::State> persisted = config::load_yaml_file(store.state_file());
  if (!persisted.ok()) FUZZ_CHECK_EQ_TEXT("", persisted.error().message);
  FUZZ_CHECK(*persisted == after);
}

void check(std::string_view input) {
  static const config::State initial = initial_state();
  const Directory dir;
  StateStore store(initial, dir.path() + "/state.yaml");
  HealthTable health;
  DataplaneSync sync(store, health, {});
  ApiRoutes routes(store, health, sync);

  // The server's reading: one parser per request on a kept-alive connection's buffer.
  asio::io_context io;
  beast::test::stream stream(io);
  stream.append(beast::string_view(input.data(), input.size()));
  stream.close_remote();
  beast::flat_buffer buffer;
  for (int requests = 0; requests < 64; ++requests) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(kMaxRequestBodyBytes);
    boost::system::error_code ec;
    http::read(stream, buffer, parser, ec);
    if (ec) return;  // end of input, or what the server answers with 413 or a close
    const HttpRequest& request = parser.get();
    const config::State before = store.desired();
    const std::uint64_t revision_before = store.revision();
    const HttpResponse response = routes.handle(request);
    check_answer(request, response, before, revision_before, store);
    if (!request.keep_alive()) return;
  }
}

}  // namespace
}  // namespace sluice::cp

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // every change is logged; the fuzzer makes millions
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sluice::cp::check(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}

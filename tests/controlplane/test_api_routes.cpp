// The API as a function: valid changes are applied and persisted, invalid input is refused
// with a 4xx naming the field and changes nothing, concurrent changes lose nothing.
#include "api/api_routes.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "sluice/config/names.hpp"
#include "sluice/config/yaml.hpp"
#include "temp_dir.hpp"
#include "test_state.hpp"

namespace sluice::cp {
namespace {

using nlohmann::json;
using testing::backend;
using testing::base_state;
using testing::read_file;
using testing::TempDir;
using testing::vip;

class ApiRoutesTest : public ::testing::Test {
 protected:
  ApiRoutesTest()
      : store_(initial(), dir_.file("state.yaml")),
        sync_(store_, health_, {}),
        routes_(store_, health_, sync_) {}

  static config::State initial() {
    config::State s = base_state();
    s.vips.push_back(vip("198.18.0.10", 80, {backend("198.18.1.1"), backend("198.18.1.2", 2)}));
    return s;
  }

  HttpResponse call(http::verb method, const std::string& target, const std::string& body = "") {
    HttpRequest request{method, target, 11};
    request.body() = body;
    request.prepare_payload();
    return routes_.handle(request);
  }

  static json body_of(const HttpResponse& r) { return json::parse(r.body()); }

  TempDir dir_;
  StateStore store_;
  HealthTable health_;
  DataplaneSync sync_;
  ApiRoutes routes_;
};

TEST_F(ApiRoutesTest, ListVips) {
  const HttpResponse r = call(http::verb::get, "/v1/vips");
  ASSERT_EQ(r.result_int(), 200u) << r.body();
  const json b = body_of(r);
  ASSERT_EQ(b["vips"].size(), 1u);
  EXPECT_EQ(b["vips"][0]["vip"], "198.18.0.10:80/tcp");
  EXPECT_EQ(b["vips"][0]["backends"][1]["weight"], 2);
}

TEST_F(ApiRoutesTest, ListBackendsOfEveryVipOrOne) {
  ASSERT_EQ(call(http::verb::post, "/v1/vips",
                 R"({"address":"198.18.0.11","port":53,"protocol":"udp",
                     "backends":[{"address":"198.18.1.5","weight":4}]})")
                .result_int(),
            201u);

  HttpResponse r = call(http::verb::get, "/v1/backends");
  ASSERT_EQ(r.result_int(), 200u) << r.body();
  json all = body_of(r)["backends"];
  ASSERT_EQ(all.size(), 3u) << all.dump();
  EXPECT_EQ(all[0]["vip"], "198.18.0.10:80/tcp");
  EXPECT_EQ(all[0]["address"], "198.18.1.1");
  EXPECT_EQ(all[1]["vip"], "198.18.0.10:80/tcp");
  EXPECT_EQ(all[1]["address"], "198.18.1.2");
  EXPECT_EQ(all[1]["weight"], 2);
  EXPECT_EQ(all[2]["vip"], "198.18.0.11:53/udp");
  EXPECT_EQ(all[2]["address"], "198.18.1.5");
  EXPECT_EQ(all[2]["weight"], 4);

  r = call(http::verb::get, "/v1/backends?vip=198.18.0.11:53/udp");
  ASSERT_EQ(r.result_int(), 200u) << r.body();
  json one = body_of(r)["backends"];
  ASSERT_EQ(one.size(), 1u) << one.dump();
  EXPECT_EQ(one[0]["address"], "198.18.1.5");

  r = call(http::verb::get, "/v1/backends?vip=198.18.0.99:80/tcp");
  EXPECT_EQ(r.result_int(), 404u) << r.body();
}

TEST_F(ApiRoutesTest, AddVipThenBackendThenWeightDrainRemove) {
  HttpResponse r =
      call(http::verb::post, "/v1/vips",
           R"({"address":"198.18.0.11","port":53,"protocol":"udp","scheduler":"source-hash",
                            "backends":[{"address":"198.18.1.5"}]})");
  ASSERT_EQ(r.result_int(), 201u) << r.body();
  EXPECT_EQ(body_of(r)["revision"], 1);

  r = call(http::verb::post, "/v1/backends?vip=198.18.0.11%3A53%2Fudp",
           R"({"address":"198.18.1.6","weight":3})");
  ASSERT_EQ(r.result_int(), 201u) << r.body();
  r = call(http::verb::put, "/v1/backends/weight?vip=198.18.0.11:53/udp&address=198.18.1.6",
           R"({"weight":9})");
  ASSERT_EQ(r.result_int(), 200u) << r.body();
  r = call(http::verb::post, "/v1/backends/drain?vip=198.18.0.11:53/udp&address=198.18.1.5");
  ASSERT_EQ(r.result_int(), 200u) << r.body();

  config::State s = store_.desired();
  ASSERT_EQ(s.vips.size(), 2u);
  EXPECT_EQ(s.vips[1].scheduler, config::Scheduler::source_hash);
  ASSERT_EQ(s.vips[1].backends.size(), 2u);
  EXPECT_TRUE(s.vips[1].backends[0].drained);
  EXPECT_EQ(s.vips[1].backends[1].weight, 9u);

  r = call(http::verb::post, "/v1/backends/undrain?vip=198.18.0.11:53/udp&address=198.18.1.5");
  ASSERT_EQ(r.result_int(), 200u) << r.body();
  r = call(http::verb::delete_, "/v1/backends?vip=198.18.0.11:53/udp&address=198.18.1.5");
  ASSERT_EQ(r.result_int(), 200u) << r.body();
  r = call(http::verb::delete_, "/v1/vips?vip=198.18.0.11:53/udp");
  ASSERT_EQ(r.result_int(), 200u) << r.body();
  EXPECT_EQ(store_.desired(), initial());
  EXPECT_EQ(store_.revision(), 7u);
}

struct BadInput {
  http::verb method;
  std::string target;
  std::string body;
  unsigned status;
  std::string message_part;  // the field (or thing) the message must name
};

TEST_F(ApiRoutesTest, BadInputIsRefusedAndChangesNothing) {
  // One accepted change first, so the state file exists and can be compared byte for byte.
  ASSERT_EQ(call(http::verb::put, "/v1/backends/weight?vip=198.18.0.10:80/tcp&address=198.18.1.1",
                 R"({"weight":5})")
                .result_int(),
            200u);
  const config::State before = store_.desired();
  const std::string file_before = read_file(store_.state_file());
  ASSERT_FALSE(file_before.empty());

  const std::string vip = "vip=198.18.0.10:80/tcp";
  const std::vector<BadInput> cases = {
      {http::verb::post, "/v1/vips", "not json", 400, "body"},
      {http::verb::post, "/v1/vips", "[1,2]", 400, "body"},
      {http::verb::post, "/v1/vips", R"({"address":"198.18.0.300","port":80,"protocol":"tcp"})",
       400, "address"},
      {http::verb::post, "/v1/vips", R"({"address":"198.18.0.11","port":70000,"protocol":"tcp"})",
       400, "port"},
      {http::verb::post, "/v1/vips", R"({"address":"198.18.0.11","port":80,"protocol":"sctp"})",
       400, "protocol"},
      {http::verb::post, "/v1/vips",
       R"({"address":"198.18.0.11","port":80,"protocol":"tcp","colour":"red"})", 400, "colour"},
      {http::verb::post, "/v1/vips",
       R"({"address":"198.18.0.11","port":80,"protocol":"tcp","scheduler":"fastest"})", 400,
       "scheduler"},
      {http::verb::post, "/v1/vips",
       R"({"address":"198.18.0.11","port":80,"protocol":"tcp","backends":[{"address":"198.18.1.1","weight":70000}]})",
       400, "weight"},
      {http::verb::post, "/v1/vips",
       R"({"address":"198.18.0.11","port":80,"protocol":"tcp","health_check":{"type":"http","interval_ms":100,"timeout_ms":500}})",
       400, "timeout_ms"},
      {http::verb::post, "/v1/vips", R"({"address":"198.18.0.10","port":80,"protocol":"tcp"})", 409,
       "already exists"},
      {http::verb::post, "/v1/backends", R"({"address":"198.18.1.9"})", 400, "vip"},
      {http::verb::post, "/v1/backends?vip=198.18.0.10:http", R"({"address":"198.18.1.9"})", 400,
       "vip"},
      {http::verb::post, "/v1/backends?" + vip, R"({"address":"banana"})", 400, "backend.address"},
      {http::verb::post, "/v1/backends?" + vip, R"({"address":"198.18.1.9","weight":-1})", 400,
       "weight"},
      {http::verb::post, "/v1/backends?" + vip, R"({"address":"198.18.1.1"})", 409, "198.18.1.1"},
      {http::verb::post, "/v1/backends?vip=198.18.0.99:80/tcp", R"({"address":"198.18.1.9"})", 404,
       "198.18.0.99:80/tcp"},
      {http::verb::put, "/v1/backends/weight?" + vip + "&address=198.18.1.1", R"({"weight":-1})",
       400, "weight"},
      {http::verb::put, "/v1/backends/weight?" + vip + "&address=198.18.1.1", R"({"weight":"3"})",
       400, "weight"},
      {http::verb::put, "/v1/backends/weight?" + vip + "&address=198.18.1.1", R"({"weight":65536})",
       400, "weight"},
      {http::verb::put, "/v1/backends/weight?" + vip + "&address=198.18.1.1",
       R"({"weight":1,"x":2})", 400, "x"},
      {http::verb::put, "/v1/backends/weight?" + vip + "&address=198.18.1.1", "", 400, "body"},
      {http::verb::put, "/v1/backends/weight?" + vip + "&address=198.18.1.77", R"({"weight":3})",
       404, "198.18.1.77"},
      {http::verb::put, "/v1/backends/weight?" + vip, R"({"weight":3})", 400, "address"},
      {http::verb::delete_, "/v1/backends?" + vip + "&address=198.18.1.77", "", 404, "198.18.1.77"},
      {http::verb::delete_, "/v1/vips", "", 400, "vip"},
      {http::verb::delete_, "/v1/vips?vip=198.18.0.99:80/tcp", "", 404, "198.18.0.99"},
      {http::verb::post, "/v1/backends/drain?" + vip + "&address=1.2.3", "", 400, "address"},
      {http::verb::post, "/v1/backends/drain?vip=%zz", "", 400, "percent"},
      {http::verb::get, "/v1/explain?src=198.18.2.1&dst=198.18.0.10&src_port=x&dst_port=80", "",
       400, "src_port"},
      {http::verb::get, "/v1/explain?src=nope&dst=198.18.0.10&src_port=1&dst_port=80", "", 400,
       "src"},
      {http::verb::get,
       "/v1/explain?src=198.18.2.1&dst=198.18.0.10&src_port=1&dst_port=80&protocol=icmp", "", 400,
       "protocol"},
      {http::verb::get, "/v1/nothing", "", 404, "/v1/nothing"},
      {http::verb::patch, "/v1/vips", "", 405, "PATCH"},
  };
  for (const BadInput& c : cases) {
    const HttpResponse r = call(c.method, c.target, c.body);
    EXPECT_EQ(r.result_int(), c.status) << c.target << " " << c.body << " -> " << r.body();
    const json b = json::parse(r.body(), nullptr, false);
    ASSERT_TRUE(b.is_object() && b.contains("error")) << r.body();
    EXPECT_NE(b["error"].get<std::string>().find(c.message_part), std::string::npos)
        << c.target << " " << c.body << " -> " << b["error"];
    EXPECT_EQ(store_.desired(), before) << c.target << " " << c.body;
    EXPECT_EQ(read_file(store_.state_file()), file_before) << c.target << " " << c.body;
  }
  EXPECT_EQ(store_.revision(), 1u);
}

TEST_F(ApiRoutesTest, HealthAndStatusCountLocalErrorsApart) {
  BackendHealth h;
  h.type = config::HealthCheckType::tcp;
  h.healthy = true;
  h.checks = 5;
  h.local_errors = 2;
  h.last = ProbeOutcome{false, {}, "local error: connect: Too many open files", true};
  health_.set(BackendRef{config::key_of(initial().vips[0]), testing::ip("198.18.1.1")}, h);

  const json backends = body_of(call(http::verb::get, "/v1/health"))["backends"];
  ASSERT_EQ(backends.size(), 2u);
  EXPECT_EQ(backends[0]["health"], "up");
  EXPECT_EQ(backends[0]["failures"], 0);
  EXPECT_EQ(backends[0]["local_errors"], 2);
  EXPECT_EQ(backends[0]["last"]["local_error"], true);
  EXPECT_EQ(backends[0]["last"]["success"], false);
  EXPECT_EQ(body_of(call(http::verb::get, "/v1/status"))["health_local_errors"], 2);
}

TEST_F(ApiRoutesTest, ExplainWithoutReachableDataplaneIs503) {
  const HttpResponse r =
      call(http::verb::get,
           "/v1/explain?src=198.18.2.1&dst=198.18.0.10&src_port=40000&dst_port=80&protocol=tcp");
  EXPECT_EQ(r.result_int(), 503u) << r.body();
  EXPECT_NE(r.body().find("no dataplane is reachable"), std::string::npos) << r.body();
}

TEST_F(ApiRoutesTest, ExplainOnAnUnknownDataplaneIs404) {
  const HttpResponse r = call(http::verb::get,
                              "/v1/explain?src=198.18.2.1&dst=198.18.0.10&src_port=40000&"
                              "dst_port=80&protocol=tcp&dataplane=nope");
  EXPECT_EQ(r.result_int(), 404u) << r.body();
  EXPECT_EQ(body_of(r)["error"], "dataplane: no dataplane named \"nope\" (see `dataplanes:`)");
}

TEST_F(ApiRoutesTest, FiftyConcurrentAddsLoseNothing) {
  constexpr int kAdds = 50;
  std::vector<std::thread> threads;
  std::vector<unsigned> statuses(kAdds);
  for (int i = 0; i < kAdds; ++i) {
    threads.emplace_back([&, i] {
      const std::string body = R"({"address":"198.18.3.)" + std::to_string(i + 1) + R"("})";
      statuses[i] =
          call(http::verb::post, "/v1/backends?vip=198.18.0.10:80/tcp", body).result_int();
    });
  }
  for (auto& t : threads)
    t.join();
  for (int i = 0; i < kAdds; ++i)
    EXPECT_EQ(statuses[i], 201u) << i;
  EXPECT_EQ(store_.desired().vips[0].backends.size(), 2u + kAdds);
  EXPECT_EQ(store_.revision(), static_cast<std::uint64_t>(kAdds));
  Result<config::State> persisted = config::load_yaml_file(store_.state_file());
  ASSERT_TRUE(persisted.ok()) << persisted.error().message;
  EXPECT_EQ(persisted->vips[0].backends.size(), 2u + kAdds);
}

TEST_F(ApiRoutesTest, StatusShowsMaglevSharesThatSumToOne) {
  const HttpResponse r = call(http::verb::get, "/v1/status");
  ASSERT_EQ(r.result_int(), 200u);
  const json b = body_of(r);
  const json& backends = b["vips"][0]["backends"];
  ASSERT_EQ(backends.size(), 2u);
  const double a = backends[0]["maglev_share"].get<double>();
  const double c = backends[1]["maglev_share"].get<double>();
  EXPECT_NEAR(a + c, 1.0, 1e-9);
  EXPECT_NEAR(c / a, 2.0, 0.1);  // weights 1 and 2
  EXPECT_EQ(backends[0]["health"], "unchecked");
  EXPECT_EQ(backends[0]["state"], "up");
  EXPECT_EQ(backends[1]["effective_weight"], 2);
}

TEST_F(ApiRoutesTest, ConfigValidateNamesTheLine) {
  HttpResponse r =
      call(http::verb::post, "/v1/config/validate",
           "dataplane:\n  next_hop_mac: \"02:00:00:00:00:fe\"\nvips:\n  - address: 198.18.0.10\n"
           "    port: 80\n    protocol: tcp\n    schedular: maglev\n");
  EXPECT_EQ(r.result_int(), 422u);
  EXPECT_NE(r.body().find(":7:"), std::string::npos) << r.body();
  EXPECT_NE(r.body().find("schedular"), std::string::npos) << r.body();
}

TEST_F(ApiRoutesTest, AddressWithANulInsideIsRefused) {
  // JSON may carry \u0000; the address must not be cut at it.
  const HttpResponse r = call(http::verb::post, "/v1/backends?vip=198.18.0.10:80/tcp",
                              R"({"address":"198.18.1.30\u0000junk"})");
  EXPECT_EQ(r.result_int(), 400u) << r.body();
  EXPECT_NE(r.body().find("backend.address"), std::string::npos) << r.body();
  EXPECT_EQ(store_.desired(), initial());
  EXPECT_EQ(
      call(http::verb::post, "/v1/backends/drain?vip=198.18.0.10:80/tcp&address=198.18.1.1%00x")
          .result_int(),
      400u);
}

TEST_F(ApiRoutesTest, KeyGivenTwiceIsRefused) {
  HttpResponse r =
      call(http::verb::put, "/v1/backends/weight?vip=198.18.0.10:80/tcp&address=198.18.1.1",
           R"({"weight":5,"weight":70000})");
  EXPECT_EQ(r.result_int(), 400u) << r.body();
  EXPECT_EQ(body_of(r)["error"], "body: weight: key given twice");
  r = call(http::verb::post, "/v1/vips",
           R"({"address":"198.18.0.11","port":80,"protocol":"tcp",
               "backends":[{"address":"198.18.1.5","weight":1,"weight":2}]})");
  EXPECT_EQ(r.result_int(), 400u) << r.body();
  EXPECT_EQ(body_of(r)["error"], "body: backends[0].weight: key given twice");
  EXPECT_EQ(store_.desired(), initial());
  EXPECT_EQ(store_.revision(), 0u);
}

TEST_F(ApiRoutesTest, ConfigValidateRefusesAnAliasBombAtOnce) {
  // 200 backends written once and repeated by 2000 VIPs: 400,000 backends from 90 KB.
  std::string body =
      "dataplane: {next_hop_mac: \"02:00:00:00:00:01\", tunnel_source_v4: 198.18.0.1}\n"
      "vips:\n  - {address: 198.18.0.1, port: 80, protocol: tcp, backends: &b [";
  for (int i = 0; i < 200; ++i)
    body += "{address: 10.1.0." + std::to_string(i + 1) + "},";
  body += "]}\n";
  for (int i = 0; i < 2000; ++i) {
    body += "  - {address: 10.9." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) +
            ", port: 80, protocol: tcp, backends: *b}\n";
  }
  ASSERT_LT(body.size(), kMaxRequestBodyBytes);
  const auto start = std::chrono::steady_clock::now();
  const HttpResponse r = call(http::verb::post, "/v1/config/validate", body);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.result_int(), 422u) << r.body();
  EXPECT_EQ(body_of(r)["error"],
            "<request body>:3:62: YAML anchors and aliases (&b) are not supported: write each "
            "value out in full");
  EXPECT_LT(took, std::chrono::seconds(2));
}

}  // namespace
}  // namespace sluice::cp

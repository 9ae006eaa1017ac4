#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "sluice/config/validate.hpp"
#include "sluice/lb/maglev.hpp"
#include "state_fixture.hpp"

namespace sluice::config {
namespace {

using ::testing::HasSubstr;
using testing::ip;
using testing::valid_state;

TEST(Validate, TheFixtureIsValid) {
  const auto s = validate(valid_state());
  EXPECT_TRUE(s.ok()) << s.error().message;
  EXPECT_TRUE(validate(State{}).ok());
}

struct Case {
  const char* name;
  std::function<void(State&)> mutate;
  const char* path;     // the field the error must name
  const char* message;  // substring of its message
};

// Each case breaks one rule of a valid state and expects exactly one error, at `path`.
const Case kCases[] = {
    // generation: exact in JSON readers that hold numbers as doubles
    {"generation_at_the_maximum", [](State& s) { s.generation = (std::uint64_t{1} << 53) - 1; },
     nullptr, nullptr},
    {"generation_above_the_maximum", [](State& s) { s.generation = std::uint64_t{1} << 53; },
     "generation", "9007199254740992 is above the maximum generation 9007199254740991 (2^53-1)"},
    {"generation_2_to_the_64_minus_1", [](State& s) { s.generation = ~std::uint64_t{0}; },
     "generation", "18446744073709551615 is above the maximum generation"},
    // dataplane
    {"mtu_below_v4_minimum",
     [](State& s) {
       s.vips.pop_back();
       s.dataplane.mtu = 575;
     },
     "dataplane.mtu", "575 is out of range 576..9000"},
    {"mtu_v4_minimum_ok_without_v6",
     [](State& s) {
       s.vips.pop_back();
       s.dataplane.mtu = 576;
     },
     nullptr, nullptr},
    {"mtu_below_v6_minimum", [](State& s) { s.dataplane.mtu = 1279; }, "dataplane.mtu",
     "1279 is out of range 1280..9000 (IPv6 needs at least 1280)"},
    {"mtu_above_maximum", [](State& s) { s.dataplane.mtu = 9001; }, "dataplane.mtu",
     "out of range 1280..9000"},
    {"next_hop_mac_zero", [](State& s) { s.dataplane.next_hop_mac = {}; }, "dataplane.next_hop_mac",
     "required when there are VIPs"},
    {"next_hop_mac_zero_without_vips_ok",
     [](State& s) {
       s.dataplane.next_hop_mac = {};
       s.vips.clear();
     },
     nullptr, nullptr},
    {"next_hop_mac_multicast",
     [](State& s) { s.dataplane.next_hop_mac = {0x01, 0, 0x5e, 0, 0, 1}; },
     "dataplane.next_hop_mac", "01:00:5e:00:00:01 is a multicast or broadcast address"},
    {"tunnel_source_v4_family", [](State& s) { s.dataplane.tunnel_source_v4 = ip("2001:db8::99"); },
     "dataplane.tunnel_source_v4", "2001:db8::99 is not IPv4"},
    {"tunnel_source_v6_family", [](State& s) { s.dataplane.tunnel_source_v6 = ip("198.18.0.99"); },
     "dataplane.tunnel_source_v6", "198.18.0.99 is not IPv6"},
    {"tunnel_source_unspecified", [](State& s) { s.dataplane.tunnel_source_v4 = ip("0.0.0.0"); },
     "dataplane.tunnel_source_v4", "0.0.0.0 is the unspecified address"},
    {"missing_v4_tunnel_source", [](State& s) { s.dataplane.tunnel_source_v4.reset(); },
     "vips[0].backends[0].address", "an IPv4 backend needs dataplane.tunnel_source_v4"},
    {"missing_v6_tunnel_source", [](State& s) { s.dataplane.tunnel_source_v6.reset(); },
     "vips[1].backends[0].address", "an IPv6 backend needs dataplane.tunnel_source_v6"},
    {"gue_port_zero", [](State& s) { s.dataplane.gue_port = 0; }, "dataplane.gue_port",
     "0 is out of range 1..65535"},
    {"outer_ttl_zero", [](State& s) { s.dataplane.outer_ttl = 0; }, "dataplane.outer_ttl",
     "0 is out of range 1..255"},
    {"flow_table_too_small", [](State& s) { s.dataplane.flow_table_entries = 1023; },
     "dataplane.flow_table_entries", "1023 is out of range 1024..134217728"},
    {"flow_table_too_large", [](State& s) { s.dataplane.flow_table_entries = (1u << 27) + 1; },
     "dataplane.flow_table_entries", "134217729 is out of range"},
    {"flow_table_limits_ok", [](State& s) { s.dataplane.flow_table_entries = 1u << 27; }, nullptr,
     nullptr},
    {"idle_timeout_zero", [](State& s) { s.dataplane.flow_idle_timeout_s = 0; },
     "dataplane.flow_idle_timeout_s", "0 is out of range 1..86400 s"},
    {"closed_timeout_above_idle", [](State& s) { s.dataplane.flow_closed_timeout_s = 301; },
     "dataplane.flow_closed_timeout_s", "301 must be 1..flow_idle_timeout_s (300)"},
    {"udp_timeout_too_long", [](State& s) { s.dataplane.udp_idle_timeout_s = 86401; },
     "dataplane.udp_idle_timeout_s", "86401 is out of range 1..86400 s"},
    // VIPs
    {"duplicate_vip", [](State& s) { s.vips.push_back(s.vips[0]); }, "vips[2]",
     "198.18.0.10:80/tcp is already defined by vips[0]"},
    {"same_address_other_protocol_ok",
     [](State& s) {
       s.vips.push_back(s.vips[0]);
       s.vips[2].protocol = Protocol::udp;
     },
     nullptr, nullptr},
    {"any_port_overlaps_specific_port",
     [](State& s) {
       s.vips.push_back(s.vips[0]);
       s.vips[2].port = 0;
     },
     "vips[2]", "198.18.0.10:0/tcp overlaps vips[0] (198.18.0.10:80/tcp)"},
    {"specific_port_overlaps_any_port",
     [](State& s) {
       s.vips[0].port = 0;
       s.vips.push_back(s.vips[0]);
       s.vips[2].port = 443;
     },
     "vips[2]", "198.18.0.10:443/tcp overlaps vips[0] (198.18.0.10:0/tcp)"},
    {"vip_multicast", [](State& s) { s.vips[0].address = ip("224.0.0.1"); }, "vips[0].address",
     "224.0.0.1 is a multicast address"},
    {"vip_loopback_v6", [](State& s) { s.vips[1].address = ip("::1"); }, "vips[1].address",
     "::1 is a loopback address"},
    {"vip_broadcast", [](State& s) { s.vips[0].address = ip("255.255.255.255"); },
     "vips[0].address", "the broadcast address"},
    {"unsupported_table_size", [](State& s) { s.vips[0].maglev_table_size = 65536; },
     "vips[0].maglev_table_size", "65536 is not a supported size (251, 1021, 4093, 16381, 65537, "},
    // backends
    {"duplicate_backend", [](State& s) { s.vips[0].backends[1].address = ip("198.18.1.1"); },
     "vips[0].backends[1].address", "198.18.1.1 is already backends[0] of this VIP"},
    {"same_backend_in_two_vips_ok",
     [](State& s) {
       s.vips.push_back(s.vips[0]);
       s.vips[2].port = 8080;
     },
     nullptr, nullptr},
    {"backend_is_the_vip", [](State& s) { s.vips[0].backends[0].address = ip("198.18.0.10"); },
     "vips[0].backends[0].address", "198.18.0.10 is a VIP address"},
    {"backend_is_another_vip", [](State& s) { s.vips[1].backends[0].address = ip("2001:db8::10"); },
     "vips[1].backends[0].address", "is a VIP address: packets would loop"},
    {"backend_is_the_tunnel_source",
     [](State& s) { s.vips[0].backends[0].address = ip("198.18.0.1"); },
     "vips[0].backends[0].address", "198.18.0.1 is the tunnel source address"},
    {"v6_vip_on_v4_backend", [](State& s) { s.vips[1].backends[0].address = ip("198.18.1.9"); },
     "vips[1].backends[0].address", "an IPv6 VIP cannot be carried to an IPv4 backend"},
    {"v4_vip_on_v6_backend_ok_ipip",
     [](State& s) { s.vips[0].backends[0].address = ip("2001:db8:1::9"); }, nullptr, nullptr},
    {"v4_vip_on_v6_backend_ok_gue",
     [](State& s) {
       s.vips[0].encap = Encap::gue;
       s.vips[0].backends[0].address = ip("2001:db8:1::9");
     },
     nullptr, nullptr},
    {"weight_too_large", [](State& s) { s.vips[0].backends[0].weight = 65536; },
     "vips[0].backends[0].weight", "65536 is out of range 0..65535"},
    {"weight_limits_ok",
     [](State& s) {
       s.vips[0].backends[0].weight = 0;
       s.vips[0].backends[1].weight = 65535;
     },
     nullptr, nullptr},
    {"backend_unspecified_v6", [](State& s) { s.vips[1].backends[0].address = ip("::"); },
     "vips[1].backends[0].address", ":: is the unspecified address"},
    {"empty_backends_ok", [](State& s) { s.vips[0].backends.clear(); }, nullptr, nullptr},
    // health checks
    {"health_timeout_not_below_interval",
     [](State& s) {
       s.vips[0].health_check = HealthCheck{};
       s.vips[0].health_check->type = HealthCheckType::tcp;
       s.vips[0].health_check->timeout_ms = 2000;
     },
     "vips[0].health_check.timeout_ms", "2000 must be at least 10 ms and below interval_ms (2000)"},
    {"health_interval_too_short",
     [](State& s) {
       s.vips[0].health_check = HealthCheck{};
       s.vips[0].health_check->type = HealthCheckType::tcp;
       s.vips[0].health_check->interval_ms = 99;
       s.vips[0].health_check->timeout_ms = 50;
     },
     "vips[0].health_check.interval_ms", "99 is out of range 100..3600000 ms"},
    {"health_rise_zero",
     [](State& s) {
       s.vips[0].health_check = HealthCheck{};
       s.vips[0].health_check->type = HealthCheckType::tcp;
       s.vips[0].health_check->rise = 0;
     },
     "vips[0].health_check.rise", "0 is out of range 1..100"},
    {"health_fall_too_large",
     [](State& s) {
       s.vips[0].backends[1].health_check = HealthCheck{};
       s.vips[0].backends[1].health_check->type = HealthCheckType::tcp;
       s.vips[0].backends[1].health_check->fall = 101;
     },
     "vips[0].backends[1].health_check.fall", "101 is out of range 1..100"},
    {"health_port_needed_for_any_port_vip",
     [](State& s) {
       s.vips[0].port = 0;
       s.vips[0].health_check = HealthCheck{};
       s.vips[0].health_check->type = HealthCheckType::tcp;
     },
     "vips[0].health_check.port", "required: the VIP takes any port"},
    {"health_none_needs_nothing",
     [](State& s) {
       s.vips[0].port = 0;
       s.vips[0].health_check = HealthCheck{};
       s.vips[0].health_check->timeout_ms = 999999;
     },
     nullptr, nullptr},
    {"http_path_on_tcp_check",
     [](State& s) {
       s.vips[0].health_check = HealthCheck{};
       s.vips[0].health_check->type = HealthCheckType::tcp;
       s.vips[0].health_check->http_path = "/x";
     },
     "vips[0].health_check.path", "applies only to http and https checks (type is tcp)"},
    {"udp_request_on_http_check",
     [](State& s) {
       s.vips[0].health_check = HealthCheck{};
       s.vips[0].health_check->type = HealthCheckType::http;
       s.vips[0].health_check->udp_request = "x";
     },
     "vips[0].health_check.request", "applies only to udp checks (type is http)"},
    {"http_path_without_slash",
     [](State& s) {
       s.vips[0].health_check = HealthCheck{};
       s.vips[0].health_check->type = HealthCheckType::https;
       s.vips[0].health_check->http_path = "healthz";
     },
     "vips[0].health_check.path", "\"healthz\" must start with '/'"},
    {"http_host_header_injection",
     [](State& s) {
       s.vips[0].health_check = HealthCheck{};
       s.vips[0].health_check->type = HealthCheckType::http;
       s.vips[0].health_check->http_host = "a\r\nX-Evil: 1";
     },
     "vips[0].health_check.host", "must not contain spaces or line breaks"},
    {"http_expect_status_range",
     [](State& s) {
       s.vips[0].health_check = HealthCheck{};
       s.vips[0].health_check->type = HealthCheckType::http;
       s.vips[0].health_check->expect_status = 99;
     },
     "vips[0].health_check.expect_status", "99 is out of range 100..599"},
    {"udp_request_too_long",
     [](State& s) {
       s.vips[1].health_check = HealthCheck{};
       s.vips[1].health_check->type = HealthCheckType::udp;
       s.vips[1].health_check->udp_request = std::string(1025, 'x');
     },
     "vips[1].health_check.request", "is 1025 bytes long; the limit is 1024"},
    {"udp_expect_not_utf8",
     [](State& s) {
       s.vips[1].health_check = HealthCheck{};
       s.vips[1].health_check->type = HealthCheckType::udp;
       s.vips[1].health_check->udp_expect = "\xff\xfe";
     },
     "vips[1].health_check.expect", "is not valid UTF-8"},
    // control plane
    {"metrics_listen_not_host_port",
     [](State& s) {
       s.controlplane = ControlplaneSettings{};
       s.controlplane->metrics_listen = "localhost:9780";
     },
     "controlplane.metrics_listen", "\"localhost:9780\" is not ADDRESS:PORT"},
    {"metrics_listen_v6_ok",
     [](State& s) {
       s.controlplane = ControlplaneSettings{};
       s.controlplane->metrics_listen = "[::1]:9780";
     },
     nullptr, nullptr},
    {"api_max_connections_zero",
     [](State& s) {
       s.controlplane = ControlplaneSettings{};
       s.controlplane->api_max_connections = 0;
     },
     "controlplane.api_max_connections", "0 is out of range 1..65536"},
    {"api_max_connections_too_many",
     [](State& s) {
       s.controlplane = ControlplaneSettings{};
       s.controlplane->api_max_connections = 65537;
     },
     "controlplane.api_max_connections", "65537 is out of range 1..65536"},
    {"api_max_connections_default_ok", [](State& s) { s.controlplane = ControlplaneSettings{}; },
     nullptr, nullptr},
    {"api_socket_too_long",
     [](State& s) {
       s.controlplane = ControlplaneSettings{};
       s.controlplane->api_socket = "/" + std::string(107, 'a');
     },
     "controlplane.api_socket", "must be a path of 1..107 bytes"},
    {"api_socket_nul",
     [](State& s) {
       s.controlplane = ControlplaneSettings{};
       s.controlplane->api_socket = std::string("/run/a.sock\0x", 13);
     },
     "controlplane.api_socket", "contains a NUL byte"},
    {"state_file_nul",
     [](State& s) {
       s.controlplane = ControlplaneSettings{};
       s.controlplane->state_file = std::string("/var/lib/s.yaml\0x", 17);
     },
     "controlplane.state_file", "contains a NUL byte"},
    {"control_socket_nul",
     [](State& s) {
       s.dataplanes = {{"lb1", std::string("/run/a.sock\0x", 13)}};
     },
     "dataplanes[0].control_socket", "contains a NUL byte"},
    {"api_socket_not_utf8",
     [](State& s) {
       s.controlplane = ControlplaneSettings{};
       s.controlplane->api_socket = "/run/\xff.sock";
     },
     "controlplane.api_socket", "is not valid UTF-8"},
    {"state_file_not_utf8",
     [](State& s) {
       s.controlplane = ControlplaneSettings{};
       s.controlplane->state_file = "/var/lib/\xc3(.yaml";
     },
     "controlplane.state_file", "is not valid UTF-8"},
    {"control_socket_not_utf8",
     [](State& s) {
       s.dataplanes = {{"lb1", "/run/\xed\xa0\x80.sock"}};  // a UTF-16 surrogate
     },
     "dataplanes[0].control_socket", "is not valid UTF-8"},
    {"dataplane_name_twice",
     [](State& s) {
       s.dataplanes = {{"lb1", "/run/a.sock"}, {"lb1", "/run/b.sock"}};
     },
     "dataplanes[1].name", "\"lb1\" is used twice"},
    {"dataplane_socket_twice",
     [](State& s) {
       s.dataplanes = {{"lb1", "/run/a.sock"}, {"lb2", "/run/a.sock"}};
     },
     "dataplanes[1].control_socket", "\"/run/a.sock\" is used twice"},
    {"dataplane_name_characters",
     [](State& s) {
       s.dataplanes = {{"lb 1", "/run/a.sock"}};
     },
     "dataplanes[0].name", "must be 1..64 of A-Z a-z 0-9 . _ -"},
};

class ValidateCase : public ::testing::TestWithParam<Case> {};

TEST_P(ValidateCase, FindsExactlyTheBrokenField) {
  const Case& c = GetParam();
  State s = valid_state();
  c.mutate(s);
  const auto errors = find_errors(s);
  if (c.path == nullptr) {
    EXPECT_TRUE(errors.empty()) << errors.front().to_string();
    EXPECT_TRUE(validate(s).ok());
    return;
  }
  ASSERT_EQ(errors.size(), 1u) << (errors.empty() ? "no error" : errors.back().to_string());
  EXPECT_EQ(errors[0].path, c.path);
  EXPECT_THAT(errors[0].message, HasSubstr(c.message));
  const auto status = validate(s);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message, errors[0].to_string());
}

INSTANTIATE_TEST_SUITE_P(Rules, ValidateCase, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Validate, TooManyBackendsForMaglev) {
  State s = valid_state();
  Vip& v = s.vips[1];  // IPv6: room for 65535 distinct backends in 2001:db8:1::/112
  v.backends.clear();
  for (std::size_t i = 0; i <= lb::kMaxMaglevBackends; ++i) {
    IpAddress a = ip("2001:db8:1::");
    a.bytes[14] = static_cast<std::uint8_t>((i + 1) >> 8);
    a.bytes[15] = static_cast<std::uint8_t>(i + 1);
    v.backends.push_back(Backend{a, 1, false, {}, {}, {}});
  }
  const auto errors = find_errors(s);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].to_string(),
            "vips: 65537 backends over all VIPs; the limit is 16384 (the dataplane keeps one "
            "stable id per VIP and backend address)");
  EXPECT_EQ(errors[1].to_string(), "vips[1].backends: 65535 backends; the limit is 65534");
  v.backends.pop_back();
  ASSERT_EQ(find_errors(s).size(), 1u) << "the Maglev limit is met, the dataplane's is not";
}

TEST(Validate, BackendsOverAllVipsUpToTheDataplanesLimit) {
  State s = valid_state();
  std::size_t others = 0;  // backends of the VIPs but vips[1]
  for (std::size_t i = 0; i < s.vips.size(); ++i)
    others += i == 1 ? 0 : s.vips[i].backends.size();
  Vip& v = s.vips[1];  // IPv6: room for distinct backends in 2001:db8:1::/112
  v.backends.clear();
  for (std::size_t i = 0; others + v.backends.size() < kMaxBackends; ++i) {
    IpAddress a = ip("2001:db8:1::");
    a.bytes[14] = static_cast<std::uint8_t>((i + 1) >> 8);
    a.bytes[15] = static_cast<std::uint8_t>(i + 1);
    v.backends.push_back(Backend{a, 1, false, {}, {}, {}});
  }
  EXPECT_TRUE(find_errors(s).empty()) << find_errors(s)[0].to_string();
  v.backends.push_back(Backend{ip("2001:db8:2::1"), 1, false, {}, {}, {}});
  const auto errors = find_errors(s);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "vips");
  EXPECT_EQ(errors[0].message.substr(0, 50), "16385 backends over all VIPs; the limit is 16384 (");
}

TEST(Validate, ReportsEveryProblemInFieldOrderAndCapsTheList) {
  State s = valid_state();
  for (int i = 0; i < 30; ++i)
    s.vips.push_back(s.vips[0]);  // 30 duplicates of vips[0]
  s.dataplane.mtu = 1;
  const auto errors = find_errors(s);
  ASSERT_EQ(errors.size(), 31u);
  EXPECT_EQ(errors[0].path, "dataplane.mtu");
  EXPECT_EQ(errors[1].path, "vips[2]");
  const auto status = validate(s);
  ASSERT_FALSE(status.ok());
  const std::string& m = status.error().message;
  EXPECT_EQ(std::count(m.begin(), m.end(), '\n'), 20);  // 20 lines, then the summary
  EXPECT_THAT(m, HasSubstr("\n... and 11 more"));
  EXPECT_EQ(m.rfind("dataplane.mtu: 1 is out of range", 0), 0u);
}

}  // namespace
}  // namespace sluice::config

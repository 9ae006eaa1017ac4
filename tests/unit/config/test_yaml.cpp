#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "sluice/config/names.hpp"
#include "sluice/config/yaml.hpp"
#include "state_fixture.hpp"

namespace sluice::config {
namespace {

using ::testing::HasSubstr;
using testing::ip;
using testing::valid_state;

// The example of issue 3, verbatim.
constexpr const char* kIssueExample = R"(dataplane:
  next_hop_mac: "02:00:00:00:00:fe"   # L2 destination of encapsulated packets
  tunnel_source_v4: 198.18.0.1        # outer IPv4 source
  tunnel_source_v6: "2001:db8::1"     # outer IPv6 source
  mtu: 1500
vips:
  - address: 198.18.0.10
    port: 80                          # 0 = any port
    protocol: tcp                     # tcp | udp
    scheduler: maglev
    encap: ipip                       # ipip | gue
    backends:
      - {address: 198.18.1.1, weight: 1}
      - {address: 198.18.1.2, weight: 1}
)";

std::string load_error(std::string_view text, Check check = Check::full) {
  auto r = load_yaml_string(text, "sluice.yaml", check);
  EXPECT_FALSE(r.ok()) << "expected an error for:\n" << text;
  return r.ok() ? std::string() : r.error().message;
}

TEST(Yaml, IssueExampleLoadsWithExactValues) {
  auto r = load_yaml_string(kIssueExample, "sluice.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const State& s = *r;
  EXPECT_EQ(s.generation, 0u);
  EXPECT_EQ(s.dataplane.next_hop_mac, (MacAddress{0x02, 0, 0, 0, 0, 0xfe}));
  EXPECT_EQ(s.dataplane.tunnel_source_v4, ip("198.18.0.1"));
  EXPECT_EQ(s.dataplane.tunnel_source_v6, ip("2001:db8::1"));
  EXPECT_EQ(s.dataplane.mtu, 1500);
  ASSERT_EQ(s.vips.size(), 1u);
  const Vip& v = s.vips[0];
  EXPECT_EQ(v.address, ip("198.18.0.10"));
  EXPECT_EQ(v.port, 80);
  EXPECT_EQ(v.protocol, Protocol::tcp);
  EXPECT_EQ(v.scheduler, Scheduler::maglev);
  EXPECT_EQ(v.encap, Encap::ipip);
  ASSERT_EQ(v.backends.size(), 2u);
  EXPECT_EQ(v.backends[0].address, ip("198.18.1.1"));
  EXPECT_EQ(v.backends[0].weight, 1u);
  EXPECT_EQ(v.backends[1].address, ip("198.18.1.2"));
  EXPECT_EQ(v.backends[1].weight, 1u);
  EXPECT_FALSE(s.controlplane.has_value());
  EXPECT_TRUE(s.dataplanes.empty());
}

TEST(Yaml, OmittedKeysTakeTheDocumentedDefaults) {
  auto r = load_yaml_string(R"(
dataplane:
  next_hop_mac: 02:00:00:00:00:01
  tunnel_source_v4: 198.18.0.1
vips:
  - address: 198.18.0.10
    port: 0
    protocol: udp
    backends:
      - address: 198.18.1.1
)");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const DataplaneSettings& d = r->dataplane;
  EXPECT_FALSE(d.tunnel_source_v6.has_value());
  EXPECT_EQ(d.mtu, 1500);
  EXPECT_EQ(d.gue_port, 6080);
  EXPECT_EQ(d.outer_ttl, 64);
  EXPECT_EQ(d.flow_table_entries, 1u << 20);
  EXPECT_EQ(d.flow_idle_timeout_s, 300u);
  EXPECT_EQ(d.flow_closed_timeout_s, 10u);
  EXPECT_EQ(d.udp_idle_timeout_s, 60u);
  const Vip& v = r->vips.at(0);
  EXPECT_EQ(v.port, 0);
  EXPECT_EQ(v.protocol, Protocol::udp);
  EXPECT_EQ(v.scheduler, Scheduler::maglev);
  EXPECT_EQ(v.encap, Encap::ipip);
  EXPECT_EQ(v.maglev_table_size, 65537u);
  EXPECT_EQ(v.fragments, FragmentPolicy::forward);
  EXPECT_EQ(v.all_down, AllDownPolicy::keep_last_healthy);
  EXPECT_FALSE(v.health_check.has_value());
  EXPECT_EQ(v.backends.at(0).weight, 1u);
  EXPECT_FALSE(v.backends.at(0).drained);
  EXPECT_FALSE(v.backends.at(0).health_check.has_value());
}

TEST(Yaml, EmptyDocumentIsAnEmptyState) {
  auto r = load_yaml_string("# nothing yet\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, State{});
}

TEST(Yaml, ControlPlaneKeysAndHealthChecksLoad) {
  auto r = load_yaml_string(R"(
generation: 42
dataplane:
  next_hop_mac: "02:00:00:00:00:fe"
  tunnel_source_v4: 198.18.0.1
  tunnel_source_v6: 2001:db8::1
  mtu: 9000
  gue_port: 6081
  outer_ttl: 32
  flow_table_entries: 4194304
  flow_idle_timeout_s: 600
  flow_closed_timeout_s: 5
  udp_idle_timeout_s: 30
vips:
  - address: 2001:db8::10
    port: 443
    protocol: tcp
    scheduler: least_connections
    encap: gue
    maglev_table_size: 65537
    fragments: drop
    all_down: drop
    health_check:
      type: https
      port: 8443
      interval_ms: 1000
      timeout_ms: 300
      rise: 3
      fall: 4
      path: /healthz
      host: www.example
      expect_status: 204
      expect_body: ok
    backends:
      - address: 2001:db8:1::1
        weight: 100
        drained: true
        health_check: {type: tcp, port: 22}
      - {address: 2001:db8:1::2, weight: 0}
  - address: 198.18.0.53
    port: 53
    protocol: udp
    scheduler: source-hash
    health_check: {type: udp, request: "ping\n", expect: pong}
    backends:
      - address: 2001:db8:1::53
controlplane:
  api_socket: /run/sluice/api.sock
  state_file: /var/lib/sluice/state.yaml
  metrics_listen: "[::1]:9780"
  api_max_connections: 32
dataplanes:
  - {name: lb1, control_socket: /run/sluice/lb1.sock}
  - {name: lb2, control_socket: /run/sluice/lb2.sock}
)");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const State& s = *r;
  EXPECT_EQ(s.generation, 42u);
  EXPECT_EQ(s.dataplane.mtu, 9000);
  EXPECT_EQ(s.dataplane.gue_port, 6081);
  EXPECT_EQ(s.dataplane.outer_ttl, 32);
  EXPECT_EQ(s.dataplane.flow_table_entries, 4194304u);
  EXPECT_EQ(s.dataplane.flow_idle_timeout_s, 600u);
  EXPECT_EQ(s.dataplane.flow_closed_timeout_s, 5u);
  EXPECT_EQ(s.dataplane.udp_idle_timeout_s, 30u);

  const Vip& web = s.vips.at(0);
  EXPECT_EQ(web.scheduler, Scheduler::least_connections);
  EXPECT_EQ(web.encap, Encap::gue);
  EXPECT_EQ(web.fragments, FragmentPolicy::drop);
  EXPECT_EQ(web.all_down, AllDownPolicy::drop);
  ASSERT_TRUE(web.health_check.has_value());
  const HealthCheck& hc = *web.health_check;
  EXPECT_EQ(hc.type, HealthCheckType::https);
  EXPECT_EQ(hc.port, 8443);
  EXPECT_EQ(hc.interval_ms, 1000u);
  EXPECT_EQ(hc.timeout_ms, 300u);
  EXPECT_EQ(hc.rise, 3u);
  EXPECT_EQ(hc.fall, 4u);
  EXPECT_EQ(hc.http_path, "/healthz");
  EXPECT_EQ(hc.http_host, "www.example");
  EXPECT_EQ(hc.expect_status, 204);
  EXPECT_EQ(hc.expect_body, "ok");
  EXPECT_EQ(web.backends.at(0).weight, 100u);
  EXPECT_TRUE(web.backends.at(0).drained);
  ASSERT_TRUE(web.backends.at(0).health_check.has_value());
  EXPECT_EQ(web.backends.at(0).health_check->type, HealthCheckType::tcp);
  EXPECT_EQ(web.backends.at(0).health_check->port, 22);
  EXPECT_EQ(web.backends.at(1).weight, 0u);

  const Vip& dns = s.vips.at(1);
  EXPECT_EQ(dns.scheduler, Scheduler::source_hash);
  EXPECT_EQ(dns.health_check->udp_request, "ping\n");
  EXPECT_EQ(dns.health_check->udp_expect, "pong");
  EXPECT_EQ(dns.backends.at(0).address, ip("2001:db8:1::53"));  // 4in6

  ASSERT_TRUE(s.controlplane.has_value());
  EXPECT_EQ(s.controlplane->api_socket, "/run/sluice/api.sock");
  EXPECT_EQ(s.controlplane->state_file, "/var/lib/sluice/state.yaml");
  EXPECT_EQ(s.controlplane->metrics_listen, "[::1]:9780");
  EXPECT_EQ(s.controlplane->api_max_connections, 32u);
  ASSERT_EQ(s.dataplanes.size(), 2u);
  EXPECT_EQ(s.dataplanes[1].name, "lb2");
  EXPECT_EQ(s.dataplanes[1].control_socket, "/run/sluice/lb2.sock");
}

// ---- Structural errors: file:line:column, field path, what is wrong -------------------------

TEST(YamlErrors, BadAddressNamesFileLineColumnAndField) {
  const std::string text = std::string(kIssueExample) + R"(  - address: 198.18.0.11
    port: 80
    protocol: tcp
    backends:
      - address: 198.18.1.300
)";
  EXPECT_EQ(load_error(text),
            "sluice.yaml:19:18: vips[1].backends[0].address: \"198.18.1.300\" is not an IPv4 or "
            "IPv6 address");
}

TEST(YamlErrors, AddressWithANulInsideIsRefused) {
  // A double-quoted YAML scalar may carry a NUL; the address must not be cut at it.
  const std::string text = std::string(kIssueExample) + R"(  - address: "198.18.0.30\0junk"
    port: 80
    protocol: tcp
)";
  EXPECT_THAT(load_error(text),
              HasSubstr("sluice.yaml:15:14: vips[1].address: the quoted string \"198.18.0.30"));
  EXPECT_THAT(load_error(text), HasSubstr("is not an IPv4 or IPv6 address"));
}

TEST(YamlErrors, UnknownKeyIsNamedWithTheAllowedOnes) {
  const std::string e = load_error(R"(vips:
  - address: 198.18.0.10
    port: 80
    protocl: tcp
)");
  EXPECT_THAT(e,
              HasSubstr("sluice.yaml:4:5: vips[0].protocl: unknown key (allowed here: "
                        "address, port, protocol, scheduler, encap, maglev_table_size, "
                        "fragments, backends, health_check, all_down, new_flows_per_s, announce, "
                        "second_chance, syn_rescue, previous, weights, slow_start_s, agent_check, "
                        "passive_failure)"));
  EXPECT_THAT(e, HasSubstr("did you mean \"protocol\"?"));
}

TEST(YamlAdaptive, KeysLoadWithTheirValues) {
  auto r = load_yaml_string(
      R"(dataplane: {next_hop_mac: "02:00:00:00:00:fe", tunnel_source_v4: 198.18.0.1}
vips:
  - address: 198.18.0.10
    port: 80
    protocol: tcp
    weights: adaptive
    slow_start_s: 20
    agent_check: {port: 8090, interval_ms: 500, timeout_ms: 300}
    backends: [{address: 198.18.1.1}]
)",
      "sluice.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Vip& v = r->vips[0];
  EXPECT_EQ(v.weights, WeightPolicy::adaptive);
  EXPECT_EQ(v.slow_start_s, 20u);
  EXPECT_EQ(v.agent_check, (AgentCheck{8090, 500, 300}));
  EXPECT_TRUE(passive_failure_enabled(v)) << "on by default under adaptive";
  EXPECT_EQ(weight_scale(v), 100u);
}

TEST(YamlAdaptive, KeysThatNeedAdaptiveAreRefusedOnAStaticVip) {
  const std::string e =
      load_error(R"(dataplane: {next_hop_mac: "02:00:00:00:00:fe", tunnel_source_v4: 198.18.0.1}
vips:
  - address: 198.18.0.10
    port: 80
    protocol: tcp
    slow_start_s: 20
    agent_check: {port: 8090}
    passive_failure: on
    backends: [{address: 198.18.1.1}]
)");
  EXPECT_THAT(e, HasSubstr("vips[0].slow_start_s: needs weights: adaptive"));
  EXPECT_THAT(e, HasSubstr("vips[0].agent_check: needs weights: adaptive"));
  EXPECT_THAT(e, HasSubstr("vips[0].passive_failure: needs weights: adaptive"));
}

TEST(YamlAdaptive, BadValuesNameTheField) {
  EXPECT_THAT(load_error("vips:\n  - {address: 198.18.0.10, port: 80, protocol: tcp, weights: "
                         "dynamic}\n"),
              HasSubstr("vips[0].weights"));
  EXPECT_THAT(load_error("dataplane: {next_hop_mac: \"02:00:00:00:00:fe\", tunnel_source_v4: "
                         "198.18.0.1}\nvips:\n  - {address: 198.18.0.10, port: 80, protocol: tcp, "
                         "weights: adaptive, slow_start_s: 3601}\n"),
              HasSubstr("vips[0].slow_start_s"));
  EXPECT_THAT(load_error("vips:\n  - {address: 198.18.0.10, port: 80, protocol: tcp, weights: "
                         "adaptive, agent_check: {port: 8090, interval_ms: 500, timeout_ms: "
                         "500}}\n"),
              HasSubstr("vips[0].agent_check.timeout_ms: 500 must be below interval_ms 500"));
  EXPECT_THAT(load_error("vips:\n  - {address: 198.18.0.10, port: 80, protocol: tcp, weights: "
                         "adaptive, agent_check: {interval_ms: 500}}\n"),
              HasSubstr("vips[0].agent_check: missing required key \"port\""));
}

TEST(YamlErrors, UnknownTopLevelKey) {
  EXPECT_EQ(load_error("dataplane: {}\nvip: []\n"),
            "sluice.yaml:2:1: vip: unknown key (allowed here: generation, dataplane, vips, "
            "controlplane, dataplanes); did you mean \"vips\"?");
}

TEST(YamlErrors, UnknownHealthCheckKey) {
  EXPECT_THAT(load_error(R"(vips:
  - address: 198.18.0.10
    port: 80
    protocol: tcp
    health_check: {type: tcp, intervall_ms: 5}
)"),
              HasSubstr("sluice.yaml:5:31: vips[0].health_check.intervall_ms: unknown key"));
}

TEST(YamlErrors, WrongTypes) {
  EXPECT_EQ(load_error("dataplane:\n  mtu: large\n"),
            "sluice.yaml:2:8: dataplane.mtu: expected an integer (576..9000), got \"large\"");
  EXPECT_EQ(load_error("dataplane:\n  mtu: \"1500\"\n"),
            "sluice.yaml:2:8: dataplane.mtu: expected an integer (576..9000), got the quoted "
            "string \"1500\"");
  EXPECT_EQ(load_error("dataplane:\n  mtu: !!str 1500\n"),
            "sluice.yaml:2:8: dataplane.mtu: expected an integer (576..9000), got the quoted "
            "string \"1500\"");
  EXPECT_EQ(load_error("dataplane:\n  mtu: -1\n"),
            "sluice.yaml:2:8: dataplane.mtu: expected an integer (576..9000), got \"-1\"");
  EXPECT_EQ(load_error("dataplane:\n  mtu: 1500.5\n"),
            "sluice.yaml:2:8: dataplane.mtu: expected an integer (576..9000), got \"1500.5\"");
  EXPECT_EQ(load_error("vips: {address: 198.18.0.10}\n"),
            "sluice.yaml:1:7: vips: expected a list, got a mapping");
  EXPECT_EQ(load_error("dataplane: [1, 2]\n"),
            "sluice.yaml:1:12: dataplane: expected a mapping of keys, got a list");
  EXPECT_EQ(load_error("- 1\n- 2\n"),
            "sluice.yaml:1:1: expected a mapping of keys at the top, got a list");
  EXPECT_THAT(load_error(R"(vips:
  - address: 198.18.0.10
    port: 80
    protocol: tcp
    backends:
      - {address: 198.18.1.1, drained: maybe}
)"),
              HasSubstr("sluice.yaml:6:40: vips[0].backends[0].drained: expected true or false, "
                        "got \"maybe\""));
}

TEST(YamlErrors, IntegerOutOfItsTypeRange) {
  EXPECT_EQ(load_error("vips:\n  - {address: 198.18.0.10, port: 65536, protocol: tcp}\n"),
            "sluice.yaml:2:34: vips[0].port: 65536 is out of range 0..65535");
  // Beyond the field's C++ type, the error names the field's real limit, not the type's.
  const std::string vip = "vips:\n  - {address: 198.18.0.10, port: 80, protocol: tcp, ";
  EXPECT_EQ(load_error(vip + "backends: [{address: 198.18.1.1, weight: 4294967296}]}\n"),
            "sluice.yaml:2:94: vips[0].backends[0].weight: 4294967296 is out of range 0..65535");
  EXPECT_THAT(load_error(vip + "backends: [{address: 198.18.1.1, weight: 70000}]}\n"),
              HasSubstr("sluice.yaml:2:94: vips[0].backends[0].weight: 70000 is out of range "
                        "0..65535"));
  EXPECT_EQ(load_error(vip + "maglev_table_size: 4294967296}\n"),
            "sluice.yaml:2:72: vips[0].maglev_table_size: 4294967296 is out of range 251..1048573");
  EXPECT_EQ(load_error("dataplane:\n  mtu: 65536\n"),
            "sluice.yaml:2:8: dataplane.mtu: 65536 is out of range 576..9000");
  EXPECT_EQ(load_error("dataplane:\n  outer_ttl: 256\n"),
            "sluice.yaml:2:14: dataplane.outer_ttl: 256 is out of range 1..255");
  EXPECT_EQ(load_error("dataplane:\n  flow_table_entries: 4294967296\n"),
            "sluice.yaml:2:23: dataplane.flow_table_entries: 4294967296 is out of range "
            "1024..134217728");
  EXPECT_EQ(load_error("dataplane:\n  flow_idle_timeout_s: x\n"),
            "sluice.yaml:2:24: dataplane.flow_idle_timeout_s: expected an integer (1..86400), got "
            "\"x\"");
  const std::string check = vip + "health_check: {type: http, ";
  EXPECT_EQ(load_error(check + "interval_ms: 4294967296}}\n"),
            "sluice.yaml:2:93: vips[0].health_check.interval_ms: 4294967296 is out of range "
            "100..3600000");
  EXPECT_EQ(load_error(check + "timeout_ms: 4294967296}}\n"),
            "sluice.yaml:2:92: vips[0].health_check.timeout_ms: 4294967296 is out of range "
            "10..3599999");
  EXPECT_EQ(load_error(check + "rise: 4294967296}}\n"),
            "sluice.yaml:2:86: vips[0].health_check.rise: 4294967296 is out of range 1..100");
  EXPECT_EQ(load_error(check + "expect_status: 65536}}\n"),
            "sluice.yaml:2:95: vips[0].health_check.expect_status: 65536 is out of range 100..599");
  EXPECT_EQ(load_error("generation: 99999999999999999999999\n"),
            "sluice.yaml:1:13: generation: expected an integer (0..18446744073709551615), got "
            "\"99999999999999999999999\"");
}

TEST(YamlErrors, EmptyValueIsReportedAtItsKey) {
  EXPECT_EQ(load_error("vips:\n  - address: 198.18.0.10\n    port:\n    protocol: tcp\n"),
            "sluice.yaml:3:5: vips[0].port: expected an integer (0..65535), got nothing (null)");
}

TEST(YamlErrors, MissingRequiredKeys) {
  EXPECT_EQ(load_error("vips:\n  - port: 80\n    protocol: tcp\n"),
            "sluice.yaml:2:5: vips[0]: missing required key \"address\"");
  EXPECT_EQ(load_error("vips:\n  - {address: 198.18.0.10, protocol: tcp}\n"),
            "sluice.yaml:2:5: vips[0]: missing required key \"port\"");
  EXPECT_EQ(load_error("vips:\n  - {address: 198.18.0.10, port: 1, protocol: tcp, "
                       "backends: [{weight: 3}]}\n"),
            "sluice.yaml:2:63: vips[0].backends[0]: missing required key \"address\"");
  EXPECT_EQ(load_error("vips:\n  - {address: 198.18.0.10, port: 1, protocol: tcp, "
                       "health_check: {port: 3}}\n"),
            "sluice.yaml:2:66: vips[0].health_check: missing required key \"type\"");
  EXPECT_EQ(load_error("dataplanes:\n  - name: lb1\n"),
            "sluice.yaml:2:5: dataplanes[0]: missing required key \"control_socket\"");
}

TEST(YamlErrors, KeyGivenTwice) {
  EXPECT_EQ(load_error("dataplane:\n  mtu: 1500\n  mtu: 9000\n"),
            "sluice.yaml:3:3: dataplane.mtu: key given twice");
}

TEST(YamlErrors, BadEnumValuesListTheChoices) {
  EXPECT_EQ(load_error("vips:\n  - {address: 198.18.0.10, port: 1, protocol: sctp}\n"),
            "sluice.yaml:2:47: vips[0].protocol: expected one of tcp or udp, got \"sctp\"");
  EXPECT_EQ(load_error("vips:\n  - {address: 198.18.0.10, port: 1, protocol: tcp, "
                       "scheduler: fastest}\n"),
            "sluice.yaml:2:63: vips[0].scheduler: expected one of maglev, round-robin, "
            "weighted-round-robin, random, least-connections or source-hash, got \"fastest\"");
  EXPECT_THAT(load_error("vips:\n  - {address: 198.18.0.10, port: 1, protocol: tcp, "
                         "encap: gre}\n"),
              HasSubstr("vips[0].encap: expected one of ipip or gue, got \"gre\""));
  EXPECT_THAT(load_error("vips:\n  - {address: 198.18.0.10, port: 1, protocol: tcp, "
                         "health_check: {type: icmp}}\n"),
              HasSubstr("vips[0].health_check.type: expected one of none, tcp, http, https or "
                        "udp, got \"icmp\""));
}

TEST(YamlErrors, BadMac) {
  EXPECT_EQ(load_error("dataplane:\n  next_hop_mac: 02:00:00:00:00\n"),
            "sluice.yaml:2:17: dataplane.next_hop_mac: expected a MAC address like "
            "\"02:00:00:00:00:fe\", got \"02:00:00:00:00\"");
}

TEST(YamlErrors, SyntaxErrorHasALine) {
  EXPECT_THAT(load_error("dataplane:\n  mtu: [1500\nvips: []\n"), HasSubstr("sluice.yaml:3:"));
  EXPECT_THAT(load_error("dataplane:\n  mtu: [1500\nvips: []\n"), HasSubstr("YAML syntax error"));
}

TEST(YamlErrors, DeepNestingIsRefusedWithItsDepth) {
  EXPECT_EQ(load_error(std::string(100000, '[') + std::string(100000, ']')),
            "sluice.yaml:1:1: YAML nested more than 499 levels deep");
}

TEST(YamlErrors, MoreThanOneDocumentIsRefused) {
  EXPECT_EQ(load_error("vips: []\n---\nvips: []\n"),
            "sluice.yaml: holds 2 YAML documents; a config file is one document");
}

TEST(YamlErrors, ValidationProblemsCarryTheirLines) {
  const std::string e = load_error(R"(dataplane:
  next_hop_mac: 02:00:00:00:00:fe
  tunnel_source_v4: 198.18.0.1
  mtu: 100
vips:
  - address: 198.18.0.10
    port: 80
    protocol: tcp
    backends:
      - {address: 198.18.1.1, weight: 70000}
  - address: 198.18.0.10
    port: 80
    protocol: tcp
)");
  EXPECT_EQ(e,
            "sluice.yaml:4:8: dataplane.mtu: 100 is out of range 576..9000\n"
            "sluice.yaml:10:39: vips[0].backends[0].weight: 70000 is out of range 0..65535\n"
            "sluice.yaml:11:5: vips[1]: 198.18.0.10:80/tcp is already defined by vips[0]");
}

TEST(YamlErrors, ValidationProblemOfAnAbsentKeyPointsAtItsParent) {
  // next_hop_mac is required once there are VIPs; the nearest node is "dataplane".
  EXPECT_EQ(load_error(R"(dataplane:
  tunnel_source_v4: 198.18.0.1
vips:
  - {address: 198.18.0.10, port: 80, protocol: tcp}
)"),
            "sluice.yaml:2:3: dataplane.next_hop_mac: required when there are VIPs (the L2 "
            "destination of encapsulated packets)");
}

TEST(YamlErrors, StructureOnlySkipsValidation) {
  auto r = load_yaml_string("dataplane:\n  mtu: 100\n", "x.yaml", Check::structure_only);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->dataplane.mtu, 100);
  EXPECT_EQ(load_error("dataplane:\n  mtu: 100\n"),
            "sluice.yaml:2:8: dataplane.mtu: 100 is out of range 576..9000");
}

TEST(YamlErrors, AnchorsAndAliasesAreRefusedAtTheirLine) {
  EXPECT_EQ(load_error(std::string(kIssueExample) + R"(    health_check: &hc {type: tcp}
  - address: 198.18.0.11
    port: 80
    protocol: tcp
    health_check: *hc
)"),
            "sluice.yaml:15:19: YAML anchors and aliases (&hc) are not supported: write each value "
            "out in full");
  // An alias needs its anchor first; an anchor nothing refers to is refused too.
  EXPECT_EQ(load_error("vips: [*x]\n"),
            "sluice.yaml:1:8: YAML syntax error: the referenced anchor is not defined");
  EXPECT_EQ(load_error("generation: &g 1\n", Check::structure_only),
            "sluice.yaml:1:13: YAML anchors and aliases (&g) are not supported: write each value "
            "out in full");
}

// Found by fuzz-yaml: a path with invalid UTF-8 was accepted, then written by to_yaml with
// U+FFFD in its place, so the state file it saved could differ from the state, or not load.
TEST(YamlErrors, PathsMustBeUtf8SoTheyCanBeWrittenBack) {
  // Raw bytes, not YAML's "\xff" escape (that is U+00FF, valid UTF-8).
  EXPECT_EQ(load_error("controlplane:\n  api_socket: /run/\xff\xff.sock\n"),
            "sluice.yaml:2:15: controlplane.api_socket: is not valid UTF-8");
  EXPECT_EQ(load_error("dataplanes:\n  - {name: lb1, control_socket: \"/run/\xff\"}\n"),
            "sluice.yaml:2:33: dataplanes[0].control_socket: is not valid UTF-8");
}

TEST(YamlErrors, MissingFile) {
  auto r = load_yaml_file("/nonexistent/sluice.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "cannot read /nonexistent/sluice.yaml: No such file or directory");
}

// ---- Writing ------------------------------------------------------------------------------

State rich_state() {
  State s = valid_state();
  s.generation = 123456789012345ull;
  s.dataplane.mtu = 9000;
  s.dataplane.flow_table_entries = 1u << 24;
  Vip& web = s.vips[0];
  web.scheduler = Scheduler::weighted_round_robin;
  web.fragments = FragmentPolicy::drop;
  web.all_down = AllDownPolicy::drop;
  HealthCheck http;
  http.type = HealthCheckType::http;
  http.http_path = "/status?full=1";
  http.http_host = "ex\"ample";
  http.expect_body = "ok: \"yes\"\ttabs and ünïcode";
  http.interval_ms = 500;
  http.timeout_ms = 100;
  web.health_check = http;
  web.backends[1].drained = true;
  web.backends[1].weight = 0;
  HealthCheck udp;
  udp.type = HealthCheckType::udp;
  udp.port = 5353;
  udp.udp_request = std::string("\x01\x02 true\n80", 9);
  udp.udp_expect = "yes";
  web.backends[0].health_check = udp;
  web.weights = WeightPolicy::adaptive;
  web.slow_start_s = 30;
  web.agent_check = AgentCheck{8090, 1000, 250};
  web.passive_failure = false;
  Vip any;  // a v4 VIP on a v6 backend (4in6), any port
  any.address = ip("198.18.0.20");
  any.port = 0;
  any.scheduler = Scheduler::round_robin;
  any.backends = {Backend{ip("2001:db8:1::20"), 65535, false, {}, {}, {}}};
  s.vips.push_back(any);
  ControlplaneSettings cp;
  cp.api_socket = "/tmp/api sock";
  cp.metrics_listen = "127.0.0.1:9999";
  cp.api_max_connections = 1000;
  s.controlplane = cp;
  s.dataplanes = {{"lb-1", "/run/sluice/lb1.sock"}, {"lb.2", "/run/sluice/lb2.sock"}};
  return s;
}

TEST(YamlWrite, RoundTripsExactly) {
  for (const State& s : {State{}, valid_state(), rich_state()}) {
    const std::string text = to_yaml(s);
    auto back = load_yaml_string(text, "written.yaml");
    ASSERT_TRUE(back.ok()) << back.error().message << "\n" << text;
    EXPECT_EQ(*back, s) << text;
  }
}

TEST(YamlWrite, WritesReadableBlockYaml) {
  const std::string text = to_yaml(valid_state());
  EXPECT_THAT(text, HasSubstr("\ngeneration: 7\ndataplane:\n  next_hop_mac: \"02:00:00:00:00:fe\"\n"
                              "  tunnel_source_v4: \"198.18.0.1\"\n"));
  EXPECT_THAT(text, HasSubstr("vips:\n  - address: \"198.18.0.10\"\n    port: 80\n"
                              "    protocol: tcp\n    scheduler: maglev\n"));
  EXPECT_THAT(text, HasSubstr("    backends:\n      - address: \"198.18.1.1\"\n        weight: 1\n"
                              "        drained: false\n"));
}

class TempDir {
 public:
  TempDir() {
    char templ[] = "/tmp/sluice-config-test-XXXXXX";
    path_ = ::mkdtemp(templ);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(YamlWrite, SaveAtomicReplacesTheFileAndLeavesNoTemporaries) {
  TempDir dir;
  const std::string path = dir.path() + "/state.yaml";
  {
    std::ofstream old(path);
    old << "vips: []\n";
  }
  const State s = rich_state();
  const auto saved = save_yaml_file_atomic(s, path);
  ASSERT_TRUE(saved.ok()) << saved.error;
  auto back = load_yaml_file(path);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, s);
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST(YamlWrite, SaveIntoAMissingDirectoryFails) {
  const auto saved = save_yaml_file_atomic(valid_state(), "/nonexistent-dir/state.yaml");
  ASSERT_FALSE(saved.ok());
  EXPECT_EQ(saved.step, ReplaceStep::open_directory);
  EXPECT_THAT(saved.error,
              HasSubstr("cannot save /nonexistent-dir/state.yaml: open /nonexistent-dir"));
  EXPECT_THAT(saved.error, HasSubstr("No such file or directory"));
}

TEST(YamlExample, DocsExampleLoadsAndCoversEveryFeature) {
  auto r = load_yaml_file(SLUICE_SOURCE_DIR "/docs/sluice.example.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const State& s = *r;
  EXPECT_GE(s.vips.size(), 4u);
  bool v6_vip = false, gue = false, udp = false, any_port = false, four_in_six = false;
  bool http_check = false, drained = false;
  for (const Vip& v : s.vips) {
    v6_vip = v6_vip || v.address.is_v6();
    gue = gue || v.encap == Encap::gue;
    udp = udp || v.protocol == Protocol::udp;
    any_port = any_port || v.port == 0;
    http_check = http_check || (v.health_check && v.health_check->type == HealthCheckType::http);
    for (const Backend& b : v.backends) {
      four_in_six = four_in_six || (v.address.is_v4() && b.address.is_v6());
      drained = drained || b.drained;
    }
  }
  EXPECT_TRUE(v6_vip && gue && udp && any_port && four_in_six && http_check && drained);
  EXPECT_TRUE(s.controlplane.has_value());
  EXPECT_FALSE(s.dataplanes.empty());
  // Only documentation addresses.
  const IpAddress net4 = ip("198.18.0.0");
  const IpAddress net6 = ip("2001:db8::");
  const auto documented = [&](const IpAddress& a) {
    return a.is_v4() ? in_prefix(a, net4, 15) : in_prefix(a, net6, 32);
  };
  EXPECT_TRUE(documented(*s.dataplane.tunnel_source_v4));
  EXPECT_TRUE(documented(*s.dataplane.tunnel_source_v6));
  for (const Vip& v : s.vips) {
    EXPECT_TRUE(documented(v.address)) << v.address.to_string();
    for (const Backend& b : v.backends)
      EXPECT_TRUE(documented(b.address)) << b.address.to_string();
  }
}

}  // namespace
}  // namespace sluice::config

// Writes the seed corpora of the state and protocol fuzzers from the model itself, so the seeds
// follow the code: DIR/yaml (to_yaml of a few states), DIR/json (the JSON of the states, their
// pieces and every request and reply) and DIR/frame (the same JSON as control-protocol frames,
// one and several per file, plus a few framing edge cases).
// Usage: fuzz-protocol-seeds DIR   (DIR/yaml, DIR/json and DIR/frame must exist)
#include <cstdio>
#include <string>
#include <vector>

#include "sluice/config/json.hpp"
#include "sluice/config/yaml.hpp"
#include "sluice/control/frame.hpp"
#include "sluice/control/messages.hpp"

namespace sluice {
namespace {

using nlohmann::json;

IpAddress ip(const char* text) {
  return *IpAddress::parse(text);
}

config::State small_state() {
  config::State s;
  s.generation = 9;
  s.dataplane.next_hop_mac = {2, 0, 0, 0, 0, 0xfe};
  s.dataplane.tunnel_source_v4 = ip("198.18.0.1");
  config::Vip v;
  v.address = ip("198.18.0.10");
  v.port = 80;
  v.backends = {config::Backend{ip("198.18.1.1"), 1, false, {}, {}, {}}};
  s.vips.push_back(v);
  return s;
}

// Every section and most options: IPv6, GUE, health checks of each type, pushed backend
// states, the control plane's own sections.
config::State rich_state() {
  config::State s = small_state();
  s.dataplane.tunnel_source_v6 = ip("2001:db8::1");
  s.dataplane.mtu = 9000;
  config::HealthCheck http;
  http.type = config::HealthCheckType::http;
  http.http_path = "/healthz";
  http.http_host = "www.example.test";
  http.expect_body = "ok";
  s.vips[0].health_check = http;
  s.vips[0].backends.push_back(
      config::Backend{ip("198.18.1.2"), 3, true, {}, config::BackendState::draining, 0});
  config::Vip dns;
  dns.address = ip("2001:db8::10");
  dns.port = 53;
  dns.protocol = config::Protocol::udp;
  dns.encap = config::Encap::gue;
  dns.scheduler = config::Scheduler::least_connections;
  dns.fragments = config::FragmentPolicy::drop;
  dns.all_down = config::AllDownPolicy::drop;
  dns.maglev_table_size = 251;
  config::HealthCheck udp;
  udp.type = config::HealthCheckType::udp;
  udp.udp_request = std::string("\0ping", 5);
  udp.udp_expect = "pong";
  dns.backends = {config::Backend{ip("2001:db8:1::1"), 1, false, udp, config::BackendState::up, 1}};
  s.vips.push_back(dns);
  config::Vip any;
  any.address = ip("198.18.0.11");
  any.port = 0;
  config::HealthCheck tcp;
  tcp.type = config::HealthCheckType::tcp;
  tcp.port = 8080;
  any.health_check = tcp;
  any.backends = {config::Backend{ip("2001:db8:1::2"), 65535, false, {}, {}, {}}};
  s.vips.push_back(any);
  s.controlplane = config::ControlplaneSettings{};
  s.dataplanes = {{"lb1", "/run/sluice/lb1.sock"}, {"lb-2.b", "/run/sluice/lb2.sock"}};
  return s;
}

std::vector<json> messages() {
  const config::State rich = rich_state();
  std::vector<json> out = {
      config::to_json(config::State{}),
      config::to_json(small_state()),
      config::to_json(rich),
      config::to_json(rich.vips[1]),
      config::to_json(rich.vips[1].backends[0]),
      config::to_json(*rich.vips[0].health_check),
  };
  control::ExplainFlow flow;
  flow.src = ip("198.18.2.1");
  flow.dst = ip("198.18.0.10");
  flow.src_port = 40000;
  flow.dst_port = 80;
  flow.syn = true;
  for (const control::Request& r : std::vector<control::Request>{
           control::PushStateRequest{rich}, control::GetStatusRequest{},
           control::GetCountersRequest{}, control::ExplainRequest{flow}}) {
    out.push_back(control::to_json(r));
  }
  out.push_back(control::ok_reply(control::to_json(control::PushStateReply{12})));
  out.push_back(control::error_reply("vips[0].port: expected an integer (0..65535), got \"x\""));

  control::DataplaneStatus status;
  status.version = "0.1.0";
  status.generation = 12;
  status.uptime_ms = 3600123;
  status.vips = 3;
  status.flow_table_entries = 1u << 20;
  status.lcores = {{0, "main", ""}, {1, "worker", "poll"}};
  control::PortStatus port;
  port.name = "net_pcap0";
  port.driver = "net_pcap";
  port.mac = "02:00:00:00:00:01";
  port.rx_queues = port.tx_queues = 1;
  port.link_up = true;
  port.link_speed_mbps = 10000;
  port.rx_packets = 5;
  status.ports = {port};
  out.push_back(control::ok_reply(control::to_json(status)));

  control::Counters counters;
  counters.generation = 12;
  control::LcoreCounters lcore;
  lcore.lcore = 1;
  lcore.rx_packets = lcore.forward = 100;
  counters.per_lcore = {lcore};
  control::VipCounters vip;
  vip.vip = "198.18.0.10:80/tcp";
  vip.packets = 100;
  control::BackendCounters backend;
  backend.address = "198.18.1.1";
  backend.state = config::BackendState::draining;
  backend.packets = 100;
  vip.per_backend = {backend};
  counters.per_vip = {vip};
  counters.drops = {{"no_backend", 3}, {"l2_truncated", 0}};
  counters.events = {{"flows_evicted", 1}};
  out.push_back(control::ok_reply(control::to_json(counters)));

  control::ExplainResult explained;
  explained.vip = "198.18.0.10:80/tcp";
  explained.backend = "198.18.1.2";
  explained.source = control::ExplainSource::scheduler;
  explained.action = "new_flow";
  explained.reason = "new flow: maglev slot 4242 of 65537 belongs to 198.18.1.2";
  explained.flow_hash = 3735928559u;
  explained.maglev_slot = 4242;
  out.push_back(control::ok_reply(control::to_json(explained)));
  return out;
}

bool write_file(const std::string& path, const std::string& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  const bool ok = f != nullptr && std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  if (f != nullptr && std::fclose(f) != 0) return false;
  if (!ok) std::perror(path.c_str());
  return ok;
}

std::string frame(const std::string& body) {
  return control::encode_frame_header(static_cast<std::uint32_t>(body.size())) + body;
}

bool write_seeds(const std::string& dir) {
  bool ok = true;
  int index = 0;
  for (const config::State& s : {config::State{}, small_state(), rich_state()})
    ok = ok &&
         write_file(dir + "/yaml/state-" + std::to_string(index++) + ".yaml", config::to_yaml(s));
  index = 0;
  std::string all_frames;
  for (const json& message : messages()) {
    const std::string text = message.dump();
    const std::string name = std::to_string(index++);
    ok = ok && write_file(dir + "/json/message-" + name + ".json", text);
    ok = ok && write_file(dir + "/json/message-" + name + "-pretty.json", message.dump(2));
    if (message.is_object()) {
      ok = ok && write_file(dir + "/frame/frame-" + name, frame(text));
      all_frames += frame(text);
    }
  }
  ok = ok && write_file(dir + "/frame/frames-all", all_frames);
  // Framing edge cases: an empty frame, a length beyond the limit, half a header, a body cut
  // short, an array, a key given twice, deep nesting.
  ok = ok && write_file(dir + "/frame/edge-empty", control::encode_frame_header(0));
  ok = ok && write_file(dir + "/frame/edge-oversize",
                        control::encode_frame_header(control::kMaxFrameBytes + 1) + "{}");
  ok = ok && write_file(dir + "/frame/edge-half-header", std::string("\0\0", 2));
  ok = ok && write_file(dir + "/frame/edge-short", control::encode_frame_header(100) + "{\"a\":");
  ok = ok && write_file(dir + "/frame/edge-array", frame("[1,2]"));
  ok = ok && write_file(dir + "/frame/edge-twice", frame(R"({"op":"get_status","op":"x"})"));
  ok = ok && write_file(dir + "/frame/edge-deep",
                        frame(std::string(70, '[') + "{}" + std::string(70, ']')));
  return ok;
}

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  return sluice::write_seeds(argv[1]) ? 0 : 1;
}

#include "sluice/config/validate.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <set>

#include "sluice/config/names.hpp"
#include "sluice/lb/maglev.hpp"

namespace sluice::config {
namespace {

std::string quoted(std::string_view s) {
  return std::string("\"").append(s).append("\"");
}

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t extra = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values beyond Unicode.
    static constexpr std::uint32_t kMinForLength[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[extra] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return false;
    i += extra + 1;
  }
  return true;
}

// A path goes to the kernel as a C string, which would end at the NUL: "/run/a.sock\0x" would
// name /run/a.sock.
bool has_nul(std::string_view s) {
  return s.find('\0') != std::string_view::npos;
}
constexpr const char* kNulInPath = "contains a NUL byte (a path ends at the first one)";
// Every string of a state is UTF-8 (docs/config.md), or to_yaml() could not write it back.
constexpr const char* kNotUtf8 = "is not valid UTF-8";

// Why `a` cannot be a VIP, backend or tunnel address, or "" when it can.
std::string unusable_address(const IpAddress& a) {
  const auto& b = a.bytes;
  if (a.is_v4()) {
    if (a.v4_host_order() == 0) return "the unspecified address";
    if (b[0] == 127) return "a loopback address";
    if (b[0] >= 224 && b[0] <= 239) return "a multicast address";
    if (a.v4_host_order() == 0xFFFFFFFFu) return "the broadcast address";
    return "";
  }
  const bool all_zero = std::all_of(b.begin(), b.end(), [](std::uint8_t x) { return x == 0; });
  if (all_zero) return "the unspecified address";
  const bool loopback =
      std::all_of(b.begin(), b.end() - 1, [](std::uint8_t x) { return x == 0; }) && b[15] == 1;
  if (loopback) return "a loopback address";
  if (b[0] == 0xFF) return "a multicast address";
  return "";
}

bool parse_port(std::string_view text, std::uint16_t& out) {
  unsigned v = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc{} || ptr != end || v == 0 || v > 65535) return false;
  out = static_cast<std::uint16_t>(v);
  return true;
}

// "127.0.0.1:9780" or "[::1]:9780"
bool is_host_port(std::string_view text) {
  std::uint16_t port = 0;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find("]:");
    if (close == std::string_view::npos) return false;
    const auto a = IpAddress::parse(text.substr(1, close - 1));
    return a && a->is_v6() && parse_port(text.substr(close + 2), port);
  }
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  const auto a = IpAddress::parse(text.substr(0, colon));
  return a && a->is_v4() && parse_port(text.substr(colon + 1), port);
}

class Checker {
 public:
  std::vector<FieldError> errors;

  void add(std::string path, std::string message) {
    errors.push_back({std::move(path), std::move(message)});
  }

  void range(const std::string& path, std::uint64_t v, std::uint64_t lo, std::uint64_t hi,
             std::string_view unit = "") {
    if (v >= lo && v <= hi) return;
    add(path, std::to_string(v) + " is out of range " + std::to_string(lo) + ".." +
                  std::to_string(hi) + std::string(unit));
  }

  void text(const std::string& path, const std::string& s, std::size_t max_bytes) {
    if (s.size() > max_bytes) {
      add(path, "is " + std::to_string(s.size()) + " bytes long; the limit is " +
                    std::to_string(max_bytes));
    } else if (!is_valid_utf8(s)) {
      add(path, "is not valid UTF-8");
    }
  }

  void usable(const std::string& path, const IpAddress& a) {
    if (const auto why = unusable_address(a); !why.empty()) {
      add(path, a.to_string() + " is " + why);
    }
  }

  void health_check(const std::string& path, const HealthCheck& c, std::uint16_t service_port) {
    if (c.type == HealthCheckType::none) return;
    if (c.port == 0 && service_port == 0) {
      add(path + ".port", "required: the VIP takes any port, so there is no port to check");
    }
    range(path + ".interval_ms", c.interval_ms, kMinHealthIntervalMs, kMaxHealthIntervalMs, " ms");
    if (c.timeout_ms < kMinHealthTimeoutMs || c.timeout_ms >= c.interval_ms) {
      add(path + ".timeout_ms", std::to_string(c.timeout_ms) + " must be at least " +
                                    std::to_string(kMinHealthTimeoutMs) +
                                    " ms and below interval_ms (" + std::to_string(c.interval_ms) +
                                    ")");
    }
    range(path + ".rise", c.rise, 1, kMaxHealthThreshold);
    range(path + ".fall", c.fall, 1, kMaxHealthThreshold);

    const HealthCheck defaults;
    const bool http = c.type == HealthCheckType::http || c.type == HealthCheckType::https;
    const bool udp = c.type == HealthCheckType::udp;
    const auto only_for = [&](std::string_view key, bool applies, bool is_default,
                              std::string_view types) {
      if (!applies && !is_default) {
        add(path + "." + std::string(key), "applies only to " + std::string(types) +
                                               " checks (type is " +
                                               std::string(to_string(c.type)) + ")");
      }
    };
    only_for("path", http, c.http_path == defaults.http_path, "http and https");
    only_for("host", http, c.http_host == defaults.http_host, "http and https");
    only_for("expect_status", http, c.expect_status == defaults.expect_status, "http and https");
    only_for("expect_body", http, c.expect_body == defaults.expect_body, "http and https");
    only_for("request", udp, c.udp_request == defaults.udp_request, "udp");
    only_for("expect", udp, c.udp_expect == defaults.udp_expect, "udp");

    text(path + ".path", c.http_path, kMaxHealthTextBytes);
    text(path + ".host", c.http_host, kMaxHealthTextBytes);
    text(path + ".expect_body", c.expect_body, kMaxHealthTextBytes);
    text(path + ".request", c.udp_request, kMaxHealthTextBytes);
    text(path + ".expect", c.udp_expect, kMaxHealthTextBytes);
    if (http) {
      // The path and host go into the request line and a header: no spaces or line breaks.
      const auto header_safe = [](const std::string& s) {
        return std::none_of(s.begin(), s.end(), [](char ch) {
          return ch == ' ' || ch == '\r' || ch == '\n' || ch == '\t' || ch == '\0';
        });
      };
      if (c.http_path.empty() || c.http_path.front() != '/' || !header_safe(c.http_path)) {
        add(path + ".path", quoted(c.http_path) + " must start with '/' and contain no spaces");
      }
      if (!header_safe(c.http_host)) {
        add(path + ".host", quoted(c.http_host) + " must not contain spaces or line breaks");
      }
      range(path + ".expect_status", c.expect_status, kMinHttpStatus, kMaxHttpStatus);
    }
  }

  void dataplane(const State& s) {
    const DataplaneSettings& d = s.dataplane;
    bool any_v6 = false;
    for (const Vip& v : s.vips) {
      any_v6 = any_v6 || v.address.is_v6();
      for (const Backend& b : v.backends)
        any_v6 = any_v6 || b.address.is_v6();
    }
    const std::uint16_t min_mtu = any_v6 ? kMinMtuV6 : kMinMtuV4;
    range("dataplane.mtu", d.mtu, min_mtu, kMaxMtu, any_v6 ? " (IPv6 needs at least 1280)" : "");
    if (!s.vips.empty()) {
      const bool zero = std::all_of(d.next_hop_mac.begin(), d.next_hop_mac.end(),
                                    [](std::uint8_t x) { return x == 0; });
      if (zero) {
        add("dataplane.next_hop_mac",
            "required when there are VIPs (the L2 destination of "
            "encapsulated packets)");
      } else if ((d.next_hop_mac[0] & 1) != 0) {
        add("dataplane.next_hop_mac",
            format_mac(d.next_hop_mac) + " is a multicast or broadcast address");
      }
    }
    if (d.tunnel_source_v4) {
      if (!d.tunnel_source_v4->is_v4()) {
        add("dataplane.tunnel_source_v4", d.tunnel_source_v4->to_string() + " is not IPv4");
      } else {
        usable("dataplane.tunnel_source_v4", *d.tunnel_source_v4);
      }
    }
    if (d.tunnel_source_v6) {
      if (!d.tunnel_source_v6->is_v6()) {
        add("dataplane.tunnel_source_v6", d.tunnel_source_v6->to_string() + " is not IPv6");
      } else {
        usable("dataplane.tunnel_source_v6", *d.tunnel_source_v6);
      }
    }
    range("dataplane.gue_port", d.gue_port, 1, 65535);
    range("dataplane.outer_ttl", d.outer_ttl, 1, 255);
    range("dataplane.flow_table_entries", d.flow_table_entries, kMinFlowTableEntries,
          kMaxFlowTableEntries);
    range("dataplane.flow_idle_timeout_s", d.flow_idle_timeout_s, 1, kMaxFlowTimeoutS, " s");
    range("dataplane.udp_idle_timeout_s", d.udp_idle_timeout_s, 1, kMaxFlowTimeoutS, " s");
    const bool idle_ok = d.flow_idle_timeout_s >= 1 && d.flow_idle_timeout_s <= kMaxFlowTimeoutS;
    if (!idle_ok) {
      range("dataplane.flow_closed_timeout_s", d.flow_closed_timeout_s, 1, kMaxFlowTimeoutS, " s");
    } else {
      for (const auto& [name, value] : {std::pair{"flow_closed_timeout_s", d.flow_closed_timeout_s},
                                        std::pair{"flow_open_timeout_s", d.flow_open_timeout_s}}) {
        if (value < 1 || value > d.flow_idle_timeout_s) {
          add(std::string("dataplane.") + name, std::to_string(value) +
                                                    " must be 1..flow_idle_timeout_s (" +
                                                    std::to_string(d.flow_idle_timeout_s) + ")");
        }
      }
    }
  }

  void vips(const State& s) {
    if (s.vips.size() > kMaxVips) {
      add("vips",
          std::to_string(s.vips.size()) + " VIPs; the limit is " + std::to_string(kMaxVips));
    }
    std::size_t backends = 0;
    for (const Vip& v : s.vips)
      backends += v.backends.size();
    if (backends > kMaxBackends) {
      add("vips", std::to_string(backends) + " backends over all VIPs; the limit is " +
                      std::to_string(kMaxBackends) +
                      " (the dataplane keeps one stable id per VIP and backend address)");
    }
    std::map<VipKey, std::size_t> by_key;
    // (address, protocol) -> first VIP index with port 0 / with a specific port
    std::map<std::pair<IpAddress, Protocol>, std::size_t> any_port;
    std::map<std::pair<IpAddress, Protocol>, std::size_t> some_port;
    std::set<IpAddress> vip_addresses;
    for (const Vip& v : s.vips)
      vip_addresses.insert(v.address);
    bool reported_missing_v4_source = false;
    bool reported_missing_v6_source = false;

    for (std::size_t i = 0; i < s.vips.size(); ++i) {
      const Vip& v = s.vips[i];
      const std::string path = "vips[" + std::to_string(i) + "]";
      usable(path + ".address", v.address);

      const VipKey key = key_of(v);
      if (const auto [it, fresh] = by_key.emplace(key, i); !fresh) {
        add(path,
            to_string(key) + " is already defined by vips[" + std::to_string(it->second) + "]");
      } else {
        auto& same_kind = v.port == 0 ? any_port : some_port;
        auto& other_kind = v.port == 0 ? some_port : any_port;
        const std::pair<IpAddress, Protocol> ap{v.address, v.protocol};
        same_kind.emplace(ap, i);
        if (const auto other = other_kind.find(ap); other != other_kind.end()) {
          add(path, to_string(key) + " overlaps vips[" + std::to_string(other->second) + "] (" +
                        vip_key(s.vips[other->second]) +
                        "): an address and protocol take either one any-port VIP (port 0) or "
                        "port-specific VIPs, not both");
        }
      }

      if (!lb::is_supported_table_size(v.maglev_table_size)) {
        std::string sizes;
        for (const std::uint32_t size : lb::supported_table_sizes()) {
          if (!sizes.empty()) sizes += ", ";
          sizes += std::to_string(size);
        }
        add(path + ".maglev_table_size",
            std::to_string(v.maglev_table_size) + " is not a supported size (" + sizes + ")");
      }
      if (v.backends.size() > lb::kMaxMaglevBackends) {
        add(path + ".backends", std::to_string(v.backends.size()) + " backends; the limit is " +
                                    std::to_string(lb::kMaxMaglevBackends));
      }
      if (v.health_check) health_check(path + ".health_check", *v.health_check, v.port);
      if (v.second_chance.value_or(false) && !second_chance_supported(v)) {
        add(path + ".second_chance",
            std::string("on needs a TCP VIP with encap gue and scheduler maglev (the second hop "
                        "travels in the GUE header and names the previous Maglev owner); this "
                        "VIP has ") +
                std::string(to_string(v.protocol)) + ", encap " + std::string(to_string(v.encap)) +
                ", scheduler " + std::string(to_string(v.scheduler)));
      }
      adaptive_keys(path, v);
      if (v.previous) {
        if (v.previous->backends.size() > lb::kMaxMaglevBackends) {
          add(path + ".previous.backends", std::to_string(v.previous->backends.size()) +
                                               " backends; the limit is " +
                                               std::to_string(lb::kMaxMaglevBackends));
        }
        std::set<IpAddress> previous_seen;
        for (std::size_t k = 0; k < v.previous->backends.size(); ++k) {
          const IpAddress& a = v.previous->backends[k].address;
          if (!previous_seen.insert(a).second) {
            add(path + ".previous.backends[" + std::to_string(k) + "].address",
                a.to_string() + " is listed twice");
          }
        }
      }
      if (v.new_flows_per_s > kMaxNewFlowsPerS) {
        add(path + ".new_flows_per_s", std::to_string(v.new_flows_per_s) + " is out of range 0.." +
                                           std::to_string(kMaxNewFlowsPerS) + " (0: no limit)");
      }

      std::map<IpAddress, std::size_t> seen;
      for (std::size_t k = 0; k < v.backends.size(); ++k) {
        const Backend& b = v.backends[k];
        const std::string bpath = path + ".backends[" + std::to_string(k) + "]";
        usable(bpath + ".address", b.address);
        if (const auto [it, fresh] = seen.emplace(b.address, k); !fresh) {
          add(bpath + ".address", b.address.to_string() + " is already backends[" +
                                      std::to_string(it->second) + "] of this VIP");
        }
        if (v.address.is_v6() && b.address.is_v4()) {
          add(bpath + ".address",
              "an IPv6 VIP cannot be carried to an IPv4 backend (" + b.address.to_string() + ")");
        }
        if (vip_addresses.count(b.address) != 0) {
          add(bpath + ".address", b.address.to_string() +
                                      " is a VIP address: packets would loop through the "
                                      "load balancer");
        }
        const auto& d = s.dataplane;
        if ((d.tunnel_source_v4 && *d.tunnel_source_v4 == b.address) ||
            (d.tunnel_source_v6 && *d.tunnel_source_v6 == b.address)) {
          add(bpath + ".address", b.address.to_string() + " is the tunnel source address");
        }
        if (b.address.is_v4() && !d.tunnel_source_v4 && !reported_missing_v4_source) {
          reported_missing_v4_source = true;
          add(bpath + ".address", "an IPv4 backend needs dataplane.tunnel_source_v4");
        }
        if (b.address.is_v6() && !d.tunnel_source_v6 && !reported_missing_v6_source) {
          reported_missing_v6_source = true;
          add(bpath + ".address", "an IPv6 backend needs dataplane.tunnel_source_v6");
        }
        if (b.weight > kMaxWeight) {
          add(bpath + ".weight",
              std::to_string(b.weight) + " is out of range 0.." + std::to_string(kMaxWeight));
        }
        pushed_layer(bpath, b, weight_scale(v));
        if (b.health_check) health_check(bpath + ".health_check", *b.health_check, v.port);
      }
    }
  }

  // state / effective_weight must agree with each other and with the intent.
  // slow_start_s, agent_check and passive_failure act through adaptive weights.
  void adaptive_keys(const std::string& path, const Vip& v) {
    if (!adaptive_weights(v)) {
      const auto needs = [&](const char* key) {
        add(path + "." + key, "needs weights: adaptive (this VIP's weights are static)");
      };
      if (v.slow_start_s != 0) needs("slow_start_s");
      if (v.agent_check) needs("agent_check");
      if (v.passive_failure.value_or(false)) needs("passive_failure");
    }
    range(path + ".slow_start_s", v.slow_start_s, 0, kMaxSlowStartS, " s");
    if (!v.agent_check) return;
    range(path + ".agent_check.port", v.agent_check->port, 1, 65535);
    range(path + ".agent_check.interval_ms", v.agent_check->interval_ms, kMinAgentIntervalMs,
          kMaxAgentIntervalMs, " ms");
    range(path + ".agent_check.timeout_ms", v.agent_check->timeout_ms, kMinAgentTimeoutMs,
          kMaxAgentIntervalMs, " ms");
    if (v.agent_check->timeout_ms >= v.agent_check->interval_ms) {
      add(path + ".agent_check.timeout_ms", std::to_string(v.agent_check->timeout_ms) +
                                                " must be below interval_ms " +
                                                std::to_string(v.agent_check->interval_ms));
    }
  }

  // `scale`: what one unit of configured weight is in effective_weight (weight_scale()).
  void pushed_layer(const std::string& bpath, const Backend& b, std::uint32_t scale) {
    if (b.effective_weight && *b.effective_weight > b.weight * scale) {
      add(bpath + ".effective_weight",
          std::to_string(*b.effective_weight) + " is above the configured weight " +
              std::to_string(b.weight) +
              (scale == 1 ? std::string()
                          : " (x" + std::to_string(scale) + " on an adaptive VIP)"));
    }
    if (!b.state) return;
    const std::string state(to_string(*b.state));
    if (*b.state == BackendState::up) {
      if (b.drained) {
        add(bpath + ".state", "up contradicts drained: true (a drained backend is draining)");
      } else if (scheduling_weight(b) == 0) {
        add(bpath + ".state",
            "up with an effective weight of 0 takes no new flows: write draining");
      }
    } else if (b.effective_weight.value_or(0) != 0) {
      add(bpath + ".effective_weight", "must be 0 when the state is " + state);
    }
  }

  // A file the control plane writes or connects to: non-empty, no NUL, UTF-8.
  void path_field(const std::string& field, const std::string& value) {
    if (value.empty() || value.size() > kMaxPathBytes) {
      add(field, "must be a path of 1.." + std::to_string(kMaxPathBytes) + " bytes");
    } else if (has_nul(value)) {
      add(field, kNulInPath);
    } else if (!is_valid_utf8(value)) {
      add(field, kNotUtf8);
    }
  }

  void bgp(const BgpSettings& b) {
    path_field("controlplane.bgp.bird_socket", b.bird_socket);
    path_field("controlplane.bgp.include_v4", b.include_v4);
    path_field("controlplane.bgp.include_v6", b.include_v6);
    if (b.include_v4 == b.include_v6) {
      add("controlplane.bgp.include_v6", "must differ from include_v4 (" + quoted(b.include_v4) +
                                             "): each address family has its own file");
    }
    for (std::size_t i = 0; i < b.bird_command.size(); ++i) {
      const std::string field = "controlplane.bgp.bird_command[" + std::to_string(i) + "]";
      if (b.bird_command[i].empty()) {
        add(field, "must not be empty");
      } else if (has_nul(b.bird_command[i])) {
        add(field, "must not contain a NUL byte");
      }
    }
  }

  // controlplane.host_name, .state_store and .etcd: endpoints are http(s)://HOST:PORT, TLS
  // only with https://, a client certificate only with its key.
  void etcd_settings(const ControlplaneSettings& c) {
    if (c.host_name.size() > kMaxHostNameBytes) {
      add("controlplane.host_name", "must be at most " + std::to_string(kMaxHostNameBytes) +
                                        " bytes, got " + std::to_string(c.host_name.size()));
    } else if (!c.host_name.empty() &&
               !std::all_of(c.host_name.begin(), c.host_name.end(), [](char ch) {
                 return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '-' ||
                        ch == '.' || ch == '_';
               })) {
      add("controlplane.host_name",
          quoted(c.host_name) + ": only letters, digits, '-', '.' and '_' are allowed");
    }
    if (c.state_store != StateStoreKind::etcd) return;
    if (!c.etcd) {
      add("controlplane.etcd", "required when state_store is etcd (endpoints: [http://HOST:PORT])");
      return;
    }
    const EtcdSettings& e = *c.etcd;
    if (e.endpoints.empty()) add("controlplane.etcd.endpoints", "must list at least one URL");
    bool any_https = false;
    for (std::size_t i = 0; i < e.endpoints.size(); ++i) {
      const std::string path = "controlplane.etcd.endpoints[" + std::to_string(i) + "]";
      const std::string& url = e.endpoints[i];
      std::string_view rest(url);
      if (rest.starts_with("http://")) {
        rest.remove_prefix(7);
      } else if (rest.starts_with("https://")) {
        rest.remove_prefix(8);
        any_https = true;
      } else {
        add(path, quoted(url) + " is not http://HOST:PORT or https://HOST:PORT");
        continue;
      }
      if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
      if (!is_host_port(rest) && !is_name_port(rest)) {
        add(path,
            quoted(url) + ": expected HOST:PORT after the scheme (e.g. http://198.18.6.1:2379)");
      }
    }
    if (e.prefix.empty() || e.prefix.front() != '/' || has_nul(e.prefix) ||
        !is_valid_utf8(e.prefix)) {
      add("controlplane.etcd.prefix", quoted(e.prefix) + " must start with '/' (e.g. /sluice/)");
    }
    if (e.tls) {
      if (!any_https) {
        add("controlplane.etcd.tls", "set, but no endpoint is https://");
      }
      if (e.tls->cert_file.empty() != e.tls->key_file.empty()) {
        add("controlplane.etcd.tls",
            "cert_file and key_file go together (a client certificate "
            "needs its key)");
      }
    }
  }

  // "name:port" with a DNS-style host name (is_host_port takes addresses only).
  static bool is_name_port(std::string_view text) {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) return false;
    const std::string_view host = text.substr(0, colon);
    const std::string_view port = text.substr(colon + 1);
    if (port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
      return false;
    }
    if (std::stoul(std::string(port)) < 1 || std::stoul(std::string(port)) > 65535) return false;
    return std::all_of(host.begin(), host.end(), [](char ch) {
      return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '-' || ch == '.';
    });
  }

  void controlplane(const State& s) {
    if (s.controlplane) {
      const ControlplaneSettings& c = *s.controlplane;
      if (c.api_socket.empty() || c.api_socket.size() > kMaxPathBytes) {
        add("controlplane.api_socket",
            "must be a path of 1.." + std::to_string(kMaxPathBytes) + " bytes");
      } else if (has_nul(c.api_socket)) {
        add("controlplane.api_socket", kNulInPath);
      } else if (!is_valid_utf8(c.api_socket)) {
        add("controlplane.api_socket", kNotUtf8);
      }
      if (c.state_file.empty()) {
        add("controlplane.state_file", "must not be empty");
      } else if (has_nul(c.state_file)) {
        add("controlplane.state_file", kNulInPath);
      } else if (!is_valid_utf8(c.state_file)) {
        add("controlplane.state_file", kNotUtf8);
      }
      if (!is_host_port(c.metrics_listen)) {
        add("controlplane.metrics_listen",
            quoted(c.metrics_listen) + " is not ADDRESS:PORT (e.g. 127.0.0.1:9780 or [::1]:9780)");
      }
      etcd_settings(c);
      if (c.api_max_connections < 1 || c.api_max_connections > kMaxApiConnections) {
        add("controlplane.api_max_connections", std::to_string(c.api_max_connections) +
                                                    " is out of range 1.." +
                                                    std::to_string(kMaxApiConnections));
      }
      path_field("controlplane.host_state_file", c.host_state_file);
      if (c.bgp) bgp(*c.bgp);
    }
    std::set<std::string> names;
    std::set<std::string> sockets;
    for (std::size_t i = 0; i < s.dataplanes.size(); ++i) {
      const DataplaneEndpoint& d = s.dataplanes[i];
      const std::string path = "dataplanes[" + std::to_string(i) + "]";
      const bool name_ok = !d.name.empty() && d.name.size() <= kMaxNameBytes &&
                           std::all_of(d.name.begin(), d.name.end(), [](char ch) {
                             return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
                           });
      if (!name_ok) {
        add(path + ".name", quoted(d.name) + " must be 1.." + std::to_string(kMaxNameBytes) +
                                " of A-Z a-z 0-9 . _ -");
      } else if (!names.insert(d.name).second) {
        add(path + ".name", quoted(d.name) + " is used twice");
      }
      if (d.control_socket.empty() || d.control_socket.size() > kMaxPathBytes) {
        add(path + ".control_socket",
            "must be a path of 1.." + std::to_string(kMaxPathBytes) + " bytes");
      } else if (has_nul(d.control_socket)) {
        add(path + ".control_socket", kNulInPath);
      } else if (!is_valid_utf8(d.control_socket)) {
        add(path + ".control_socket", kNotUtf8);
      } else if (!sockets.insert(d.control_socket).second) {
        add(path + ".control_socket", quoted(d.control_socket) + " is used twice");
      }
    }
  }
};

}  // namespace

std::vector<FieldError> find_errors(const State& state) {
  Checker c;
  if (state.generation > kMaxGeneration) {
    c.add("generation", std::to_string(state.generation) + " is above the maximum generation " +
                            std::to_string(kMaxGeneration) + " (2^53-1)");
  }
  c.dataplane(state);
  c.vips(state);
  c.controlplane(state);
  return std::move(c.errors);
}

Status validate(const State& state) {
  const auto errors = find_errors(state);
  if (errors.empty()) return ok_status();
  return Error{format_errors(errors, [](const std::string&) { return std::string(); })};
}

std::vector<FieldError> find_pushed_fields(const State& state) {
  std::vector<FieldError> errors;
  for (std::size_t v = 0; v < state.vips.size(); ++v) {
    for (std::size_t k = 0; k < state.vips[v].backends.size(); ++k) {
      const Backend& b = state.vips[v].backends[k];
      const std::string path =
          "vips[" + std::to_string(v) + "].backends[" + std::to_string(k) + "]";
      if (b.state) {
        errors.push_back({path + ".state",
                          "is set by the control plane from health checks and drains; to take "
                          "the backend out of service write drained: true"});
      }
      if (b.effective_weight) {
        errors.push_back({path + ".effective_weight",
                          "is set by the control plane; write weight for the share of new flows"});
      }
    }
  }
  return errors;
}

Status validate_desired(const State& state) {
  std::vector<FieldError> errors = find_errors(state);
  for (FieldError& e : find_pushed_fields(state))
    errors.push_back(std::move(e));
  if (errors.empty()) return ok_status();
  return Error{format_errors(errors, [](const std::string&) { return std::string(); })};
}

}  // namespace sluice::config

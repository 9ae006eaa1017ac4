// Internal: one decoder for the YAML file and the JSON wire form, so both accept exactly the
// same keys. It walks a tree through a small adapter (YamlNode in yaml.cpp, JsonNode in
// json.cpp) and stops at the first structural error, which names the location (YAML only)
// and the field path.
//
// An adapter provides:
//   NodeKind kind() const;
//   std::vector<Node> elements() const;                                             (lists)
//   std::vector<std::pair<Node, Node>> entries() const;                            (mappings)
//   std::optional<std::string> as_string() const;   (keys too)
//   std::optional<std::uint64_t> as_uint() const;   nullopt: not a non-negative integer
//   std::optional<bool> as_bool() const;
//   std::string describe() const;                   for "got ..." messages
//   std::string location() const;                   "file:line:col: " or ""
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/config/model.hpp"
#include "sluice/config/names.hpp"
#include "sluice/config/validate.hpp"
#include "sluice/lb/maglev.hpp"
#include "sluice/result.hpp"

namespace sluice::config::detail {

enum class NodeKind : std::uint8_t { null, scalar, list, mapping };

[[nodiscard]] inline std::string child_path(std::string_view path, std::string_view key) {
  std::string out(path);
  if (!out.empty()) out += '.';
  out += key;
  return out;
}

[[nodiscard]] inline std::string index_path(std::string_view path, std::size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

// "did you mean" for a mistyped key: the closest allowed key within two edits, or "".
[[nodiscard]] std::string_view closest_key(std::string_view key,
                                           std::span<const std::string_view> allowed);

// "a, b or c"
[[nodiscard]] std::string join_names(std::span<const std::string_view> names);
// "a, b, c"
[[nodiscard]] std::string join_keys(std::span<const std::string_view> keys);

template <typename Node>
class Decoder {
 public:
  using FieldFn = std::function<bool(const Node&, const std::string&)>;
  struct Field {
    std::string_view key;
    bool required;
    FieldFn decode;
  };

  // Called for every value node the decoder visits, with its field path (YAML: line map).
  std::function<void(const std::string&, const Node&)> on_node;

  [[nodiscard]] const Error& error() const { return error_; }

  bool fail(const Node& at, const std::string& path, const std::string& message) {
    error_ = Error{at.location() + (path.empty() ? "" : path + ": ") + message};
    return false;
  }

  // ---- Structure --------------------------------------------------------------------------

  bool fields(const Node& n, const std::string& path, std::initializer_list<Field> specs) {
    if (n.kind() != NodeKind::mapping) {
      return fail(n, path, "expected a mapping of keys, got " + n.describe());
    }
    std::vector<std::string_view> allowed;
    for (const Field& f : specs)
      allowed.push_back(f.key);
    std::vector<bool> seen(specs.size(), false);
    for (const auto& [key_node, value] : n.entries()) {
      const auto key = key_node.as_string();
      if (!key) return fail(key_node, path, "keys must be plain words, got " + key_node.describe());
      const std::string at = child_path(path, *key);
      const auto it = std::find(allowed.begin(), allowed.end(), *key);
      if (it == allowed.end()) {
        std::string message = "unknown key (allowed here: " + join_keys(allowed) + ")";
        if (const auto guess = closest_key(*key, allowed); !guess.empty()) {
          message += "; did you mean \"" + std::string(guess) + "\"?";
        }
        return fail(key_node, at, message);
      }
      const auto index = static_cast<std::size_t>(it - allowed.begin());
      if (seen[index]) return fail(key_node, at, "key given twice");
      seen[index] = true;
      if (on_node) on_node(at, value);
      if (!(specs.begin() + index)->decode(value, at)) return false;
    }
    for (std::size_t i = 0; i < specs.size(); ++i) {
      const Field& f = *(specs.begin() + i);
      if (f.required && !seen[i]) {
        return fail(n, path, "missing required key \"" + std::string(f.key) + "\"");
      }
    }
    return true;
  }

  template <typename T, typename Fn>
  bool list(const Node& n, const std::string& path, std::vector<T>& out, Fn&& decode_element) {
    if (n.kind() == NodeKind::null) {  // "backends:" with nothing under it: an empty list
      out.clear();
      return true;
    }
    if (n.kind() != NodeKind::list) return fail(n, path, "expected a list, got " + n.describe());
    const std::vector<Node> elements = n.elements();
    out.clear();
    out.resize(elements.size());
    for (std::size_t i = 0; i < elements.size(); ++i) {
      const std::string at = index_path(path, i);
      if (on_node) on_node(at, elements[i]);
      if (!decode_element(elements[i], at, out[i])) return false;
    }
    return true;
  }

  // ---- Scalars ----------------------------------------------------------------------------

  // [lo, hi] is the field's documented range, named in the errors. Values that fit T but
  // lie outside it are left to validate(), which reports every such problem at once.
  template <typename T>
  bool integer(const Node& n, const std::string& path, T& out, std::uint64_t lo = 0,
               std::uint64_t hi = std::numeric_limits<T>::max()) {
    constexpr std::uint64_t kMax = std::numeric_limits<T>::max();
    const auto range = std::to_string(lo) + ".." + std::to_string(hi);
    const auto v = n.as_uint();
    if (!v) return fail(n, path, "expected an integer (" + range + "), got " + n.describe());
    if (*v > kMax) return fail(n, path, std::to_string(*v) + " is out of range " + range);
    out = static_cast<T>(*v);
    return true;
  }

  bool boolean(const Node& n, const std::string& path, bool& out) {
    const auto v = n.as_bool();
    if (!v) return fail(n, path, "expected true or false, got " + n.describe());
    out = *v;
    return true;
  }

  // "on" / "off" (or true / false).
  bool on_off(const Node& n, const std::string& path, bool& out) {
    if (const auto b = n.as_bool()) {
      out = *b;
      return true;
    }
    const auto t = n.as_string();
    if (t && (*t == "on" || *t == "off")) {
      out = *t == "on";
      return true;
    }
    return fail(n, path, "expected on or off, got " + n.describe());
  }

  bool text(const Node& n, const std::string& path, std::string& out) {
    auto v = n.as_string();
    if (!v) return fail(n, path, "expected a string, got " + n.describe());
    out = std::move(*v);
    return true;
  }

  bool address(const Node& n, const std::string& path, IpAddress& out) {
    const auto text = n.as_string();
    if (!text) return fail(n, path, "expected an IPv4 or IPv6 address, got " + n.describe());
    const auto parsed = IpAddress::parse(*text);
    if (!parsed) return fail(n, path, n.describe() + " is not an IPv4 or IPv6 address");
    out = *parsed;
    return true;
  }

  // null leaves the optional empty.
  bool optional_address(const Node& n, const std::string& path, std::optional<IpAddress>& out) {
    if (n.kind() == NodeKind::null) {
      out.reset();
      return true;
    }
    return address(n, path, out.emplace());
  }

  bool mac(const Node& n, const std::string& path, MacAddress& out) {
    const auto text = n.as_string();
    const auto parsed = text ? parse_mac(*text) : std::nullopt;
    if (!parsed) {
      return fail(n, path,
                  "expected a MAC address like \"02:00:00:00:00:fe\", got " + n.describe());
    }
    out = *parsed;
    return true;
  }

  template <typename Enum, typename Parse>
  bool name(const Node& n, const std::string& path, Enum& out, Parse&& parse,
            std::span<const std::string_view> names) {
    const auto text = n.as_string();
    const std::optional<Enum> parsed = text ? parse(*text) : std::nullopt;
    if (!parsed) {
      return fail(n, path, "expected one of " + join_names(names) + ", got " + n.describe());
    }
    out = *parsed;
    return true;
  }

 private:
  Error error_;
};

// ---- The model ------------------------------------------------------------------------------

template <typename Node>
bool decode_health_check(Decoder<Node>& d, const Node& n, const std::string& path,
                         HealthCheck& out) {
  using D = Decoder<Node>;
  out = HealthCheck{};
  return d.fields(
      n, path,
      {
          typename D::Field{"type", true,
                            [&](const Node& v, const std::string& p) {
                              return d.name(v, p, out.type, parse_health_check_type,
                                            health_check_type_names());
                            }},
          {"port", false,
           [&](const Node& v, const std::string& p) { return d.integer(v, p, out.port); }},
          {"interval_ms", false,
           [&](const Node& v, const std::string& p) {
             return d.integer(v, p, out.interval_ms, kMinHealthIntervalMs, kMaxHealthIntervalMs);
           }},
          {"timeout_ms", false,
           [&](const Node& v, const std::string& p) {
             return d.integer(v, p, out.timeout_ms, kMinHealthTimeoutMs, kMaxHealthIntervalMs - 1);
           }},
          {"rise", false,
           [&](const Node& v, const std::string& p) {
             return d.integer(v, p, out.rise, 1, kMaxHealthThreshold);
           }},
          {"fall", false,
           [&](const Node& v, const std::string& p) {
             return d.integer(v, p, out.fall, 1, kMaxHealthThreshold);
           }},
          {"path", false,
           [&](const Node& v, const std::string& p) { return d.text(v, p, out.http_path); }},
          {"host", false,
           [&](const Node& v, const std::string& p) { return d.text(v, p, out.http_host); }},
          {"expect_status", false,
           [&](const Node& v, const std::string& p) {
             return d.integer(v, p, out.expect_status, kMinHttpStatus, kMaxHttpStatus);
           }},
          {"expect_body", false,
           [&](const Node& v, const std::string& p) { return d.text(v, p, out.expect_body); }},
          {"request", false,
           [&](const Node& v, const std::string& p) { return d.text(v, p, out.udp_request); }},
          {"expect", false,
           [&](const Node& v, const std::string& p) { return d.text(v, p, out.udp_expect); }},
      });
}

// null leaves the optional empty.
template <typename Node>
bool decode_optional_health_check(Decoder<Node>& d, const Node& n, const std::string& path,
                                  std::optional<HealthCheck>& out) {
  if (n.kind() == NodeKind::null) {
    out.reset();
    return true;
  }
  return decode_health_check(d, n, path, out.emplace());
}

template <typename Node>
bool decode_backend(Decoder<Node>& d, const Node& n, const std::string& path, Backend& out) {
  using D = Decoder<Node>;
  out = Backend{};
  return d.fields(
      n, path,
      {
          typename D::Field{
              "address", true,
              [&](const Node& v, const std::string& p) { return d.address(v, p, out.address); }},
          {"weight", false,
           [&](const Node& v, const std::string& p) {
             return d.integer(v, p, out.weight, 0, kMaxWeight);
           }},
          {"drained", false,
           [&](const Node& v, const std::string& p) { return d.boolean(v, p, out.drained); }},
          {"health_check", false,
           [&](const Node& v, const std::string& p) {
             return decode_optional_health_check(d, v, p, out.health_check);
           }},
          {"state", false,
           [&](const Node& v, const std::string& p) {
             return d.name(v, p, out.state.emplace(), parse_backend_state, backend_state_names());
           }},
          {"effective_weight", false,
           [&](const Node& v, const std::string& p) {
             return d.integer(v, p, out.effective_weight.emplace(), 0,
                              kMaxWeight * kAdaptiveWeightScale);
           }},
      });
}

template <typename Node>
bool decode_agent_check(Decoder<Node>& d, const Node& n, const std::string& path, AgentCheck& out) {
  using D = Decoder<Node>;
  out = AgentCheck{};
  return d.fields(
      n, path,
      {
          typename D::Field{"port", true,
                            [&](const Node& v, const std::string& p) {
                              return d.integer(v, p, out.port, 1, 65535);
                            }},
          {"interval_ms", false,
           [&](const Node& v, const std::string& p) {
             return d.integer(v, p, out.interval_ms, kMinAgentIntervalMs, kMaxAgentIntervalMs);
           }},
          {"timeout_ms", false,
           [&](const Node& v, const std::string& p) {
             return d.integer(v, p, out.timeout_ms, kMinAgentTimeoutMs, kMaxAgentIntervalMs);
           }},
      });
}

// The pushed `previous` block (docs/second-chance.md).
template <typename Node>
bool decode_previous_backends(Decoder<Node>& d, const Node& n, const std::string& path,
                              PreviousBackends& out) {
  using D = Decoder<Node>;
  out = PreviousBackends{};
  return d.fields(
      n, path,
      {
          typename D::Field{"replaced_at", true,
                            [&](const Node& v, const std::string& p) {
                              return d.integer(v, p, out.replaced_at);
                            }},
          {"since", false,
           [&](const Node& v, const std::string& p) { return d.integer(v, p, out.since); }},
          {"current_since", false,
           [&](const Node& v, const std::string& p) { return d.integer(v, p, out.current_since); }},
          {"backends", true,
           [&](const Node& v, const std::string& p) {
             return d.list(
                 v, p, out.backends, [&](const Node& e, const std::string& ep, PreviousBackend& b) {
                   return d.fields(e, ep,
                                   {
                                       typename D::Field{"address", true,
                                                         [&](const Node& x, const std::string& xp) {
                                                           return d.address(x, xp, b.address);
                                                         }},
                                       {"weight", true,
                                        [&](const Node& x, const std::string& xp) {
                                          return d.integer(x, xp, b.weight, 0,
                                                           kMaxWeight * kAdaptiveWeightScale);
                                        }},
                                   });
                 });
           }},
      });
}

template <typename Node>
bool decode_vip(Decoder<Node>& d, const Node& n, const std::string& path, Vip& out) {
  using D = Decoder<Node>;
  out = Vip{};
  return d.fields(
      n, path,
      {
          typename D::Field{
              "address", true,
              [&](const Node& v, const std::string& p) { return d.address(v, p, out.address); }},
          {"port", true,
           [&](const Node& v, const std::string& p) { return d.integer(v, p, out.port); }},
          {"protocol", true,
           [&](const Node& v, const std::string& p) {
             return d.name(v, p, out.protocol, parse_protocol, protocol_names());
           }},
          {"scheduler", false,
           [&](const Node& v, const std::string& p) {
             return d.name(v, p, out.scheduler, parse_scheduler, scheduler_names());
           }},
          {"encap", false,
           [&](const Node& v, const std::string& p) {
             return d.name(v, p, out.encap, parse_encap, encap_names());
           }},
          {"maglev_table_size", false,
           [&](const Node& v, const std::string& p) {
             return d.integer(v, p, out.maglev_table_size, lb::supported_table_sizes().front(),
                              lb::supported_table_sizes().back());
           }},
          {"fragments", false,
           [&](const Node& v, const std::string& p) {
             return d.name(v, p, out.fragments, parse_fragment_policy, fragment_policy_names());
           }},
          {"backends", false,
           [&](const Node& v, const std::string& p) {
             return d.list(v, p, out.backends,
                           [&](const Node& e, const std::string& ep, Backend& b) {
                             return decode_backend(d, e, ep, b);
                           });
           }},
          {"health_check", false,
           [&](const Node& v, const std::string& p) {
             return decode_optional_health_check(d, v, p, out.health_check);
           }},
          {"all_down", false,
           [&](const Node& v, const std::string& p) {
             return d.name(v, p, out.all_down, parse_all_down_policy, all_down_policy_names());
           }},
          {"new_flows_per_s", false,
           [&](const Node& v, const std::string& p) {
             return d.integer(v, p, out.new_flows_per_s);
           }},
          {"announce", false,
           [&](const Node& v, const std::string& p) {
             return d.name(v, p, out.announce, parse_announce_policy, announce_policy_names());
           }},
          {"second_chance", false,
           [&](const Node& v, const std::string& p) {
             return d.on_off(v, p, out.second_chance.emplace());
           }},
          {"syn_rescue", false,
           [&](const Node& v, const std::string& p) {
             return d.on_off(v, p, out.syn_rescue.emplace());
           }},
          {"previous", false,
           [&](const Node& v, const std::string& p) {
             return decode_previous_backends(d, v, p, out.previous.emplace());
           }},
          {"weights", false,
           [&](const Node& v, const std::string& p) {
             return d.name(v, p, out.weights, parse_weight_policy, weight_policy_names());
           }},
          {"slow_start_s", false,
           [&](const Node& v, const std::string& p) {
             return d.integer(v, p, out.slow_start_s, 0, kMaxSlowStartS);
           }},
          {"agent_check", false,
           [&](const Node& v, const std::string& p) {
             return decode_agent_check(d, v, p, out.agent_check.emplace());
           }},
          {"passive_failure", false,
           [&](const Node& v, const std::string& p) {
             return d.on_off(v, p, out.passive_failure.emplace());
           }},
      });
}

template <typename Node>
bool decode_dataplane_settings(Decoder<Node>& d, const Node& n, const std::string& path,
                               DataplaneSettings& out) {
  using D = Decoder<Node>;
  out = DataplaneSettings{};
  return d.fields(
      n, path,
      {
          typename D::Field{
              "next_hop_mac", false,
              [&](const Node& v, const std::string& p) { return d.mac(v, p, out.next_hop_mac); }},
          {"tunnel_source_v4", false,
           [&](const Node& v, const std::string& p) {
             return d.optional_address(v, p, out.tunnel_source_v4);
           }},
          {"tunnel_source_v6", false,
           [&](const Node& v, const std::string& p) {
             return d.optional_address(v, p, out.tunnel_source_v6);
           }},
          {"mtu", false,
           [&](const Node& v, const std::string& p) {
             return d.integer(v, p, out.mtu, kMinMtuV4, kMaxMtu);
           }},
          {"gue_port", false,
           [&](const Node& v, const std::string& p) { return d.integer(v, p, out.gue_port, 1); }},
          {"outer_ttl", false,
           [&](const Node& v, const std::string& p) { return d.integer(v, p, out.outer_ttl, 1); }},
          {"flow_table_entries", false,
           [&](const Node& v, const std::string& p) {
             return d.integer(v, p, out.flow_table_entries, kMinFlowTableEntries,
                              kMaxFlowTableEntries);
           }},
          {"flow_idle_timeout_s", false,
           [&](const Node& v, const std::string& p) {
             return d.integer(v, p, out.flow_idle_timeout_s, 1, kMaxFlowTimeoutS);
           }},
          {"flow_closed_timeout_s", false,
           [&](const Node& v, const std::string& p) {
             return d.integer(v, p, out.flow_closed_timeout_s, 1, kMaxFlowTimeoutS);
           }},
          {"flow_open_timeout_s", false,
           [&](const Node& v, const std::string& p) {
             return d.integer(v, p, out.flow_open_timeout_s);
           }},
          {"udp_idle_timeout_s", false,
           [&](const Node& v, const std::string& p) {
             return d.integer(v, p, out.udp_idle_timeout_s, 1, kMaxFlowTimeoutS);
           }},
      });
}

// controlplane.state_store: "file" | "etcd", in enum order.
inline constexpr std::string_view kStateStoreKindNames[] = {"file", "etcd"};
[[nodiscard]] inline std::optional<StateStoreKind> parse_state_store_kind(std::string_view text) {
  for (std::size_t i = 0; i < std::size(kStateStoreKindNames); ++i) {
    if (text == kStateStoreKindNames[i]) return static_cast<StateStoreKind>(i);
  }
  return std::nullopt;
}

template <typename Node>
bool decode_etcd_settings(Decoder<Node>& d, const Node& n, const std::string& path,
                          EtcdSettings& out) {
  using D = Decoder<Node>;
  out = EtcdSettings{};
  return d.fields(
      n, path,
      {
          typename D::Field{"endpoints", true,
                            [&](const Node& v, const std::string& p) {
                              return d.list(v, p, out.endpoints,
                                            [&](const Node& e, const std::string& ep,
                                                std::string& url) { return d.text(e, ep, url); });
                            }},
          {"prefix", false,
           [&](const Node& v, const std::string& p) { return d.text(v, p, out.prefix); }},
          {"tls", false,
           [&](const Node& v, const std::string& p) {
             if (v.kind() == NodeKind::null) {
               out.tls.reset();
               return true;
             }
             EtcdTls& tls = out.tls.emplace();
             return d.fields(v, p,
                             {
                                 typename D::Field{"ca_file", false,
                                                   [&](const Node& f, const std::string& fp) {
                                                     return d.text(f, fp, tls.ca_file);
                                                   }},
                                 {"cert_file", false,
                                  [&](const Node& f, const std::string& fp) {
                                    return d.text(f, fp, tls.cert_file);
                                  }},
                                 {"key_file", false,
                                  [&](const Node& f, const std::string& fp) {
                                    return d.text(f, fp, tls.key_file);
                                  }},
                             });
           }},
      });
}

template <typename Node>
bool decode_bgp_settings(Decoder<Node>& d, const Node& n, const std::string& path,
                         BgpSettings& out) {
  using D = Decoder<Node>;
  out = BgpSettings{};
  return d.fields(
      n, path,
      {
          typename D::Field{
              "bird_socket", false,
              [&](const Node& v, const std::string& p) { return d.text(v, p, out.bird_socket); }},
          {"include_v4", false,
           [&](const Node& v, const std::string& p) { return d.text(v, p, out.include_v4); }},
          {"include_v6", false,
           [&](const Node& v, const std::string& p) { return d.text(v, p, out.include_v6); }},
          {"bird_command", false,
           [&](const Node& v, const std::string& p) {
             return d.list(v, p, out.bird_command,
                           [&](const Node& e, const std::string& ep, std::string& arg) {
                             return d.text(e, ep, arg);
                           });
           }},
          {"graceful_shutdown", false,
           [&](const Node& v, const std::string& p) {
             return d.boolean(v, p, out.graceful_shutdown);
           }},
          {"graceful_shutdown_hold_ms", false,
           [&](const Node& v, const std::string& p) {
             return d.integer(v, p, out.graceful_shutdown_hold_ms, 0, kMaxGracefulShutdownHoldMs);
           }},
      });
}

template <typename Node>
bool decode_controlplane_settings(Decoder<Node>& d, const Node& n, const std::string& path,
                                  ControlplaneSettings& out) {
  using D = Decoder<Node>;
  out = ControlplaneSettings{};
  return d.fields(
      n, path,
      {
          typename D::Field{
              "host_name", false,
              [&](const Node& v, const std::string& p) { return d.text(v, p, out.host_name); }},
          {"state_store", false,
           [&](const Node& v, const std::string& p) {
             return d.name(v, p, out.state_store, parse_state_store_kind,
                           std::span<const std::string_view>(kStateStoreKindNames));
           }},
          {"etcd", false,
           [&](const Node& v, const std::string& p) {
             if (v.kind() == NodeKind::null) {
               out.etcd.reset();
               return true;
             }
             return decode_etcd_settings(d, v, p, out.etcd.emplace());
           }},
          {"api_socket", false,
           [&](const Node& v, const std::string& p) { return d.text(v, p, out.api_socket); }},
          {"state_file", false,
           [&](const Node& v, const std::string& p) { return d.text(v, p, out.state_file); }},
          {"metrics_listen", false,
           [&](const Node& v, const std::string& p) { return d.text(v, p, out.metrics_listen); }},
          {"api_max_connections", false,
           [&](const Node& v, const std::string& p) {
             return d.integer(v, p, out.api_max_connections);
           }},
          {"host_state_file", false,
           [&](const Node& v, const std::string& p) { return d.text(v, p, out.host_state_file); }},
          {"bgp", false,
           [&](const Node& v, const std::string& p) {
             if (v.kind() == NodeKind::null) {
               out.bgp.reset();
               return true;
             }
             return decode_bgp_settings(d, v, p, out.bgp.emplace());
           }},
      });
}

template <typename Node>
bool decode_dataplane_endpoint(Decoder<Node>& d, const Node& n, const std::string& path,
                               DataplaneEndpoint& out) {
  using D = Decoder<Node>;
  out = DataplaneEndpoint{};
  return d.fields(
      n, path,
      {
          typename D::Field{
              "name", true,
              [&](const Node& v, const std::string& p) { return d.text(v, p, out.name); }},
          {"control_socket", true,
           [&](const Node& v, const std::string& p) { return d.text(v, p, out.control_socket); }},
      });
}

// A null or empty document is an empty state (all defaults, no VIPs).
template <typename Node>
bool decode_state(Decoder<Node>& d, const Node& n, State& out) {
  using D = Decoder<Node>;
  out = State{};
  if (n.kind() == NodeKind::null) return true;
  return d.fields(
      n, "",
      {
          typename D::Field{
              "generation", false,
              [&](const Node& v, const std::string& p) { return d.integer(v, p, out.generation); }},
          {"dataplane", false,
           [&](const Node& v, const std::string& p) {
             if (v.kind() == NodeKind::null) return true;
             return decode_dataplane_settings(d, v, p, out.dataplane);
           }},
          {"vips", false,
           [&](const Node& v, const std::string& p) {
             return d.list(v, p, out.vips, [&](const Node& e, const std::string& ep, Vip& vip) {
               return decode_vip(d, e, ep, vip);
             });
           }},
          {"controlplane", false,
           [&](const Node& v, const std::string& p) {
             if (v.kind() == NodeKind::null) {
               out.controlplane.reset();
               return true;
             }
             return decode_controlplane_settings(d, v, p, out.controlplane.emplace());
           }},
          {"dataplanes", false,
           [&](const Node& v, const std::string& p) {
             return d.list(v, p, out.dataplanes,
                           [&](const Node& e, const std::string& ep, DataplaneEndpoint& dp) {
                             return decode_dataplane_endpoint(d, e, ep, dp);
                           });
           }},
      });
}

}  // namespace sluice::config::detail

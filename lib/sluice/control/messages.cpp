#include "sluice/control/messages.hpp"

#include <algorithm>
#include <initializer_list>
#include <limits>

#include "sluice/config/json.hpp"
#include "sluice/config/names.hpp"

namespace sluice::control {
namespace {

using nlohmann::json;

std::string describe(const json& j) {
  std::string text = j.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

// Refuses keys outside `allowed` (requests are strict).
Status only_keys(const json& j, std::string_view what,
                 std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : j.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string names;
      for (const auto name : allowed) {
        if (!names.empty()) names += ", ";
        names += name;
      }
      return Error{std::string(what) + ": unknown key \"" + key + "\" (allowed: " + names + ")"};
    }
  }
  return ok_status();
}

// Reads fields of a reply or a flow, remembering the first problem. Absent keys keep their
// default unless marked required; a key of the wrong type is always an error.
class Reader {
 public:
  Reader(const json& j, std::string path) : j_(j), path_(std::move(path)) {
    if (!j_.is_object()) fail(path_, "expected an object, got " + describe(j_));
  }

  [[nodiscard]] bool ok() const { return !error_; }
  [[nodiscard]] const Error& error() const { return *error_; }
  [[nodiscard]] const std::string& path() const { return path_; }

  template <typename T>
  void integer(std::string_view key, T& out, bool required = false) {
    const json* v = find(key, required);
    if (v == nullptr) return;
    constexpr auto kMax = std::numeric_limits<T>::max();
    if (!v->is_number_unsigned() && !(v->is_number_integer() && v->get<std::int64_t>() >= 0)) {
      return fail(at(key),
                  "expected an integer (0.." + std::to_string(kMax) + "), got " + describe(*v));
    }
    const auto n = v->get<std::uint64_t>();
    if (n > kMax)
      return fail(at(key), std::to_string(n) + " is out of range 0.." + std::to_string(kMax));
    out = static_cast<T>(n);
  }

  template <typename T>
  void optional_integer(std::string_view key, std::optional<T>& out) {
    const json* v = find(key, false);
    if (v == nullptr || v->is_null()) {
      out.reset();
      return;
    }
    integer(key, out.emplace());
  }

  void text(std::string_view key, std::string& out, bool required = false) {
    const json* v = find(key, required);
    if (v == nullptr) return;
    if (!v->is_string()) return fail(at(key), "expected a string, got " + describe(*v));
    out = v->get<std::string>();
  }

  void boolean(std::string_view key, bool& out) {
    const json* v = find(key, false);
    if (v == nullptr) return;
    if (!v->is_boolean()) return fail(at(key), "expected true or false, got " + describe(*v));
    out = v->get<bool>();
  }

  void address(std::string_view key, IpAddress& out) {
    std::string s;
    text(key, s, true);
    if (!ok()) return;
    const auto parsed = IpAddress::parse(s);
    if (!parsed) return fail(at(key), "\"" + s + "\" is not an IPv4 or IPv6 address");
    out = *parsed;
  }

  // An object of name -> count at `key` (absent: none).
  void count_map(std::string_view key, std::map<std::string, std::uint64_t>& out) {
    const json* v = find(key, false);
    if (v == nullptr) return;
    if (!v->is_object()) return fail(at(key), "expected an object, got " + describe(*v));
    for (const auto& [name, count] : v->items()) {
      if (!count.is_number_unsigned() &&
          !(count.is_number_integer() && count.get<std::int64_t>() >= 0)) {
        return fail(at(key) + "." + name, "expected a count, got " + describe(count));
      }
      out[name] = count.get<std::uint64_t>();
    }
  }

  // An array of exactly N counts at `key` (absent: all 0).
  template <std::size_t N>
  void count_array(std::string_view key, std::array<std::uint64_t, N>& out) {
    const json* v = find(key, false);
    if (v == nullptr) return;
    if (!v->is_array() || v->size() != N) {
      return fail(at(key),
                  "expected an array of " + std::to_string(N) + " counts, got " + describe(*v));
    }
    for (std::size_t i = 0; i < N; ++i) {
      const json& count = (*v)[i];
      if (!count.is_number_unsigned() &&
          !(count.is_number_integer() && count.get<std::int64_t>() >= 0)) {
        return fail(at(key) + "[" + std::to_string(i) + "]",
                    "expected a count, got " + describe(count));
      }
      out[i] = count.get<std::uint64_t>();
    }
  }

  // Each element of the array at `key` (absent: none) read by fn(Reader&, T&).
  template <typename T, typename Fn>
  void list(std::string_view key, std::vector<T>& out, Fn&& fn) {
    const json* v = find(key, false);
    if (v == nullptr) return;
    if (!v->is_array()) return fail(at(key), "expected an array, got " + describe(*v));
    out.clear();
    out.reserve(v->size());
    for (std::size_t i = 0; i < v->size() && ok(); ++i) {
      Reader element((*v)[i], at(key) + "[" + std::to_string(i) + "]");
      T item{};
      if (element.ok()) fn(element, item);
      if (!element.ok()) return fail_with(element.error());
      out.push_back(std::move(item));
    }
  }

  const json* find(std::string_view key, bool required) {
    if (!ok()) return nullptr;
    const auto it = j_.find(key);
    if (it == j_.end()) {
      if (required) fail(at(key), "missing");
      return nullptr;
    }
    return &*it;
  }

  void fail(const std::string& path, const std::string& message) {
    if (!error_) error_ = Error{path + ": " + message};
  }
  void fail_with(const Error& e) {
    if (!error_) error_ = e;
  }

  [[nodiscard]] std::string at(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

 private:
  const json& j_;
  std::string path_;
  std::optional<Error> error_;
};

void read_lcore_counters(Reader& r, LcoreCounters& c) {
  r.integer("lcore", c.lcore);
  r.integer("rx_packets", c.rx_packets);
  r.integer("tx_packets", c.tx_packets);
  r.integer("forward", c.forward);
  r.integer("reply", c.reply);
  r.integer("pass", c.pass);
  r.integer("drop", c.drop);
  r.integer("host_rx_packets", c.host_rx_packets);
  r.integer("host_relayed", c.host_relayed);
  r.integer("host_relay_refused", c.host_relay_refused);
  r.integer("rx_polls", c.rx_polls);
  r.integer("idle_polls", c.idle_polls);
  r.integer("busy_polls", c.busy_polls);
  r.integer("max_loop_gap_ns", c.max_loop_gap_ns);
  r.integer("sleeps", c.sleeps);
  r.integer("slept_ns", c.slept_ns);
}

void read_backend_counters(Reader& r, BackendCounters& c) {
  r.text("address", c.address);
  std::string state;
  r.text("state", state);
  if (!state.empty()) {
    const auto parsed = config::parse_backend_state(state);
    if (!parsed) return r.fail(r.at("state"), "\"" + state + "\" is not up, draining or down");
    c.state = *parsed;
  }
  r.integer("packets", c.packets);
  r.integer("bytes", c.bytes);
  r.integer("new_flows", c.new_flows);
  r.integer("rescheduled_flows", c.rescheduled_flows);
  r.integer("active_flows", c.active_flows);
  r.integer("syns", c.syns);
  r.integer("syn_retransmits", c.syn_retransmits);
  r.integer("handshakes", c.handshakes);
  r.count_array("handshake_ms_buckets", c.handshake_ms_buckets);
  r.integer("unanswered", c.unanswered);
  r.integer("syn_rescued", c.syn_rescued);
}

void read_vip_counters(Reader& r, VipCounters& c) {
  r.text("vip", c.vip);
  r.integer("packets", c.packets);
  r.integer("bytes", c.bytes);
  r.integer("new_flows", c.new_flows);
  r.integer("active_flows", c.active_flows);
  r.integer("dropped", c.dropped);
  r.integer("replied", c.replied);
  r.integer("second_hop_flows", c.second_hop_flows);
  r.integer("second_hop_packets", c.second_hop_packets);
  r.list("per_backend", c.per_backend, read_backend_counters);
}

void read_port_status(Reader& r, PortStatus& p) {
  r.integer("port_id", p.port_id);
  r.text("name", p.name);
  r.text("driver", p.driver);
  r.text("mac", p.mac);
  r.integer("rx_queues", p.rx_queues);
  r.integer("tx_queues", p.tx_queues);
  r.boolean("link_up", p.link_up);
  r.integer("link_speed_mbps", p.link_speed_mbps);
  r.integer("rx_packets", p.rx_packets);
  r.integer("tx_packets", p.tx_packets);
  r.integer("rx_bytes", p.rx_bytes);
  r.integer("tx_bytes", p.tx_bytes);
  r.integer("rx_missed", p.rx_missed);
  r.integer("rx_errors", p.rx_errors);
  r.integer("tx_errors", p.tx_errors);
}

template <typename T, typename Fn>
Result<T> read_reply(const json& j, Fn&& fn) {
  Reader r(j, "");
  T out{};
  if (r.ok()) fn(r, out);
  if (!r.ok()) return Error{"malformed reply: " + r.error().message};
  return out;
}

}  // namespace

FlowKey ExplainFlow::to_flow_key() const {
  FlowKey key;
  key.src_addr = src.bytes;
  key.dst_addr = dst.bytes;
  key.src_port = src_port;
  key.dst_port = dst_port;
  key.protocol = static_cast<std::uint8_t>(protocol);
  key.family = src.family;
  return key;
}

// ---- Requests -------------------------------------------------------------------------------

Result<Request> parse_request(const json& j) {
  if (!j.is_object()) return Error{"request: expected an object, got " + describe(j)};
  const auto op_it = j.find("op");
  if (op_it == j.end()) return Error{"op: missing (a request names its operation)"};
  if (!op_it->is_string()) return Error{"op: expected a string, got " + describe(*op_it)};
  const std::string op_text = op_it->get<std::string>();
  const std::string what = "a " + op_text + " request";

  if (op_text == op::kPushState) {
    if (auto keys = only_keys(j, what, {"op", "state"}); !keys) return keys.error();
    const auto state = j.find("state");
    if (state == j.end()) return Error{"state: missing (push_state carries the whole state)"};
    auto decoded = config::state_from_json(*state, config::Check::full);
    if (!decoded) return decoded.error();
    return Request{PushStateRequest{std::move(decoded).value()}};
  }
  if (op_text == op::kGetStatus) {
    if (auto keys = only_keys(j, what, {"op"}); !keys) return keys.error();
    return Request{GetStatusRequest{}};
  }
  if (op_text == op::kGetCounters) {
    if (auto keys = only_keys(j, what, {"op"}); !keys) return keys.error();
    return Request{GetCountersRequest{}};
  }
  if (op_text == op::kExplain) {
    if (auto keys = only_keys(j, what, {"op", "flow"}); !keys) return keys.error();
    const auto flow = j.find("flow");
    if (flow == j.end()) return Error{"flow: missing (the 5-tuple to explain)"};
    auto decoded = explain_flow_from_json(*flow);
    if (!decoded) return decoded.error();
    return Request{ExplainRequest{*decoded}};
  }
  return Error{"op: unknown operation \"" + op_text + "\" (known: " + std::string(op::kPushState) +
               ", " + std::string(op::kGetStatus) + ", " + std::string(op::kGetCounters) + ", " +
               std::string(op::kExplain) + ")"};
}

std::string_view op_name(const Request& request) {
  struct Visitor {
    std::string_view operator()(const PushStateRequest&) const { return op::kPushState; }
    std::string_view operator()(const GetStatusRequest&) const { return op::kGetStatus; }
    std::string_view operator()(const GetCountersRequest&) const { return op::kGetCounters; }
    std::string_view operator()(const ExplainRequest&) const { return op::kExplain; }
  };
  return std::visit(Visitor{}, request);
}

json to_json(const Request& request) {
  json j = json::object();
  j["op"] = std::string(op_name(request));
  if (const auto* push = std::get_if<PushStateRequest>(&request)) {
    j["state"] = config::to_json(push->state);
  } else if (const auto* explain = std::get_if<ExplainRequest>(&request)) {
    j["flow"] = to_json(explain->flow);
  }
  return j;
}

// ---- Replies --------------------------------------------------------------------------------

json ok_reply(json fields) {
  json reply = fields.is_object() ? std::move(fields) : json::object();
  reply["ok"] = true;
  reply.erase("error");
  return reply;
}

json error_reply(std::string_view message) {
  return json{{"ok", false}, {"error", std::string(message)}};
}

Result<json> check_reply(const json& reply) {
  if (!reply.is_object()) return Error{"malformed reply: expected an object"};
  const auto ok = reply.find("ok");
  if (ok == reply.end() || !ok->is_boolean()) {
    return Error{"malformed reply: \"ok\" is missing or not true/false"};
  }
  if (ok->get<bool>()) return reply;
  const auto error = reply.find("error");
  if (error == reply.end() || !error->is_string()) {
    return Error{"request refused (the reply gives no reason)"};
  }
  return Error{error->get<std::string>()};
}

std::string_view to_string(ExplainSource s) {
  switch (s) {
    case ExplainSource::flow_table:
      return "flow_table";
    case ExplainSource::scheduler:
      return "scheduler";
    case ExplainSource::none:
      break;
  }
  return "none";
}

json to_json(const PushStateReply& v) {
  return json{{"generation", v.generation}};
}

json to_json(const DataplaneStatus& v) {
  json lcores = json::array();
  for (const LcoreStatus& l : v.lcores) {
    json lcore = {{"lcore", l.lcore}, {"role", l.role}};
    if (!l.idle.empty()) lcore["idle"] = l.idle;
    lcores.push_back(std::move(lcore));
  }
  json ports = json::array();
  for (const PortStatus& p : v.ports) {
    ports.push_back({
        {"port_id", p.port_id},
        {"name", p.name},
        {"driver", p.driver},
        {"mac", p.mac},
        {"rx_queues", p.rx_queues},
        {"tx_queues", p.tx_queues},
        {"link_up", p.link_up},
        {"link_speed_mbps", p.link_speed_mbps},
        {"rx_packets", p.rx_packets},
        {"tx_packets", p.tx_packets},
        {"rx_bytes", p.rx_bytes},
        {"tx_bytes", p.tx_bytes},
        {"rx_missed", p.rx_missed},
        {"rx_errors", p.rx_errors},
        {"tx_errors", p.tx_errors},
    });
  }
  return json{
      {"protocol_version", v.protocol_version},
      {"version", v.version},
      {"generation", v.generation},
      {"uptime_ms", v.uptime_ms},
      {"vips", v.vips},
      {"flow_table_entries", v.flow_table_entries},
      {"lcores", std::move(lcores)},
      {"ports", std::move(ports)},
  };
}

LcoreCounters total_of(const std::vector<LcoreCounters>& lcores) {
  LcoreCounters sum;
  for (const LcoreCounters& l : lcores) {
    sum.rx_packets += l.rx_packets;
    sum.tx_packets += l.tx_packets;
    sum.forward += l.forward;
    sum.reply += l.reply;
    sum.pass += l.pass;
    sum.drop += l.drop;
    sum.host_rx_packets += l.host_rx_packets;
    sum.host_relayed += l.host_relayed;
    sum.host_relay_refused += l.host_relay_refused;
    sum.rx_polls += l.rx_polls;
    sum.idle_polls += l.idle_polls;
    sum.busy_polls += l.busy_polls;
    sum.max_loop_gap_ns = std::max(sum.max_loop_gap_ns, l.max_loop_gap_ns);  // the worst worker
    sum.sleeps += l.sleeps;
    sum.slept_ns += l.slept_ns;
  }
  return sum;
}

json to_json(const Counters& v) {
  json per_lcore = json::array();
  for (const LcoreCounters& c : v.per_lcore) {
    per_lcore.push_back({{"lcore", c.lcore},
                         {"rx_packets", c.rx_packets},
                         {"tx_packets", c.tx_packets},
                         {"forward", c.forward},
                         {"reply", c.reply},
                         {"pass", c.pass},
                         {"drop", c.drop},
                         {"host_rx_packets", c.host_rx_packets},
                         {"host_relayed", c.host_relayed},
                         {"host_relay_refused", c.host_relay_refused},
                         {"rx_polls", c.rx_polls},
                         {"idle_polls", c.idle_polls},
                         {"busy_polls", c.busy_polls},
                         {"max_loop_gap_ns", c.max_loop_gap_ns},
                         {"sleeps", c.sleeps},
                         {"slept_ns", c.slept_ns}});
  }
  json per_vip = json::array();
  for (const VipCounters& c : v.per_vip) {
    json per_backend = json::array();
    for (const BackendCounters& b : c.per_backend) {
      per_backend.push_back({{"address", b.address},
                             {"state", std::string(config::to_string(b.state))},
                             {"packets", b.packets},
                             {"bytes", b.bytes},
                             {"new_flows", b.new_flows},
                             {"rescheduled_flows", b.rescheduled_flows},
                             {"active_flows", b.active_flows},
                             {"syns", b.syns},
                             {"syn_retransmits", b.syn_retransmits},
                             {"handshakes", b.handshakes},
                             {"handshake_ms_buckets", b.handshake_ms_buckets},
                             {"unanswered", b.unanswered},
                             {"syn_rescued", b.syn_rescued}});
    }
    per_vip.push_back({{"vip", c.vip},
                       {"packets", c.packets},
                       {"bytes", c.bytes},
                       {"new_flows", c.new_flows},
                       {"active_flows", c.active_flows},
                       {"dropped", c.dropped},
                       {"replied", c.replied},
                       {"second_hop_flows", c.second_hop_flows},
                       {"second_hop_packets", c.second_hop_packets},
                       {"per_backend", std::move(per_backend)}});
  }
  json drops = json::object();
  for (const auto& [name, count] : v.drops)
    drops[name] = count;
  json events = json::object();
  for (const auto& [name, count] : v.events)
    events[name] = count;
  return json{{"generation", v.generation},
              {"per_lcore", std::move(per_lcore)},
              {"per_vip", std::move(per_vip)},
              {"drops", std::move(drops)},
              {"events", std::move(events)}};
}

json to_json(const ExplainFlow& v) {
  json j{{"src", v.src.to_string()},
         {"dst", v.dst.to_string()},
         {"src_port", v.src_port},
         {"dst_port", v.dst_port},
         {"protocol", std::string(config::to_string(v.protocol))}};
  if (v.syn) j["syn"] = true;  // absent: a packet of an existing connection
  return j;
}

json to_json(const ExplainResult& v) {
  json j{{"vip", v.vip},
         {"backend", v.backend},
         {"source", std::string(to_string(v.source))},
         {"action", v.action},
         {"reason", v.reason}};
  if (v.flow_hash) j["flow_hash"] = *v.flow_hash;
  if (v.maglev_slot) j["maglev_slot"] = *v.maglev_slot;
  if (v.lcore) j["lcore"] = *v.lcore;
  return j;
}

Result<PushStateReply> push_state_reply_from_json(const json& j) {
  return read_reply<PushStateReply>(
      j, [](Reader& r, PushStateReply& v) { r.integer("generation", v.generation, true); });
}

Result<DataplaneStatus> status_from_json(const json& j) {
  return read_reply<DataplaneStatus>(j, [](Reader& r, DataplaneStatus& v) {
    r.integer("protocol_version", v.protocol_version);
    r.text("version", v.version);
    r.integer("generation", v.generation, true);
    r.integer("uptime_ms", v.uptime_ms);
    r.integer("vips", v.vips);
    r.integer("flow_table_entries", v.flow_table_entries);
    r.list("lcores", v.lcores, [](Reader& e, LcoreStatus& l) {
      e.integer("lcore", l.lcore);
      e.text("role", l.role);
      e.text("idle", l.idle);
    });
    r.list("ports", v.ports, read_port_status);
  });
}

Result<Counters> counters_from_json(const json& j) {
  return read_reply<Counters>(j, [](Reader& r, Counters& v) {
    r.integer("generation", v.generation);
    r.list("per_lcore", v.per_lcore, read_lcore_counters);
    r.list("per_vip", v.per_vip, read_vip_counters);
    r.count_map("drops", v.drops);
    r.count_map("events", v.events);
  });
}

Result<ExplainFlow> explain_flow_from_json(const json& j) {
  if (j.is_object()) {
    if (auto keys = only_keys(j, "flow", {"src", "dst", "src_port", "dst_port", "protocol", "syn"});
        !keys) {
      return keys.error();
    }
  }
  Reader r(j, "flow");
  ExplainFlow flow;
  r.address("src", flow.src);
  r.address("dst", flow.dst);
  r.integer("src_port", flow.src_port, true);
  r.integer("dst_port", flow.dst_port, true);
  std::string protocol;
  r.text("protocol", protocol, true);
  r.boolean("syn", flow.syn);
  if (!r.ok()) return r.error();
  const auto parsed = config::parse_protocol(protocol);
  if (!parsed) return Error{"flow.protocol: expected tcp or udp, got \"" + protocol + "\""};
  flow.protocol = *parsed;
  if (flow.syn && flow.protocol != config::Protocol::tcp) {
    return Error{"flow.syn: only a TCP flow has SYNs"};
  }
  if (flow.src.family != flow.dst.family) {
    return Error{"flow.dst: " + flow.dst.to_string() + " is not the same IP version as flow.src (" +
                 flow.src.to_string() + ")"};
  }
  return flow;
}

Result<ExplainResult> explain_result_from_json(const json& j) {
  return read_reply<ExplainResult>(j, [](Reader& r, ExplainResult& v) {
    r.text("vip", v.vip);
    r.text("backend", v.backend);
    std::string source;
    r.text("source", source);
    if (source == "flow_table") {
      v.source = ExplainSource::flow_table;
    } else if (source == "scheduler") {
      v.source = ExplainSource::scheduler;
    } else if (source == "none" || source.empty()) {
      v.source = ExplainSource::none;
    } else {
      r.fail("source", "expected flow_table, scheduler or none, got \"" + source + "\"");
    }
    r.text("action", v.action);
    r.text("reason", v.reason);
    r.optional_integer("flow_hash", v.flow_hash);
    r.optional_integer("maglev_slot", v.maglev_slot);
    r.optional_integer("lcore", v.lcore);
  });
}

}  // namespace sluice::control

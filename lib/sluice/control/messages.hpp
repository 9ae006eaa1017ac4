// Messages of the dataplane control protocol (docs/config.md, "Control protocol"), spoken
// over frame.hpp frames on the dataplane's Unix control socket by sluice-controlplane,
// sluice-pcap's tests and tools.
//
// Every request is {"op": NAME, ...}; every reply is {"ok": true, ...} or
// {"ok": false, "error": "field.path: what is wrong"}. Requests are strict (unknown keys
// refused); replies are read leniently (unknown keys ignored) so a newer dataplane can add
// fields without breaking an older control plane.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "sluice/config/model.hpp"
#include "sluice/flow_key.hpp"
#include "sluice/ip_address.hpp"
#include "sluice/result.hpp"

namespace sluice::control {

inline constexpr std::uint32_t kProtocolVersion = 1;

// Operation names ("op").
namespace op {
inline constexpr std::string_view kPushState = "push_state";
inline constexpr std::string_view kGetStatus = "get_status";
inline constexpr std::string_view kGetCounters = "get_counters";
inline constexpr std::string_view kExplain = "explain";
}  // namespace op

// ---- Requests -------------------------------------------------------------------------------

// {"op":"push_state","state":{...State, with "generation"...}}
// Reply: {"ok":true,"generation":N}. The dataplane refuses a state that fails validation
// and keeps running the old one.
struct PushStateRequest {
  config::State state;
};
// {"op":"get_status"}  Reply: {"ok":true, ...DataplaneStatus}
struct GetStatusRequest {};
// {"op":"get_counters"}  Reply: {"ok":true, ...Counters}
struct GetCountersRequest {};

// The 5-tuple to explain; {"src","dst","src_port","dst_port","protocol":"tcp"|"udp"} and
// optionally "syn": true to ask about a TCP SYN (a new connection) instead of a packet of an
// existing one.
struct ExplainFlow {
  IpAddress src;
  IpAddress dst;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  config::Protocol protocol = config::Protocol::tcp;
  bool syn = false;

  // The parser's view of the same flow (for flow-hash and flow-table lookups).
  [[nodiscard]] FlowKey to_flow_key() const;
  friend bool operator==(const ExplainFlow&, const ExplainFlow&) = default;
};
// {"op":"explain","flow":{...}}  Reply: {"ok":true, ...ExplainResult}
struct ExplainRequest {
  ExplainFlow flow;
};

using Request =
    std::variant<PushStateRequest, GetStatusRequest, GetCountersRequest, ExplainRequest>;

// Server side. Decodes and checks a request; a push_state's state is fully validated
// (config::validate), so the error is ready to send back: error_reply(result.error().message).
[[nodiscard]] Result<Request> parse_request(const nlohmann::json& j);
// Client side.
[[nodiscard]] nlohmann::json to_json(const Request& request);
[[nodiscard]] std::string_view op_name(const Request& request);

// ---- Replies --------------------------------------------------------------------------------

// {"ok":true} merged with `fields` (an object).
[[nodiscard]] nlohmann::json ok_reply(nlohmann::json fields = nlohmann::json::object());
// {"ok":false,"error":message}
[[nodiscard]] nlohmann::json error_reply(std::string_view message);
// The reply itself when ok is true; Error(its "error") when false; Error when malformed.
[[nodiscard]] Result<nlohmann::json> check_reply(const nlohmann::json& reply);

struct PushStateReply {
  std::uint64_t generation = 0;  // the generation now running

  friend bool operator==(const PushStateReply&, const PushStateReply&) = default;
};

struct LcoreStatus {
  std::uint32_t lcore = 0;
  std::string role;  // "main" (control thread) | "worker"
  // Workers: sluice-dataplane --idle, "poll" | "pause" | "sleep"; empty for the main lcore and
  // from dataplanes older than the option (which always poll).
  std::string idle;

  friend bool operator==(const LcoreStatus&, const LcoreStatus&) = default;
};

struct PortStatus {
  std::uint16_t port_id = 0;
  std::string name;    // DPDK device name, e.g. "net_pcap0" or "0000:3b:00.0"
  std::string driver;  // e.g. "net_pcap", "net_ice"
  std::string mac;     // "02:00:00:00:00:01"
  std::uint16_t rx_queues = 0;
  std::uint16_t tx_queues = 0;
  bool link_up = false;
  std::uint32_t link_speed_mbps = 0;
  // rte_eth_stats
  std::uint64_t rx_packets = 0;
  std::uint64_t tx_packets = 0;
  std::uint64_t rx_bytes = 0;
  std::uint64_t tx_bytes = 0;
  std::uint64_t rx_missed = 0;  // imissed: the NIC dropped because we did not poll in time
  std::uint64_t rx_errors = 0;
  std::uint64_t tx_errors = 0;

  friend bool operator==(const PortStatus&, const PortStatus&) = default;
};

struct DataplaneStatus {
  std::uint32_t protocol_version = kProtocolVersion;
  std::string version;           // sluice version string
  std::uint64_t generation = 0;  // 0: no state pushed or loaded yet
  std::uint64_t uptime_ms = 0;
  std::uint32_t vips = 0;                // VIPs in the running state
  std::uint32_t flow_table_entries = 0;  // capacity per worker lcore
  std::vector<LcoreStatus> lcores;
  std::vector<PortStatus> ports;

  friend bool operator==(const DataplaneStatus&, const DataplaneStatus&) = default;
};

// ---- Counters (summed over lcores on read; they only go up) -------------------------------

// Per lcore: every packet the pipeline received is counted once in rx_packets and once, at its
// fate, in forward, reply, pass or drop (rx = forward + reply + pass + drop, apart from the few
// packets in flight when read); drop is the sum of the drop reasons.
struct LcoreCounters {
  std::uint32_t lcore = 0;
  std::uint64_t rx_packets = 0;
  std::uint64_t tx_packets = 0;       // handed to a NIC, host relays included
  std::uint64_t forward = 0;          // encapsulated and sent to a backend
  std::uint64_t reply = 0;            // answered to the client (echo reply, frag-needed / too big)
  std::uint64_t pass = 0;             // handed to the host kernel
  std::uint64_t drop = 0;             // freed under one drop reason
  std::uint64_t host_rx_packets = 0;  // from the host kernel, relayed to the uplink
  std::uint64_t host_relayed = 0;
  std::uint64_t host_relay_refused = 0;
  std::uint64_t rx_polls = 0;    // rx_burst calls
  std::uint64_t idle_polls = 0;  // ... that returned no packet
  std::uint64_t busy_polls = 0;  // ... that returned at least one; load = busy / rx_polls
  // The longest time between two iterations of the worker's loop since it started (ns): how
  // long it was away from its queues at worst (a long burst, a state swap, preemption).
  std::uint64_t max_loop_gap_ns = 0;
  // --idle sleep (0 in the other modes): how often and how long the worker slept, so its load
  // is also 1 - slept_ns / elapsed time. rx_polls keep advancing while it sleeps (at least
  // every 0.5 ms plus the kernel's wake-up latency).
  std::uint64_t sleeps = 0;
  std::uint64_t slept_ns = 0;

  friend bool operator==(const LcoreCounters&, const LcoreCounters&) = default;
};

// Every lcore's counters added up (`lcore` 0): the dataplane's totals.
[[nodiscard]] LcoreCounters total_of(const std::vector<LcoreCounters>& lcores);

inline constexpr std::size_t kHandshakeBucketCount = 16;

struct BackendCounters {
  std::string address;                                    // "198.18.1.1"
  config::BackendState state = config::BackendState::up;  // in the dataplane's running state
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;  // bytes received from clients (before encapsulation)
  std::uint64_t new_flows = 0;
  std::uint64_t rescheduled_flows = 0;  // flows moved to it from a backend gone or down
  std::uint64_t active_flows = 0;       // a gauge: flow-table entries now pinned to it
  // Passive signals (docs/dataplane.md): counters, summed over the dataplane's lcores.
  std::uint64_t syns = 0;             // pure SYNs forwarded to it
  std::uint64_t syn_retransmits = 0;  // ... on an open entry (the client still waits)
  std::uint64_t handshakes = 0;       // entries open -> established by the client's first ACK
  std::uint64_t unanswered = 0;       // open TCP entries expired or evicted without an ACK
  std::uint64_t syn_rescued = 0;      // retransmitted SYNs moved away from it (syn_rescue)
  // Handshake time: [i] counts [2^(i-1), 2^i) ms, [0] < 1 ms, [15] >= 16384 ms.
  std::array<std::uint64_t, kHandshakeBucketCount> handshake_ms_buckets{};

  friend bool operator==(const BackendCounters&, const BackendCounters&) = default;
};

// packets, bytes, new_flows and active_flows are the sums over per_backend; dropped and
// replied count what reached the VIP but none of its backends.
struct VipCounters {
  std::string vip;  // config::vip_key(): "198.18.0.10:80/tcp"
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t new_flows = 0;
  std::uint64_t active_flows = 0;
  std::uint64_t dropped = 0;
  std::uint64_t replied = 0;
  std::uint64_t second_hop_flows = 0;  // second chance (docs/second-chance.md)
  std::uint64_t second_hop_packets = 0;
  std::vector<BackendCounters> per_backend;

  friend bool operator==(const VipCounters&, const VipCounters&) = default;
};

struct Counters {
  std::uint64_t generation = 0;  // of the state the per-VIP counters belong to
  std::vector<LcoreCounters> per_lcore;
  std::vector<VipCounters> per_vip;
  std::map<std::string, std::uint64_t> drops;   // drop_reason.hpp name -> count (all reasons)
  std::map<std::string, std::uint64_t> events;  // behaviour counters (docs/dataplane.md)

  friend bool operator==(const Counters&, const Counters&) = default;
};

// ---- Explain ------------------------------------------------------------------------------

enum class ExplainSource : std::uint8_t {
  none,        // no VIP matched, or no backend could be chosen
  flow_table,  // an existing flow-table entry pinned the backend
  scheduler,   // the VIP's scheduler would choose this backend (a new flow, a new connection
               // on a reused 5-tuple, or a flow whose backend is gone or down)
};
[[nodiscard]] std::string_view to_string(ExplainSource s);

struct ExplainResult {
  std::string vip;      // matched VIP key, "" when none
  std::string backend;  // chosen backend address, "" when none
  ExplainSource source = ExplainSource::none;
  std::string action;  // what the worker does: hit | reschedule | new_connection | new_flow |
                       // no_backend | pass (no VIP)
  std::string reason;  // one human sentence: why this backend (or why none)
  std::optional<std::uint32_t> flow_hash;    // the 5-tuple hash used for Maglev and GUE
  std::optional<std::uint32_t> maglev_slot;  // flow_hash % table size, maglev only
  std::optional<std::uint32_t> lcore;        // the lcore whose flow table holds the entry

  friend bool operator==(const ExplainResult&, const ExplainResult&) = default;
};

// to_json gives the reply body without "ok" (wrap with ok_reply). from_json reads a reply
// (an "ok" key and unknown keys are ignored; wrong types of known keys are errors).
[[nodiscard]] nlohmann::json to_json(const PushStateReply& v);
[[nodiscard]] nlohmann::json to_json(const DataplaneStatus& v);
[[nodiscard]] nlohmann::json to_json(const Counters& v);
[[nodiscard]] nlohmann::json to_json(const ExplainFlow& v);
[[nodiscard]] nlohmann::json to_json(const ExplainResult& v);
[[nodiscard]] Result<PushStateReply> push_state_reply_from_json(const nlohmann::json& j);
[[nodiscard]] Result<DataplaneStatus> status_from_json(const nlohmann::json& j);
[[nodiscard]] Result<Counters> counters_from_json(const nlohmann::json& j);
[[nodiscard]] Result<ExplainFlow> explain_flow_from_json(const nlohmann::json& j);  // strict
[[nodiscard]] Result<ExplainResult> explain_result_from_json(const nlohmann::json& j);

}  // namespace sluice::control

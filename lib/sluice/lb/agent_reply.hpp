// The reply of an HAProxy-compatible agent check (docs/agent-check.md): one line of words that
// a backend's agent writes on a TCP connection, telling the load balancer its share ("75%",
// "weight:3"), its administrative state ("ready", "drain", "maint") or its operational state
// ("up", "down", "fail", "stopped"), with an optional "# comment". Pure: no I/O, no clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/result.hpp"

namespace sluice::lb {

// The longest reply read from an agent, newline included; a longer line is cut here.
inline constexpr std::size_t kMaxAgentReplyBytes = 512;
// "weight:N" accepts 0..this (the configured weight's own limit, config::kMaxWeight).
inline constexpr std::uint32_t kMaxAgentWeight = 65535;
// "N%" above 100 is read as 100: the agent can lower a backend's weight, never raise it above
// the configured one (HAProxy accepts up to 256%).
inline constexpr std::uint32_t kMaxAgentPercent = 100;

enum class AgentAdmin : std::uint8_t { none, ready, drain, maint };
enum class AgentOp : std::uint8_t { none, up, down, fail, stopped };

struct AgentReply {
  std::optional<std::uint32_t> percent;  // "75%": of the configured weight, 0..100
  std::optional<std::uint32_t> weight;   // "weight:3": an absolute weight, 0..kMaxAgentWeight
  AgentAdmin admin = AgentAdmin::none;
  AgentOp op = AgentOp::none;
  std::string comment;  // after '#', trimmed, through printable(); "" without one

  friend bool operator==(const AgentReply&, const AgentReply&) = default;
};

[[nodiscard]] std::string_view to_string(AgentAdmin admin);  // "none", "ready", "drain", "maint"
[[nodiscard]] std::string_view to_string(AgentOp op);        // "none", "up", "down", ...

// Parses one agent line. The line ends at the first '\n' (a '\r' before it is dropped; bytes
// after it are ignored); words are separated by spaces, tabs or commas and matched without
// regard to case; '#' starts the comment, which runs to the end of the line. When a word of the
// same kind comes twice ("50% 75%", "drain ready"), the last one counts, as in HAProxy.
// "maxconn:N" is accepted and ignored (Sluice has no per-backend connection limit).
// Errors: an empty line, a line with only a comment, an unknown word (named in the message), a
// percent or weight that is not a number in range.
[[nodiscard]] Result<AgentReply> parse_agent_reply(std::string_view line);

// `bytes` safe for a log line or a JSON string: printable ASCII is kept; any other byte, the
// double quote and the backslash become \xNN.
[[nodiscard]] std::string printable(std::string_view bytes);

// Short text for logs and status: the words that are set, in the order op, admin, percent,
// weight ("50%", "drain", "down", "weight:3", "up 75%"); without the comment.
[[nodiscard]] std::string describe(const AgentReply& reply);

}  // namespace sluice::lb

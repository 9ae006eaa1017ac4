// What an agent's reply means for a backend's weight (docs/agent-check.md), apart from how it
// was read: the weight controller turns this into its AgentSignal. Pure.
//   - op down, fail or stopped: the backend takes no new flows (down), whatever else it says;
//   - else admin drain or maint: it keeps its flows and takes no new ones (drain);
//   - else the percent and/or absolute weight it asks for ("ready" and "up" alone mean the
//     configured weight).
// The percent and weight are passed on for every word, so that a drained backend's share is
// known when it comes back; the word decides while it is not none.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "sluice/lb/agent_reply.hpp"

namespace sluice::cp {

struct AgentMeaning {
  enum class Word : std::uint8_t { none, drain, down };

  std::optional<std::uint32_t> percent;  // of the configured weight, 0..100
  std::optional<std::uint32_t> weight;   // absolute, at most the configured (the controller caps)
  Word word = Word::none;
  std::string text;  // lb::describe(): "50%", "drain", "down # disk full" for status

  friend bool operator==(const AgentMeaning&, const AgentMeaning&) = default;
};

[[nodiscard]] inline AgentMeaning meaning_of(const lb::AgentReply& reply) {
  AgentMeaning m;
  m.percent = reply.percent;
  m.weight = reply.weight;
  if (reply.op == lb::AgentOp::down || reply.op == lb::AgentOp::fail ||
      reply.op == lb::AgentOp::stopped) {
    m.word = AgentMeaning::Word::down;
  } else if (reply.admin == lb::AgentAdmin::drain || reply.admin == lb::AgentAdmin::maint) {
    m.word = AgentMeaning::Word::drain;
  }
  m.text = lb::describe(reply);
  if (!reply.comment.empty()) m.text += (m.text.empty() ? "# " : " # ") + reply.comment;
  return m;
}

}  // namespace sluice::cp

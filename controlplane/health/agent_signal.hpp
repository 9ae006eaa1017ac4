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

#include "health/agent_check.hpp"
#include "sluice/lb/agent_reply.hpp"
#include "state/weight_report.hpp"

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

// The weight controller's view of every agent: backends with a good reply (kept across failed
// checks); a backend whose agent never answered has none and keeps its configured weight.
[[nodiscard]] inline AgentSignals agent_signals(const AgentStatusMap& agents) {
  AgentSignals out;
  for (const auto& [ref, status] : agents) {
    if (!status.reply) continue;
    const AgentMeaning m = meaning_of(*status.reply);
    AgentSignal& s = out[ref];
    s.percent = m.percent;
    s.weight = m.weight;
    s.word = m.word == AgentMeaning::Word::down    ? lb::AgentWord::down
             : m.word == AgentMeaning::Word::drain ? lb::AgentWord::drain
                                                   : lb::AgentWord::none;
    s.text = status.error.empty() ? m.text : m.text + " (last check: " + status.error + ")";
  }
  return out;
}

}  // namespace sluice::cp

#include "sluice/lb/agent_reply.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <initializer_list>
#include <system_error>

namespace sluice::lb {
namespace {

constexpr std::size_t kMaxQuotedWord = 40;

bool is_separator(char c) {
  return c == ' ' || c == '\t' || c == ',';
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equals_nocase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != b[i]) return false;
  }
  return true;
}

bool starts_with_nocase(std::string_view word, std::string_view prefix) {
  return word.size() >= prefix.size() && equals_nocase(word.substr(0, prefix.size()), prefix);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// The word as it can go into a log line: quoted, escaped, cut after kMaxQuotedWord bytes.
std::string quoted(std::string_view word) {
  std::string out(1, '"');
  out += printable(word.substr(0, kMaxQuotedWord));
  out += word.size() > kMaxQuotedWord ? "\"..." : "\"";
  return out;
}

// Decimal digits only (no sign, no spaces), at most `max`.
std::optional<std::uint32_t> number(std::string_view digits, std::uint32_t max) {
  if (digits.empty()) return std::nullopt;
  for (const char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size() || value > max) {
    return std::nullopt;
  }
  return static_cast<std::uint32_t>(value);
}

// "agent reply: " and the pieces, appended one by one: GCC 12 reports a false -Wrestrict on
// chained operator+ of std::string.
Error error(std::initializer_list<std::string_view> pieces) {
  std::string message = "agent reply: ";
  for (const std::string_view piece : pieces)
    message += piece;
  return Error{std::move(message)};
}

// One word into `reply`; an error for a word that is not part of the protocol.
std::optional<Error> apply(std::string_view word, AgentReply& reply) {
  if (word.back() == '%') {
    const std::string_view digits = word.substr(0, word.size() - 1);
    if (digits.empty() || digits.find_first_not_of("0123456789") != digits.npos) {
      return error({"bad percent ", quoted(word), ": expected digits before '%'"});
    }
    // Above 100 (however many digits) is read as 100: never above the configured weight.
    const std::optional<std::uint32_t> value = number(digits, UINT32_MAX);
    reply.percent = value ? std::min(*value, kMaxAgentPercent) : kMaxAgentPercent;
    return std::nullopt;
  }
  if (starts_with_nocase(word, "weight:")) {
    const std::optional<std::uint32_t> value = number(word.substr(7), kMaxAgentWeight);
    if (!value) {
      return error({"bad weight ", quoted(word), ": expected weight:N with N in 0..",
                    std::to_string(kMaxAgentWeight)});
    }
    reply.weight = *value;
    return std::nullopt;
  }
  if (starts_with_nocase(word, "maxconn:")) {
    if (!number(word.substr(8), UINT32_MAX)) {
      return error({"bad maxconn ", quoted(word), ": expected maxconn:N"});
    }
    return std::nullopt;  // accepted for HAProxy agents, no meaning in Sluice
  }
  struct Named {
    std::string_view name;
    AgentAdmin admin;
    AgentOp op;
  };
  static constexpr std::array<Named, 7> kWords = {{
      {"ready", AgentAdmin::ready, AgentOp::none},
      {"drain", AgentAdmin::drain, AgentOp::none},
      {"maint", AgentAdmin::maint, AgentOp::none},
      {"up", AgentAdmin::none, AgentOp::up},
      {"down", AgentAdmin::none, AgentOp::down},
      {"fail", AgentAdmin::none, AgentOp::fail},
      {"stopped", AgentAdmin::none, AgentOp::stopped},
  }};
  for (const Named& named : kWords) {
    if (!equals_nocase(word, named.name)) continue;
    if (named.admin != AgentAdmin::none) reply.admin = named.admin;
    if (named.op != AgentOp::none) reply.op = named.op;
    return std::nullopt;
  }
  return error({"unknown word ", quoted(word),
                " (expected N%, weight:N, ready, drain, maint, up, down, fail, stopped, "
                "maxconn:N or # comment)"});
}

}  // namespace

std::string printable(std::string_view bytes) {
  static constexpr std::array<char, 16> kHex = {'0', '1', '2', '3', '4', '5', '6', '7',
                                                '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
  std::string out;
  out.reserve(bytes.size());
  for (const char byte : bytes) {
    const auto c = static_cast<unsigned char>(byte);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

std::string_view to_string(AgentAdmin admin) {
  switch (admin) {
    case AgentAdmin::none:
      return "none";
    case AgentAdmin::ready:
      return "ready";
    case AgentAdmin::drain:
      return "drain";
    case AgentAdmin::maint:
      return "maint";
  }
  return "?";
}

std::string_view to_string(AgentOp op) {
  switch (op) {
    case AgentOp::none:
      return "none";
    case AgentOp::up:
      return "up";
    case AgentOp::down:
      return "down";
    case AgentOp::fail:
      return "fail";
    case AgentOp::stopped:
      return "stopped";
  }
  return "?";
}

Result<AgentReply> parse_agent_reply(std::string_view line) {
  if (const std::size_t newline = line.find('\n'); newline != line.npos) {
    line = line.substr(0, newline);
  }
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

  AgentReply reply;
  bool any_word = false;
  bool had_comment = false;
  if (const std::size_t hash = line.find('#'); hash != line.npos) {
    had_comment = true;
    reply.comment = printable(trim(line.substr(hash + 1)));
    line = line.substr(0, hash);
  }
  std::size_t at = 0;
  while (at < line.size()) {
    if (is_separator(line[at])) {
      ++at;
      continue;
    }
    std::size_t end = at;
    while (end < line.size() && !is_separator(line[end]))
      ++end;
    if (std::optional<Error> bad = apply(line.substr(at, end - at), reply)) return *bad;
    any_word = true;
    at = end;
  }
  if (!any_word) return error({had_comment ? "no word before the comment" : "empty line"});
  return reply;
}

std::string describe(const AgentReply& reply) {
  std::string out;
  const auto add = [&out](std::string_view word) {
    if (!out.empty()) out += ' ';
    out += word;
  };
  if (reply.op != AgentOp::none) add(to_string(reply.op));
  if (reply.admin != AgentAdmin::none) add(to_string(reply.admin));
  if (reply.percent) add(std::to_string(*reply.percent) + "%");
  if (reply.weight) add("weight:" + std::to_string(*reply.weight));
  return out;
}

}  // namespace sluice::lb

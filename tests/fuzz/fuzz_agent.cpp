// libFuzzer target for the agent-check reply parser (lib/sluice/lb/agent_reply.hpp). Besides
// sanitizers, it checks that
//   - only the first line counts: the input and its first line parse the same;
//   - an accepted reply is in range (percent 0..100, weight 0..kMaxAgentWeight), its comment
//     is printable ASCII, and describe() of it parses back to it (comment aside);
//   - words are matched without regard to case: the input in capitals parses the same;
//   - an error starts with "agent reply: " and is printable ASCII, whatever the input.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "sluice/lb/agent_reply.hpp"

namespace sluice::lb {
namespace {

bool printable_ascii(std::string_view s) {
  for (const char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

AgentReply without_comment(AgentReply r) {
  r.comment.clear();
  return r;
}

void check(std::string_view input) {
  const Result<AgentReply> parsed = parse_agent_reply(input);
  const Result<AgentReply> first_line = parse_agent_reply(input.substr(0, input.find('\n')));
  FUZZ_CHECK(parsed.ok() == first_line.ok());

  std::string upper(input);
  for (char& c : upper) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  const Result<AgentReply> capitals = parse_agent_reply(upper);
  FUZZ_CHECK(capitals.ok() == parsed.ok());

  if (!parsed.ok()) {
    FUZZ_CHECK_EQ_TEXT(parsed.error().message, first_line.error().message);
    FUZZ_CHECK(parsed.error().message.rfind("agent reply: ", 0) == 0);
    FUZZ_CHECK(printable_ascii(parsed.error().message));
    return;
  }
  const AgentReply& reply = *parsed;
  FUZZ_CHECK(reply == *first_line);
  FUZZ_CHECK(without_comment(*capitals) == without_comment(reply));
  FUZZ_CHECK(!reply.percent || *reply.percent <= kMaxAgentPercent);
  FUZZ_CHECK(!reply.weight || *reply.weight <= kMaxAgentWeight);
  FUZZ_CHECK(printable_ascii(reply.comment));

  const std::string text = describe(reply);
  FUZZ_CHECK(printable_ascii(text));
  if (text.empty()) {
    FUZZ_CHECK(without_comment(reply) == AgentReply{});  // "maxconn:N" alone
    return;
  }
  const Result<AgentReply> again = parse_agent_reply(text);
  if (!again.ok()) FUZZ_CHECK_EQ_TEXT("", again.error().message);
  FUZZ_CHECK(*again == without_comment(reply));
}

}  // namespace
}  // namespace sluice::lb

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sluice::lb::check(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}

// The agent-check reply parser (lib/sluice/lb/agent_reply.hpp): exact values for every word of
// the HAProxy protocol, separators and line ends, the last-wins rule, clamping, and the exact
// error messages.
#include "sluice/lb/agent_reply.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "sluice/config/validate.hpp"

namespace sluice::lb {
namespace {

static_assert(kMaxAgentWeight == config::kMaxWeight, "weight:N has the configured weight's limit");

AgentReply parsed(std::string_view line) {
  Result<AgentReply> r = parse_agent_reply(line);
  EXPECT_TRUE(r.ok()) << "\"" << line << "\": " << r.error().message;
  return r.ok() ? *r : AgentReply{};
}

std::string error_of(std::string_view line) {
  Result<AgentReply> r = parse_agent_reply(line);
  EXPECT_FALSE(r.ok()) << "\"" << line << "\" parsed as " << describe(*r);
  return r.ok() ? "" : r.error().message;
}

TEST(AgentReply, Percent) {
  const AgentReply r = parsed("50%\n");
  EXPECT_EQ(r.percent, 50u);
  EXPECT_EQ(r.weight, std::nullopt);
  EXPECT_EQ(r.admin, AgentAdmin::none);
  EXPECT_EQ(r.op, AgentOp::none);
  EXPECT_EQ(r.comment, "");
  EXPECT_EQ(describe(r), "50%");
  EXPECT_EQ(parsed("0%").percent, 0u);
  EXPECT_EQ(parsed("100%").percent, 100u);
  EXPECT_EQ(parsed("007%").percent, 7u);
}

TEST(AgentReply, PercentAboveHundredIsClampedToHundred) {
  EXPECT_EQ(parsed("101%").percent, 100u);
  EXPECT_EQ(parsed("256%").percent, 100u);
  EXPECT_EQ(parsed("4294967296%").percent, 100u);
  EXPECT_EQ(parsed("99999999999999999999999999%").percent, 100u);
}

TEST(AgentReply, Weight) {
  const AgentReply r = parsed("weight:3\r\n");
  EXPECT_EQ(r.weight, 3u);
  EXPECT_EQ(r.percent, std::nullopt);
  EXPECT_EQ(describe(r), "weight:3");
  EXPECT_EQ(parsed("weight:0").weight, 0u);
  EXPECT_EQ(parsed("WEIGHT:65535").weight, 65535u);
}

TEST(AgentReply, AdminWords) {
  EXPECT_EQ(parsed("ready").admin, AgentAdmin::ready);
  EXPECT_EQ(parsed("drain").admin, AgentAdmin::drain);
  EXPECT_EQ(parsed("maint").admin, AgentAdmin::maint);
  EXPECT_EQ(parsed("drain").op, AgentOp::none);
  EXPECT_EQ(describe(parsed("drain\n")), "drain");
  EXPECT_EQ(describe(parsed("maint")), "maint");
}

TEST(AgentReply, OpWords) {
  EXPECT_EQ(parsed("up").op, AgentOp::up);
  EXPECT_EQ(parsed("down").op, AgentOp::down);
  EXPECT_EQ(parsed("fail").op, AgentOp::fail);
  EXPECT_EQ(parsed("stopped").op, AgentOp::stopped);
  EXPECT_EQ(parsed("up").admin, AgentAdmin::none);
  EXPECT_EQ(describe(parsed("down")), "down");
  EXPECT_EQ(describe(parsed("stopped")), "stopped");
}

TEST(AgentReply, WordsAreMatchedWithoutCase) {
  EXPECT_EQ(parsed("DRAIN").admin, AgentAdmin::drain);
  EXPECT_EQ(parsed("Up").op, AgentOp::up);
  EXPECT_EQ(parsed("StOpPeD").op, AgentOp::stopped);
}

TEST(AgentReply, SeveralWordsWithEverySeparator) {
  const AgentReply r = parsed("up,ready 75%\tweight:2\n");
  EXPECT_EQ(r.op, AgentOp::up);
  EXPECT_EQ(r.admin, AgentAdmin::ready);
  EXPECT_EQ(r.percent, 75u);
  EXPECT_EQ(r.weight, 2u);
  EXPECT_EQ(describe(r), "up ready 75% weight:2");
  EXPECT_EQ(parsed("  ,, up \t,").op, AgentOp::up);
}

TEST(AgentReply, TheLastWordOfAKindCounts) {
  EXPECT_EQ(parsed("50% 75%").percent, 75u);
  EXPECT_EQ(parsed("drain ready").admin, AgentAdmin::ready);
  EXPECT_EQ(parsed("down up").op, AgentOp::up);
  EXPECT_EQ(parsed("weight:1 weight:4").weight, 4u);
  // Different kinds do not replace each other.
  const AgentReply r = parsed("drain up");
  EXPECT_EQ(r.admin, AgentAdmin::drain);
  EXPECT_EQ(r.op, AgentOp::up);
}

TEST(AgentReply, CommentRunsToTheEndOfTheLineAndIsTrimmed) {
  const AgentReply r = parsed("down # disk full, 90% used \r\n");
  EXPECT_EQ(r.op, AgentOp::down);
  EXPECT_EQ(r.percent, std::nullopt);  // "90%" is in the comment
  EXPECT_EQ(r.comment, "disk full, 90% used");
  EXPECT_EQ(describe(r), "down");
  EXPECT_EQ(parsed("stopped#maintenance window").comment, "maintenance window");
  EXPECT_EQ(parsed("up #").comment, "");
}

TEST(AgentReply, TheLineEndsAtTheFirstNewline) {
  const AgentReply r = parsed("25%\nbogus words here\n");
  EXPECT_EQ(r.percent, 25u);
  EXPECT_EQ(parsed("drain\r\n50%\n").percent, std::nullopt);
  EXPECT_EQ(parsed("30%").percent, 30u);    // closed without a newline
  EXPECT_EQ(parsed("30%\r").percent, 30u);  // ... after the '\r'
}

TEST(AgentReply, MaxconnIsAcceptedAndIgnored) {
  const AgentReply r = parsed("up maxconn:30 60%");
  EXPECT_EQ(r.op, AgentOp::up);
  EXPECT_EQ(r.percent, 60u);
  EXPECT_EQ(parsed("maxconn:10"), AgentReply{});
  EXPECT_EQ(describe(parsed("maxconn:10")), "");
}

TEST(AgentReply, EmptyLines) {
  EXPECT_EQ(error_of(""), "agent reply: empty line");
  EXPECT_EQ(error_of("\n"), "agent reply: empty line");
  EXPECT_EQ(error_of("\r\n"), "agent reply: empty line");
  EXPECT_EQ(error_of(" \t, \n"), "agent reply: empty line");
  EXPECT_EQ(error_of("\nup\n"), "agent reply: empty line");
  EXPECT_EQ(error_of("# only a comment\n"), "agent reply: no word before the comment");
  EXPECT_EQ(error_of("  #"), "agent reply: no word before the comment");
}

TEST(AgentReply, UnknownWordsAreNamed) {
  const std::string expected_words =
      " (expected N%, weight:N, ready, drain, maint, up, down, fail, stopped, maxconn:N or # "
      "comment)";
  EXPECT_EQ(error_of("up bogus 50%\n"), "agent reply: unknown word \"bogus\"" + expected_words);
  EXPECT_EQ(error_of("50"), "agent reply: unknown word \"50\"" + expected_words);
  EXPECT_EQ(error_of("drained"), "agent reply: unknown word \"drained\"" + expected_words);
  EXPECT_EQ(error_of("weight=3"), "agent reply: unknown word \"weight=3\"" + expected_words);
  // Bytes a log line should not carry are escaped; a long word is cut.
  EXPECT_EQ(error_of(std::string_view("up\x01\"x\0", 6)),
            "agent reply: unknown word \"up\\x01\\x22x\\x00\"" + expected_words);
  EXPECT_EQ(error_of("a\rb"), "agent reply: unknown word \"a\\x0db\"" + expected_words);
  EXPECT_EQ(error_of(std::string(50, 'z')),
            "agent reply: unknown word \"" + std::string(40, 'z') + "\"..." + expected_words);
}

TEST(AgentReply, BadNumbers) {
  EXPECT_EQ(error_of("%"), "agent reply: bad percent \"%\": expected digits before '%'");
  EXPECT_EQ(error_of("-5%"), "agent reply: bad percent \"-5%\": expected digits before '%'");
  EXPECT_EQ(error_of("5.5%"), "agent reply: bad percent \"5.5%\": expected digits before '%'");
  EXPECT_EQ(error_of("weight:"),
            "agent reply: bad weight \"weight:\": expected weight:N with N in 0..65535");
  EXPECT_EQ(error_of("weight:65536"),
            "agent reply: bad weight \"weight:65536\": expected weight:N with N in 0..65535");
  EXPECT_EQ(error_of("weight:+1"),
            "agent reply: bad weight \"weight:+1\": expected weight:N with N in 0..65535");
  EXPECT_EQ(error_of("maxconn:x"), "agent reply: bad maxconn \"maxconn:x\": expected maxconn:N");
}

TEST(AgentReply, CommentKeepsOnlyPrintableAscii) {
  EXPECT_EQ(parsed("down # \"sda\"\x1b[31m \xc3\xa9\\").comment,
            "\\x22sda\\x22\\x1b[31m \\xc3\\xa9\\x5c");
}

TEST(AgentReply, Printable) {
  EXPECT_EQ(printable("50% ok"), "50% ok");
  EXPECT_EQ(printable(std::string_view("a\0b\n\x7f", 5)), "a\\x00b\\x0a\\x7f");
  EXPECT_EQ(printable(""), "");
}

TEST(AgentReply, DescribeOfNothingIsEmpty) {
  EXPECT_EQ(describe(AgentReply{}), "");
}

TEST(AgentReply, EnumNames) {
  EXPECT_EQ(to_string(AgentAdmin::none), "none");
  EXPECT_EQ(to_string(AgentAdmin::maint), "maint");
  EXPECT_EQ(to_string(AgentOp::fail), "fail");
  EXPECT_EQ(to_string(AgentOp::stopped), "stopped");
}

}  // namespace
}  // namespace sluice::lb

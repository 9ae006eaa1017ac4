// meaning_of() (controlplane/health/agent_signal.hpp): what each agent reply means for the
// weights, on parsed replies.
#include "health/agent_signal.hpp"

#include <gtest/gtest.h>

#include <string_view>

namespace sluice::cp {
namespace {

using Word = AgentMeaning::Word;

AgentMeaning of(std::string_view line) {
  Result<lb::AgentReply> reply = lb::parse_agent_reply(line);
  EXPECT_TRUE(reply.ok()) << line << ": " << reply.error().message;
  return reply.ok() ? meaning_of(*reply) : AgentMeaning{};
}

TEST(AgentMeaning, PercentAlone) {
  const AgentMeaning m = of("50%\n");
  EXPECT_EQ(m.percent, 50u);
  EXPECT_EQ(m.weight, std::nullopt);
  EXPECT_EQ(m.word, Word::none);
  EXPECT_EQ(m.text, "50%");
}

TEST(AgentMeaning, WeightAlone) {
  const AgentMeaning m = of("weight:3");
  EXPECT_EQ(m.percent, std::nullopt);
  EXPECT_EQ(m.weight, 3u);
  EXPECT_EQ(m.word, Word::none);
  EXPECT_EQ(m.text, "weight:3");
}

TEST(AgentMeaning, DrainAndMaintDrain) {
  EXPECT_EQ(of("drain").word, Word::drain);
  EXPECT_EQ(of("maint").word, Word::drain);
  const AgentMeaning m = of("drain 40%");
  EXPECT_EQ(m.word, Word::drain);
  EXPECT_EQ(m.percent, 40u);  // passed on: the share once the drain ends
  EXPECT_EQ(m.text, "drain 40%");
}

TEST(AgentMeaning, DownFailStoppedAreDownWhateverElse) {
  EXPECT_EQ(of("down").word, Word::down);
  EXPECT_EQ(of("fail").word, Word::down);
  EXPECT_EQ(of("stopped").word, Word::down);
  EXPECT_EQ(of("down drain").word, Word::down);  // op before admin
  EXPECT_EQ(of("maint stopped 75%").word, Word::down);
  const AgentMeaning m = of("down # disk full");
  EXPECT_EQ(m.word, Word::down);
  EXPECT_EQ(m.text, "down # disk full");
}

TEST(AgentMeaning, UpAndReadyAreNone) {
  EXPECT_EQ(of("up").word, Word::none);
  EXPECT_EQ(of("ready").word, Word::none);
  const AgentMeaning m = of("up ready 80%");
  EXPECT_EQ(m.word, Word::none);
  EXPECT_EQ(m.percent, 80u);
  EXPECT_EQ(m.text, "up ready 80%");
}

TEST(AgentMeaning, CommentWithoutOtherText) {
  const AgentMeaning m = of("maxconn:5 # only maxconn");
  EXPECT_EQ(m.word, Word::none);
  EXPECT_EQ(m.percent, std::nullopt);
  EXPECT_EQ(m.text, "# only maxconn");
}

TEST(AgentMeaning, OfADefaultReplyIsNothing) {
  EXPECT_EQ(meaning_of(lb::AgentReply{}), AgentMeaning{});
}

TEST(AgentSignals, OnlyBackendsWithAReplyWithTheirWordAndTheLastError) {
  const config::VipKey vip{*IpAddress::parse("198.18.0.10"), 80, config::Protocol::tcp};
  const BackendRef be1{vip, *IpAddress::parse("198.18.1.1")};
  const BackendRef be2{vip, *IpAddress::parse("198.18.1.2")};
  const BackendRef be3{vip, *IpAddress::parse("198.18.1.3")};
  AgentStatusMap agents;
  agents[be1].reply = *lb::parse_agent_reply("50%");
  agents[be2].reply = *lb::parse_agent_reply("drain");
  agents[be2].error = "timeout after 300 ms";
  agents[be3].error = "connect: Connection refused";  // never answered
  const AgentSignals s = agent_signals(agents);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s.at(be1).percent, 50u);
  EXPECT_EQ(s.at(be1).word, lb::AgentWord::none);
  EXPECT_EQ(s.at(be1).text, "50%");
  EXPECT_EQ(s.at(be2).word, lb::AgentWord::drain);
  EXPECT_EQ(s.at(be2).text, "drain (last check: timeout after 300 ms)");
  EXPECT_FALSE(s.contains(be3));
}

}  // namespace
}  // namespace sluice::cp

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sluice/control/frame_assembler.hpp"

namespace sluice::control {
namespace {

using ::testing::HasSubstr;

std::string frame(const std::string& payload) {
  return encode_frame_header(static_cast<std::uint32_t>(payload.size())) + payload;
}

// Every payload next() hands out until it has nothing complete.
std::vector<std::string> drain(FrameAssembler& a) {
  std::vector<std::string> out;
  for (;;) {
    auto next = a.next();
    EXPECT_TRUE(next.ok()) << next.error().message;
    if (!next.ok() || !next->has_value()) return out;
    out.push_back(**next);
  }
}

TEST(FrameAssembler, NothingUntilTheLastByteArrives) {
  FrameAssembler a;
  const std::string wire = frame(R"({"op":"get_status"})");
  for (std::size_t i = 0; i + 1 < wire.size(); ++i) {
    a.feed(wire.substr(i, 1));
    EXPECT_TRUE(a.partial()) << i;
    EXPECT_TRUE(drain(a).empty()) << i;
  }
  a.feed(wire.substr(wire.size() - 1));
  EXPECT_FALSE(a.partial());
  EXPECT_EQ(drain(a), std::vector<std::string>{R"({"op":"get_status"})"});
  EXPECT_EQ(a.buffered(), 0u);
}

TEST(FrameAssembler, SeveralFramesInOneReadComeOutInOrder) {
  FrameAssembler a;
  a.feed(frame("{\"i\":1}") + frame("{\"i\":2}") + frame("{\"i\":3}").substr(0, 6));
  EXPECT_TRUE(a.partial()) << "the third frame is incomplete";
  EXPECT_EQ(drain(a), (std::vector<std::string>{"{\"i\":1}", "{\"i\":2}"}));
  a.feed(frame("{\"i\":3}").substr(6));
  EXPECT_EQ(drain(a), std::vector<std::string>{"{\"i\":3}"});
  EXPECT_FALSE(a.partial());
}

TEST(FrameAssembler, CompleteFramesNotTakenYetAreNotPartial) {
  FrameAssembler a;
  a.feed(frame("{}") + frame("[]"));
  EXPECT_FALSE(a.partial());
  EXPECT_EQ(a.buffered(), 12u);
}

TEST(FrameAssembler, AnOversizeLengthIsRefusedFromTheHeaderAlone) {
  FrameAssembler a(1000);
  a.feed(encode_frame_header(1001));
  auto next = a.next();
  ASSERT_FALSE(next.ok());
  EXPECT_THAT(next.error().message, HasSubstr("1001 bytes, above the limit of 1000"));
  EXPECT_FALSE(a.partial()) << "an error is not a frame in progress";
}

TEST(FrameAssembler, AnEmptyFrameIsRefused) {
  FrameAssembler a;
  a.feed(encode_frame_header(0));
  auto next = a.next();
  ASSERT_FALSE(next.ok());
  EXPECT_THAT(next.error().message, HasSubstr("empty frame"));
}

TEST(FrameAssembler, ManyFramesKeepTheBufferBounded) {
  FrameAssembler a;
  const std::string payload(1000, 'x');
  for (int i = 0; i < 10000; ++i) {
    a.feed(frame(payload));
    auto next = a.next();
    ASSERT_TRUE(next.ok() && next->has_value());
    EXPECT_EQ(next->value().size(), payload.size());
  }
  EXPECT_EQ(a.buffered(), 0u);
}

TEST(FrameAssembler, ParsedPayloadMustBeAJsonObject) {
  EXPECT_TRUE(parse_frame_payload(R"({"op":"get_status"})").ok());
  EXPECT_THAT(parse_frame_payload("[1]").error().message, HasSubstr("not a JSON object"));
  EXPECT_THAT(parse_frame_payload("{").error().message, HasSubstr("not valid JSON"));
  EXPECT_THAT(parse_frame_payload(std::string(100, '[')).error().message, HasSubstr("deeper"));
}

}  // namespace
}  // namespace sluice::control

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <thread>

#include "sluice/control/frame.hpp"
#include "socket_pair.hpp"

namespace sluice::control {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;
using nlohmann::json;
using testing::send_all;
using testing::socket_pair;

TEST(Frame, HeaderIsFourBytesBigEndian) {
  EXPECT_EQ(encode_frame_header(0x01020304u), std::string("\x01\x02\x03\x04", 4));
  const unsigned char h[4] = {0xde, 0xad, 0xbe, 0xef};
  EXPECT_EQ(decode_frame_header(h), 0xdeadbeefu);
}

TEST(Frame, WritesExactBytesOnTheWire) {
  auto [a, b] = socket_pair();
  ASSERT_TRUE(write_frame(a.get(), json{{"op", "get_status"}}, 1s).ok());
  char buf[64] = {};
  const ssize_t n = ::recv(b.get(), buf, sizeof buf, 0);
  const std::string body = R"({"op":"get_status"})";
  ASSERT_EQ(n, static_cast<ssize_t>(4 + body.size()));
  EXPECT_EQ(std::string(buf, 4), encode_frame_header(static_cast<std::uint32_t>(body.size())));
  EXPECT_EQ(std::string(buf + 4, body.size()), body);
}

TEST(Frame, RoundTripsSeveralFramesInOrder) {
  auto [a, b] = socket_pair();
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(write_frame(a.get(), json{{"i", i}}, 1s).ok());
  for (int i = 0; i < 3; ++i) {
    auto f = read_frame(b.get(), 1s);
    ASSERT_TRUE(f.ok()) << f.error().message;
    EXPECT_EQ((*f)["i"], i);
  }
}

TEST(Frame, LargeFrameCrossesManyPartialWritesAndReads) {
  auto [a, b] = socket_pair();
  // Far above the socket buffer: the writer must wait for the reader many times.
  const std::string big(8u << 20, 'x');
  std::thread writer([&, fd = a.get()] {
    const auto s = write_frame(fd, json{{"blob", big}}, 10s);
    EXPECT_TRUE(s.ok()) << s.error().message;
  });
  auto f = read_frame(b.get(), 10s);
  writer.join();
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ((*f)["blob"].get_ref<const std::string&>().size(), big.size());
  EXPECT_EQ((*f)["blob"], big);
}

TEST(Frame, ReaderAssemblesAFrameSentOneByteAtATime) {
  auto [a, b] = socket_pair();
  const std::string body = R"({"op":"explain","n":12345})";
  const std::string wire = encode_frame_header(static_cast<std::uint32_t>(body.size())) + body;
  std::thread writer([&, fd = a.get()] {
    for (const char c : wire) {
      ASSERT_TRUE(send_all(fd, std::string_view(&c, 1)));
      std::this_thread::sleep_for(1ms);
    }
  });
  auto f = read_frame(b.get(), 5s);
  writer.join();
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ((*f)["n"], 12345);
}

TEST(Frame, OversizeLengthIsRefusedWithoutReadingTheBody) {
  auto [a, b] = socket_pair();
  ASSERT_TRUE(
      send_all(a.get(), encode_frame_header(static_cast<std::uint32_t>(kMaxFrameBytes + 1))));
  auto f = read_frame(b.get(), 1s);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().message,
            "received a frame of 67108865 bytes, above the limit of 67108864 bytes");
}

TEST(Frame, OversizeFrameIsNotSent) {
  auto [a, b] = socket_pair();
  const std::string payload(kMaxFrameBytes + 1, ' ');
  const auto s = write_frame_bytes(a.get(), payload, 1s);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "frame of 67108865 bytes exceeds the limit of 67108864 bytes");
  // Nothing reached the peer.
  char c = 0;
  EXPECT_EQ(::recv(b.get(), &c, 1, MSG_DONTWAIT), -1);
}

TEST(Frame, ReadTimesOutWhenNothingArrives) {
  auto [a, b] = socket_pair();
  const auto start = std::chrono::steady_clock::now();
  auto f = read_frame(b.get(), 50ms);
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().message, "timed out after 50 ms waiting for a frame");
  EXPECT_GE(waited, 50ms);
  EXPECT_LT(waited, 2s);
}

TEST(Frame, ReadTimesOutInTheMiddleOfAFrame) {
  auto [a, b] = socket_pair();
  ASSERT_TRUE(send_all(a.get(), encode_frame_header(10) + "{\"a\""));
  auto f = read_frame(b.get(), 30ms);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().message, "timed out after 30 ms waiting for the rest of a frame");
}

TEST(Frame, WriteTimesOutWhenThePeerDoesNotRead) {
  auto [a, b] = socket_pair();
  const std::string big(4u << 20, 'y');  // more than the socket buffers hold
  const auto s = write_frame_bytes(a.get(), "\"" + big + "\"", 50ms);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("timed out after 50 ms sending a frame ("));
}

TEST(Frame, CleanCloseBetweenFramesIsEof) {
  auto [a, b] = socket_pair();
  ASSERT_TRUE(write_frame(a.get(), json{{"last", true}}, 1s).ok());
  a.reset();
  auto first = read_frame_or_eof(b.get(), 1s);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(first->has_value());
  auto second = read_frame_or_eof(b.get(), 1s);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_FALSE(second->has_value());
  auto third = read_frame(b.get(), 1s);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().message, "connection closed by peer");
}

TEST(Frame, CloseInsideAFrameIsAnError) {
  auto [a, b] = socket_pair();
  ASSERT_TRUE(send_all(a.get(), encode_frame_header(100) + "{\"a\":"));
  a.reset();
  auto f = read_frame_or_eof(b.get(), 1s);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().message, "connection closed in the middle of a frame");
  auto [c, d] = socket_pair();
  ASSERT_TRUE(send_all(c.get(), std::string("\0\0", 2)));  // half a header
  c.reset();
  f = read_frame_or_eof(d.get(), 1s);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().message, "connection closed in the middle of a frame");
}

TEST(Frame, BadBodiesAreRefused) {
  const auto read_body = [](std::string body) {
    auto [a, b] = socket_pair();
    EXPECT_TRUE(
        send_all(a.get(), encode_frame_header(static_cast<std::uint32_t>(body.size())) + body));
    auto f = read_frame(b.get(), 1s);
    EXPECT_FALSE(f.ok());
    return f.ok() ? std::string() : f.error().message;
  };
  EXPECT_EQ(read_body("{\"op\":"), "frame is not valid JSON");
  EXPECT_EQ(read_body("[1,2,3]"), "frame is not a JSON object");
  EXPECT_EQ(read_body(""), "received an empty frame");
  EXPECT_EQ(read_body(std::string(100, '[') + std::string(100, ']')),
            "frame nests JSON deeper than 64 levels");
  // A key given twice is refused, not "last one wins" (docs/config.md).
  EXPECT_EQ(read_body(R"({"op":"get_status","op":"push_state"})"), "frame: op: key given twice");
  EXPECT_EQ(read_body(R"({"op":"push_state","state":{"generation":1,"generation":2}})"),
            "frame: state.generation: key given twice");
  // Brackets inside strings do not count as nesting.
  auto [a, b] = socket_pair();
  const std::string body = "{\"s\":\"" + std::string(100, '[') + "\\\"\"}";
  ASSERT_TRUE(
      send_all(a.get(), encode_frame_header(static_cast<std::uint32_t>(body.size())) + body));
  auto f = read_frame(b.get(), 1s);
  ASSERT_TRUE(f.ok()) << f.error().message;
}

TEST(Frame, WritingToAClosedPeerFailsWithoutSigpipe) {
  auto [a, b] = socket_pair();
  b.reset();
  const auto s = write_frame(a.get(), json{{"x", 1}}, 1s);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "send: Broken pipe");
}

TEST(Frame, InvalidUtf8IsReplacedNotThrown) {
  auto [a, b] = socket_pair();
  ASSERT_TRUE(write_frame(a.get(), json{{"s", std::string("a\xff")}}, 1s).ok());
  auto f = read_frame(b.get(), 1s);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ((*f)["s"], "a\xef\xbf\xbd");  // U+FFFD
}

}  // namespace
}  // namespace sluice::control

// fast_parse() against parse(): whatever the fast path accepts, the full parser accepts with the
// same key, offsets, length and flags; the plain TCP/UDP frames it exists for are accepted.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "sluice/net/builder.hpp"
#include "sluice/net/fast_parse.hpp"
#include "sluice/net/parse.hpp"

namespace sluice::net {
namespace {

const IpAddress kClient4 = address("198.18.0.1");
const IpAddress kVip4 = address("198.18.0.10");
const IpAddress kClient6 = address("2001:db8::1");
const IpAddress kVip6 = address("2001:db8::10");

// Fails the test when fast_parse() accepts a frame that parse() reads differently.
// Returns whether the fast path took the frame.
bool agrees_with_parse(const ByteBuffer& frame) {
  FastPacket fast;
  if (fast_parse(frame, fast) != FastParse::parsed) return false;
  const ParseResult full = parse(frame);
  EXPECT_TRUE(full.ok()) << "fast path accepted a frame parse() drops as " << name_of(*full.drop);
  if (!full.ok()) return true;
  const ParsedPacket& p = full.packet;
  EXPECT_EQ(p.l3_offset, kFastL3Offset);
  EXPECT_EQ(p.l3_length, fast.l3_length);
  EXPECT_EQ(p.key, fast.key);
  EXPECT_EQ(p.tcp_flags, fast.tcp_flags);
  EXPECT_EQ(p.fragment, FragmentKind::none);
  EXPECT_FALSE(p.has_ipv4_options);
  EXPECT_FALSE(p.has_ipv6_extensions);
  EXPECT_FALSE(p.has_vlan);
  return true;
}

std::vector<ByteBuffer> plain_frames() {
  return {
      build_frame({.ip = Ipv4Spec{.src = kClient4, .dst = kVip4},
                   .l4 = TcpSpec{.src_port = 40001, .dst_port = 80, .flags = kTcpAck},
                   .payload = bytes_of("hello")}),
      build_frame({.ip = Ipv4Spec{.src = kClient4, .dst = kVip4, .dont_fragment = true},
                   .l4 = TcpSpec{.dst_port = 443, .flags = kTcpSyn, .options = ByteBuffer(8)}}),
      build_frame({.ip = Ipv4Spec{.src = kClient4, .dst = kVip4},
                   .l4 = UdpSpec{.src_port = 5353, .dst_port = 53},
                   .payload = bytes_of("query")}),
      build_frame({.ip = Ipv6Spec{.src = kClient6, .dst = kVip6},
                   .l4 = TcpSpec{.dst_port = 80, .flags = kTcpFin | kTcpAck}}),
      build_frame({.ip = Ipv6Spec{.src = kClient6, .dst = kVip6},
                   .l4 = UdpSpec{.dst_port = 4500},
                   .payload = bytes_of("udp over v6")}),
  };
}

// Frames the fast path must hand to the full parser (it cannot name their drop reason or
// does not read their headers).
std::vector<ByteBuffer> full_parse_frames() {
  return {
      build_frame({.ethernet = {.vlan_tci = 7}, .ip = Ipv4Spec{.dst = kVip4}, .l4 = TcpSpec{}}),
      build_frame({.ip = Ipv4Spec{.dst = kVip4, .options = ByteBuffer(4)}, .l4 = TcpSpec{}}),
      build_frame({.ip = Ipv4Spec{.dst = kVip4, .more_fragments = true},
                   .l4 = UdpSpec{},
                   .payload = ByteBuffer(16)}),
      build_frame({.ip = Ipv4Spec{.dst = kVip4}, .l4 = icmp_echo_request(1, 1)}),
      build_frame({.ip = Ipv4Spec{.dst = kVip4}, .l4 = TcpSpec{.data_offset = 4}}),
      build_frame({.ip = Ipv4Spec{.dst = kVip4}, .l4 = UdpSpec{.length = 400}}),
      build_frame({.ip = Ipv4Spec{.dst = kVip4, .total_length = 900}, .l4 = TcpSpec{}}),
      build_frame(
          {.ip = Ipv6Spec{.dst = kVip6, .extensions = {destination_options()}}, .l4 = TcpSpec{}}),
      build_frame({.ip = Ipv6Spec{.dst = kVip6, .payload_length = 900}, .l4 = UdpSpec{}}),
  };
}

TEST(FastParse, TakesPlainTcpAndUdpExactlyAsParseDoes) {
  for (const ByteBuffer& frame : plain_frames()) {
    EXPECT_TRUE(agrees_with_parse(frame)) << "plain frame of " << frame.size() << " bytes";
  }
}

TEST(FastParse, LeavesEverythingElseToTheFullParser) {
  for (const ByteBuffer& frame : full_parse_frames()) {
    FastPacket fast;
    EXPECT_EQ(fast_parse(frame, fast), FastParse::needs_full_parse)
        << "frame of " << frame.size() << " bytes";
  }
}

TEST(FastParse, EthernetPaddingDoesNotChangeTheLength) {
  ByteBuffer frame = build_frame({.ip = Ipv4Spec{.dst = kVip4}, .l4 = TcpSpec{}});
  const std::size_t unpadded = frame.size();
  frame.resize(unpadded + 6);  // a 54-byte frame padded to 60
  FastPacket fast;
  ASSERT_EQ(fast_parse(frame, fast), FastParse::parsed);
  EXPECT_EQ(fast.l3_length, unpadded - kFastL3Offset);
  EXPECT_TRUE(agrees_with_parse(frame));
}

// Mutated and truncated frames: every frame the fast path takes must read the same as parse().
TEST(FastParse, AgreesWithParseOnMutatedFrames) {
  std::mt19937 rng(20261121);
  std::vector<ByteBuffer> seeds = plain_frames();
  for (ByteBuffer& f : full_parse_frames())
    seeds.push_back(std::move(f));
  std::size_t taken = 0;
  constexpr int kRounds = 20000;
  for (int round = 0; round < kRounds; ++round) {
    ByteBuffer frame = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      // Headers live in the first 80 bytes: mutate there.
      const std::size_t at = rng() % std::min<std::size_t>(frame.size(), 80);
      frame[at] = static_cast<std::byte>(rng());
    }
    if (rng() % 4 == 0) frame.resize(rng() % (frame.size() + 1));
    taken += agrees_with_parse(frame) ? 1 : 0;
  }
  // Many mutations hit payload or addresses only: the fast path keeps taking those.
  EXPECT_GT(taken, kRounds / 10u);
}

}  // namespace
}  // namespace sluice::net

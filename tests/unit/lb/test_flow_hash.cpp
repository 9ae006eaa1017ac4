// Flow hashing: CRC32C known answers, hardware/software agreement, the canonical layout, and
// pinned flow hashes (cross-checked once against an independent bit-by-bit CRC32C over the
// canonical bytes written out by hand, so a change of layout or seed cannot pass unnoticed).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

#include "sluice/ip_address.hpp"
#include "sluice/lb/flow_hash.hpp"

namespace sluice::lb {
namespace {

std::span<const std::byte> bytes_of(std::string_view text) {
  return std::as_bytes(std::span(text.data(), text.size()));
}

FlowKey make_key(std::string_view src, std::string_view dst, std::uint16_t src_port,
                 std::uint16_t dst_port, std::uint8_t protocol) {
  const IpAddress s = *IpAddress::parse(src);
  const IpAddress d = *IpAddress::parse(dst);
  FlowKey key;
  key.src_addr = s.bytes;
  key.dst_addr = d.bytes;
  key.src_port = src_port;
  key.dst_port = dst_port;
  key.protocol = protocol;
  key.family = s.family;
  return key;
}

FlowKey v4_key() {
  return make_key("198.18.0.1", "198.19.10.10", 40000, 443, 6);
}
FlowKey v6_key() {
  return make_key("2001:db8::1", "2001:db8:0:1::80", 5353, 53, 17);
}

TEST(Crc32c, StandardCheckValue) {
  EXPECT_EQ(crc32c(bytes_of("123456789"), 0), 0xE3069283u);
  EXPECT_EQ(crc32c_software(bytes_of("123456789"), 0), 0xE3069283u);
}

// RFC 3720 (iSCSI) appendix B.4 test vectors.
TEST(Crc32c, Rfc3720Vectors) {
  std::array<std::byte, 32> zeros{};
  std::array<std::byte, 32> ones{};
  std::array<std::byte, 32> ascending{};
  for (std::size_t i = 0; i < 32; ++i) {
    ones[i] = std::byte{0xFF};
    ascending[i] = static_cast<std::byte>(i);
  }
  EXPECT_EQ(crc32c(zeros, 0), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones, 0), 0x62A8AB43u);
  EXPECT_EQ(crc32c(ascending, 0), 0x46DD794Eu);
  EXPECT_EQ(crc32c_software(zeros, 0), 0x8A9136AAu);
  EXPECT_EQ(crc32c_software(ones, 0), 0x62A8AB43u);
  EXPECT_EQ(crc32c_software(ascending, 0), 0x46DD794Eu);
}

TEST(Crc32c, EmptyInputReturnsSeed) {
  EXPECT_EQ(crc32c({}, 0), 0u);
  EXPECT_EQ(crc32c({}, 0x12345678u), 0x12345678u);
  EXPECT_EQ(crc32c_software({}, 0x12345678u), 0x12345678u);
}

TEST(Crc32c, HardwareAndSoftwareAgreeOnEveryLengthAndAlignment) {
  std::mt19937 rng(7);
  std::vector<std::byte> buffer(600);
  for (auto& b : buffer)
    b = static_cast<std::byte>(rng());
  for (std::size_t offset = 0; offset < 8; ++offset) {
    for (std::size_t length = 0; length + offset <= 520; ++length) {
      const auto piece = std::span(buffer).subspan(offset, length);
      const std::uint32_t seed = rng();
      ASSERT_EQ(crc32c(piece, seed), crc32c_software(piece, seed))
          << "offset " << offset << " length " << length;
    }
  }
}

TEST(Crc32c, SeedChainsAcrossPieces) {
  const auto whole = bytes_of("the quick brown fox jumps over the lazy dog");
  for (std::size_t cut = 0; cut <= whole.size(); ++cut) {
    const std::uint32_t first = crc32c(whole.first(cut), 0);
    EXPECT_EQ(crc32c(whole.subspan(cut), first), crc32c(whole, 0)) << "cut at " << cut;
  }
}

TEST(CanonicalLayout, FiveTupleBytesAreSpelledOut) {
  const auto bytes = canonical_5tuple(v4_key());
  const std::array<std::uint8_t, kFlowBytes5Tuple> expected = {
      198,  18,   0,  1,  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // src 198.18.0.1
      198,  19,   10, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // dst 198.19.10.10
      0x9C, 0x40,                                              // src port 40000, big-endian
      0x01, 0xBB,                                              // dst port 443
      6,    4,    0,  0};                                      // TCP, IPv4, padding
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(std::to_integer<std::uint8_t>(bytes[i]), expected[i]) << "byte " << i;
  }
}

TEST(CanonicalLayout, ThreeTupleBytesAreSpelledOut) {
  const auto bytes = canonical_3tuple(v6_key());
  const std::array<std::uint8_t, kFlowBytes3Tuple> expected = {
      0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,     // 2001:db8::1
      0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x80,  // 2001:db8:0:1::80
      17,   6,    0,    0};                                           // UDP, IPv6, padding
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(std::to_integer<std::uint8_t>(bytes[i]), expected[i]) << "byte " << i;
  }
}

TEST(FlowHash, PinnedValues) {
  EXPECT_EQ(flow_hash_5tuple(v4_key()), 0x036868EDu);
  EXPECT_EQ(flow_hash_3tuple(v4_key()), 0x432BD2EFu);
  EXPECT_EQ(flow_hash_5tuple(v4_key(), 0), 0x9AFD7D72u);
  EXPECT_EQ(flow_hash_5tuple(v6_key()), 0xB4A90AF8u);
  EXPECT_EQ(flow_hash_3tuple(v6_key()), 0x96B46090u);
}

TEST(FlowHash, EqualsCrcOfCanonicalBytesForRandomKeys) {
  std::mt19937 rng(11);
  for (int i = 0; i < 2000; ++i) {
    FlowKey key;
    key.family = (i % 2 == 0) ? AddressFamily::v4 : AddressFamily::v6;
    const std::size_t address_bytes = key.family == AddressFamily::v4 ? 4 : 16;
    for (std::size_t b = 0; b < address_bytes; ++b) {
      key.src_addr[b] = static_cast<std::uint8_t>(rng());
      key.dst_addr[b] = static_cast<std::uint8_t>(rng());
    }
    key.src_port = static_cast<std::uint16_t>(rng());
    key.dst_port = static_cast<std::uint16_t>(rng());
    key.protocol = static_cast<std::uint8_t>(rng());
    const std::uint32_t seed = rng();
    ASSERT_EQ(flow_hash_5tuple(key, seed), crc32c_software(canonical_5tuple(key), seed));
    ASSERT_EQ(flow_hash_3tuple(key, seed), crc32c_software(canonical_3tuple(key), seed));
  }
}

TEST(FlowHash, ThreeTupleIgnoresPortsFiveTupleDoesNot) {
  FlowKey a = v4_key();
  FlowKey b = a;
  b.src_port = 40001;
  EXPECT_EQ(flow_hash_3tuple(a), flow_hash_3tuple(b));
  EXPECT_NE(flow_hash_5tuple(a), flow_hash_5tuple(b));
  b = a;
  b.protocol = 17;
  EXPECT_NE(flow_hash_3tuple(a), flow_hash_3tuple(b));
}

TEST(FlowHash, FamilyIsPartOfTheKey) {
  // 198.18.0.1 and the IPv6 address c612:1:: have the same 16 address bytes.
  const FlowKey v4 = make_key("198.18.0.1", "198.18.0.2", 1, 2, 6);
  FlowKey v6 = v4;
  v6.family = AddressFamily::v6;
  EXPECT_NE(flow_hash_5tuple(v4), flow_hash_5tuple(v6));
  EXPECT_NE(flow_hash_3tuple(v4), flow_hash_3tuple(v6));
}

// Pearson's chi-squared statistic over the buckets, divided by its expectation (buckets - 1)
// for a uniform hash: about 1.0, with a standard deviation of sqrt(2 / (buckets - 1)).
double chi_squared_ratio(const std::vector<std::uint32_t>& counts, std::uint32_t total) {
  const double expected = total / static_cast<double>(counts.size());
  double chi2 = 0;
  for (const std::uint32_t c : counts)
    chi2 += (c - expected) * (c - expected) / expected;
  return chi2 / static_cast<double>(counts.size() - 1);
}

// 2^20 clients from one /24 on sequential ports must spread over a Maglev-sized (prime) table
// and over power-of-two flow-table buckets like a uniform hash: clustering would push the
// chi-squared ratio far above 1 (the bound is about 7 standard deviations).
TEST(FlowHash, SpreadsStructuredFlowsEvenly) {
  constexpr std::uint32_t kPrimeBuckets = 1021;
  constexpr std::uint32_t kPowerOfTwoBuckets = 1024;
  std::vector<std::uint32_t> by_modulo(kPrimeBuckets, 0);
  std::vector<std::uint32_t> by_low_bits(kPowerOfTwoBuckets, 0);
  std::uint32_t flows = 0;
  for (std::uint32_t host = 0; host < 256; ++host) {
    for (std::uint32_t port = 0; port < 4096; ++port) {
      FlowKey key;
      key.src_addr = IpAddress::from_v4(0xC6120000u + host).bytes;
      key.dst_addr = IpAddress::from_v4(0xC613000Au).bytes;
      key.src_port = static_cast<std::uint16_t>(32768 + port);
      key.dst_port = 80;
      key.protocol = 6;
      const std::uint32_t h = flow_hash_5tuple(key);
      ++by_modulo[h % kPrimeBuckets];
      ++by_low_bits[h & (kPowerOfTwoBuckets - 1)];
      ++flows;
    }
  }
  EXPECT_LT(chi_squared_ratio(by_modulo, flows), 1.3);
  EXPECT_LT(chi_squared_ratio(by_low_bits, flows), 1.3);
  // Every bucket within 20% of its share (over 6 standard deviations of a uniform hash).
  const auto [lo, hi] = std::minmax_element(by_modulo.begin(), by_modulo.end());
  EXPECT_GT(*lo, 0.8 * flows / kPrimeBuckets);
  EXPECT_LT(*hi, 1.2 * flows / kPrimeBuckets);
  RecordProperty("chi2_ratio_prime", std::to_string(chi_squared_ratio(by_modulo, flows)));
  RecordProperty("chi2_ratio_pow2", std::to_string(chi_squared_ratio(by_low_bits, flows)));
}

}  // namespace
}  // namespace sluice::lb

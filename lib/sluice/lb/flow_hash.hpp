// Flow hashing: CRC32C (SSE4.2 instruction) over a canonical byte layout, so every host computes
// the same value for the same flow, independent of the NIC's RSS hash and of endianness.
// The 5-tuple hash is computed once per packet and reused for Maglev, the flow-table bucket and
// the GUE source port.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include <nmmintrin.h>

#include "sluice/flow_key.hpp"

namespace sluice::lb {

inline constexpr std::uint32_t kFlowHashSeed = 0x5EED1CE5u;

namespace detail {

inline std::uint64_t load_u64(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);  // little-endian on x86: the canonical byte order
  return v;
}

// CRC32C over the address half of both canonical layouts (src[16] dst[16]).
inline std::uint64_t crc_addresses(std::uint32_t crc, const FlowKey& key) {
  std::uint64_t c = crc;
  c = _mm_crc32_u64(c, load_u64(key.src_addr.data()));
  c = _mm_crc32_u64(c, load_u64(key.src_addr.data() + 8));
  c = _mm_crc32_u64(c, load_u64(key.dst_addr.data()));
  c = _mm_crc32_u64(c, load_u64(key.dst_addr.data() + 8));
  return c;
}

}  // namespace detail

// src, dst, src port, dst port, protocol. Inline: once per packet.
[[nodiscard]] inline std::uint32_t flow_hash_5tuple(const FlowKey& key,
                                                    std::uint32_t seed = kFlowHashSeed) {
  // Bytes 32..39 of the canonical layout, read as one little-endian word.
  const std::uint64_t tail =
      std::uint64_t{static_cast<std::uint16_t>((key.src_port >> 8) | (key.src_port << 8))} |
      (std::uint64_t{static_cast<std::uint16_t>((key.dst_port >> 8) | (key.dst_port << 8))} << 16) |
      (std::uint64_t{key.protocol} << 32) |
      (std::uint64_t{static_cast<std::uint8_t>(key.family)} << 40);
  return ~static_cast<std::uint32_t>(_mm_crc32_u64(detail::crc_addresses(~seed, key), tail));
}

// src, dst, protocol: source affinity and IP fragments (whose ports are unknown).
[[nodiscard]] inline std::uint32_t flow_hash_3tuple(const FlowKey& key,
                                                    std::uint32_t seed = kFlowHashSeed) {
  // Bytes 32..35 of the canonical layout, read as one little-endian word.
  const std::uint32_t tail =
      std::uint32_t{key.protocol} | (std::uint32_t{static_cast<std::uint8_t>(key.family)} << 8);
  return ~_mm_crc32_u32(static_cast<std::uint32_t>(detail::crc_addresses(~seed, key)), tail);
}

// CRC32C of arbitrary bytes, with the SSE4.2 instruction.
[[nodiscard]] std::uint32_t crc32c(std::span<const std::byte> bytes, std::uint32_t seed);

// ---- Additions to the contract ----------------------------------------------------------------
//
// CRC32C convention: Castagnoli polynomial (reflected 0x82F63B78), the seed is the CRC of the
// bytes before these ones, so seed 0 gives the standard CRC-32C ("123456789" -> 0xE3069283) and
// crc32c(b, crc32c(a, 0)) == crc32c(a || b, 0).

// A table-driven CRC32C without the instruction: the independent reference the tests check
// crc32c() and the flow hashes against, bit for bit.
[[nodiscard]] std::uint32_t crc32c_software(std::span<const std::byte> bytes, std::uint32_t seed);

// The canonical byte layouts the flow hashes cover. Field order and byte order are fixed here, so
// the hash never depends on FlowKey's memory layout or on the host's endianness:
//   5-tuple (40 bytes): src_addr[16] dst_addr[16] src_port(2, big-endian) dst_port(2, big-endian)
//                       protocol(1) family(1: 4 or 6) zero(2)
//   3-tuple (36 bytes): src_addr[16] dst_addr[16] protocol(1) family(1) zero(2)
// Addresses are in network order; an IPv4 address fills the first 4 of its 16 bytes and the rest
// are zero. The family byte keeps 198.18.0.1 apart from the IPv6 address c612:1::.
inline constexpr std::size_t kFlowBytes5Tuple = 40;
inline constexpr std::size_t kFlowBytes3Tuple = 36;
[[nodiscard]] std::array<std::byte, kFlowBytes5Tuple> canonical_5tuple(const FlowKey& key);
[[nodiscard]] std::array<std::byte, kFlowBytes3Tuple> canonical_3tuple(const FlowKey& key);

// flow_hash_5tuple(k, s) == crc32c(canonical_5tuple(k), s), and likewise for the 3-tuple; the
// hash functions above compute it straight from the fields without building the bytes.

}  // namespace sluice::lb

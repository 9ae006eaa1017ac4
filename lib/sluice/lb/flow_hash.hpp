// Flow hashing: CRC32C (SSE4.2 instruction) over a canonical byte layout, so every host computes
// the same value for the same flow, independent of the NIC's RSS hash and of endianness.
// The 5-tuple hash is computed once per packet and reused for Maglev, the flow-table bucket and
// the GUE source port.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "sluice/flow_key.hpp"

namespace sluice::lb {

inline constexpr std::uint32_t kFlowHashSeed = 0x5EED1CE5u;

// src, dst, src port, dst port, protocol.
[[nodiscard]] std::uint32_t flow_hash_5tuple(const FlowKey& key,
                                             std::uint32_t seed = kFlowHashSeed);
// src, dst, protocol: source affinity and IP fragments (whose ports are unknown).
[[nodiscard]] std::uint32_t flow_hash_3tuple(const FlowKey& key,
                                             std::uint32_t seed = kFlowHashSeed);
// CRC32C of arbitrary bytes; the software and hardware paths give identical results.
[[nodiscard]] std::uint32_t crc32c(std::span<const std::byte> bytes, std::uint32_t seed);

// ---- Additions to the contract ----------------------------------------------------------------
//
// CRC32C convention: Castagnoli polynomial (reflected 0x82F63B78), the seed is the CRC of the
// bytes before these ones, so seed 0 gives the standard CRC-32C ("123456789" -> 0xE3069283) and
// crc32c(b, crc32c(a, 0)) == crc32c(a || b, 0).

// The table-driven path, available on every host; crc32c() uses the SSE4.2 instruction when the
// build enables it and must agree with this bit for bit.
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

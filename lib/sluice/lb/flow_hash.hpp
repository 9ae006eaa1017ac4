// Flow hashing: CRC32C (SSE4.2 instruction) over a canonical byte layout, so every host computes
// the same value for the same flow, independent of the NIC's RSS hash and of endianness.
// The 5-tuple hash is computed once per packet and reused for Maglev, the flow-table bucket and
// the GUE source port.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "sluice/flow_key.hpp"

namespace sluice::lb {

inline constexpr std::uint32_t kFlowHashSeed = 0x5EED1CE5u;

// src, dst, src port, dst port, protocol.
[[nodiscard]] std::uint32_t flow_hash_5tuple(const FlowKey& key, std::uint32_t seed = kFlowHashSeed);
// src, dst, protocol: source affinity and IP fragments (whose ports are unknown).
[[nodiscard]] std::uint32_t flow_hash_3tuple(const FlowKey& key, std::uint32_t seed = kFlowHashSeed);
// CRC32C of arbitrary bytes; the software and hardware paths give identical results.
[[nodiscard]] std::uint32_t crc32c(std::span<const std::byte> bytes, std::uint32_t seed);

}  // namespace sluice::lb

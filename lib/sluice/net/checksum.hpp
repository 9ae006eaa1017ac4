// The Internet checksum (RFC 1071) and its incremental update (RFC 1624), with the IPv4 header
// and TCP/UDP/ICMPv6 pseudo-header variants. Values are host-order numbers of the big-endian
// 16-bit field: store them with Be16::set().
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace sluice::net {

// One's-complement running sum of big-endian 16-bit words, not yet folded. Chain calls to sum
// several pieces; every piece but the last must have an even length.
[[nodiscard]] std::uint32_t checksum_add(std::span<const std::byte> data, std::uint32_t sum = 0);

// Folds carries back into 16 bits (the one's-complement sum, not complemented).
[[nodiscard]] constexpr std::uint16_t checksum_fold(std::uint64_t sum) {
  while (sum >> 16)
    sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

// The value of the checksum field once it covers `sum`.
[[nodiscard]] constexpr std::uint16_t checksum_finish(std::uint32_t sum) {
  return static_cast<std::uint16_t>(~checksum_fold(sum));
}

// RFC 1071 checksum of `data`; a buffer that contains its own correct checksum gives 0.
[[nodiscard]] std::uint16_t internet_checksum(std::span<const std::byte> data);

// RFC 1624 eqn. 3: the new checksum after one 16-bit word of the covered data changed from
// old_word to new_word. Chain calls for several words.
[[nodiscard]] constexpr std::uint16_t checksum_update16(std::uint16_t old_checksum,
                                                        std::uint16_t old_word,
                                                        std::uint16_t new_word) {
  const std::uint32_t sum = std::uint32_t{static_cast<std::uint16_t>(~old_checksum)} +
                            std::uint32_t{static_cast<std::uint16_t>(~old_word)} + new_word;
  return static_cast<std::uint16_t>(~checksum_fold(sum));
}

// The same for a 32-bit value (an IPv4 address) at an even offset of the covered data.
[[nodiscard]] constexpr std::uint16_t checksum_update32(std::uint16_t old_checksum,
                                                        std::uint32_t old_value,
                                                        std::uint32_t new_value) {
  old_checksum = checksum_update16(old_checksum, static_cast<std::uint16_t>(old_value >> 16),
                                   static_cast<std::uint16_t>(new_value >> 16));
  return checksum_update16(old_checksum, static_cast<std::uint16_t>(old_value),
                           static_cast<std::uint16_t>(new_value));
}

// The same for a run of bytes at an even offset (an IPv6 address); sizes must match and be
// even.
[[nodiscard]] std::uint16_t checksum_update_bytes(std::uint16_t old_checksum,
                                                  std::span<const std::byte> old_bytes,
                                                  std::span<const std::byte> new_bytes);

// IPv4 header checksum over `header` (IHL * 4 bytes), treating the checksum field as zero.
[[nodiscard]] std::uint16_t ipv4_header_checksum(std::span<const std::byte> header);

// Pseudo-header sums (not folded) to seed checksum_add() for TCP, UDP and ICMPv6.
[[nodiscard]] std::uint32_t pseudo_header_sum_v4(const std::uint8_t (&src)[4],
                                                 const std::uint8_t (&dst)[4],
                                                 std::uint8_t protocol, std::uint16_t l4_length);
[[nodiscard]] std::uint32_t pseudo_header_sum_v6(const std::uint8_t (&src)[16],
                                                 const std::uint8_t (&dst)[16],
                                                 std::uint8_t next_header, std::uint32_t l4_length);

// Checksum of an L4 segment (header, with its checksum field zero or included, plus payload)
// with the pseudo-header. For a segment that already carries a correct checksum this gives 0.
// UDP callers store 0xFFFF when this returns 0 (0 means "no checksum" in UDP).
[[nodiscard]] std::uint16_t l4_checksum_v4(const std::uint8_t (&src)[4],
                                           const std::uint8_t (&dst)[4], std::uint8_t protocol,
                                           std::span<const std::byte> segment);
[[nodiscard]] std::uint16_t l4_checksum_v6(const std::uint8_t (&src)[16],
                                           const std::uint8_t (&dst)[16], std::uint8_t next_header,
                                           std::span<const std::byte> segment);

}  // namespace sluice::net

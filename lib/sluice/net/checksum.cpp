#include "sluice/net/checksum.hpp"

#include "sluice/net/byte_order.hpp"

namespace sluice::net {

std::uint32_t checksum_add(std::span<const std::byte> data, std::uint32_t sum) {
  // A 64-bit accumulator cannot overflow for any frame; fold once at the end.
  std::uint64_t acc = sum;
  const std::byte* p = data.data();
  std::size_t n = data.size();
  for (; n >= 2; p += 2, n -= 2)
    acc += load_be16(p);
  if (n == 1) acc += std::uint64_t{std::to_integer<std::uint8_t>(*p)} << 8;
  return checksum_fold(acc);
}

std::uint16_t internet_checksum(std::span<const std::byte> data) {
  return checksum_finish(checksum_add(data));
}

std::uint16_t checksum_update_bytes(std::uint16_t old_checksum,
                                    std::span<const std::byte> old_bytes,
                                    std::span<const std::byte> new_bytes) {
  for (std::size_t i = 0; i + 1 < old_bytes.size() && i + 1 < new_bytes.size(); i += 2) {
    old_checksum =
        checksum_update16(old_checksum, load_be16(&old_bytes[i]), load_be16(&new_bytes[i]));
  }
  return old_checksum;
}

std::uint16_t ipv4_header_checksum(std::span<const std::byte> header) {
  constexpr std::size_t kChecksumOffset = 10;
  if (header.size() < kChecksumOffset + 2) return checksum_finish(checksum_add(header));
  std::uint32_t sum = checksum_add(header.first(kChecksumOffset));
  sum = checksum_add(header.subspan(kChecksumOffset + 2), sum);
  return checksum_finish(sum);
}

std::uint32_t pseudo_header_sum_v4(const std::uint8_t (&src)[4], const std::uint8_t (&dst)[4],
                                   std::uint8_t protocol, std::uint16_t l4_length) {
  std::uint64_t sum = 0;
  sum += load_be16(&src[0]) + load_be16(&src[2]);
  sum += load_be16(&dst[0]) + load_be16(&dst[2]);
  sum += protocol;
  sum += l4_length;
  return checksum_fold(sum);
}

std::uint32_t pseudo_header_sum_v6(const std::uint8_t (&src)[16], const std::uint8_t (&dst)[16],
                                   std::uint8_t next_header, std::uint32_t l4_length) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < 16; i += 2)
    sum += load_be16(&src[i]) + load_be16(&dst[i]);
  sum += l4_length >> 16;
  sum += l4_length & 0xFFFF;
  sum += next_header;
  return checksum_fold(sum);
}

std::uint16_t l4_checksum_v4(const std::uint8_t (&src)[4], const std::uint8_t (&dst)[4],
                             std::uint8_t protocol, std::span<const std::byte> segment) {
  const auto length = static_cast<std::uint16_t>(segment.size());
  return checksum_finish(checksum_add(segment, pseudo_header_sum_v4(src, dst, protocol, length)));
}

std::uint16_t l4_checksum_v6(const std::uint8_t (&src)[16], const std::uint8_t (&dst)[16],
                             std::uint8_t next_header, std::span<const std::byte> segment) {
  const auto length = static_cast<std::uint32_t>(segment.size());
  return checksum_finish(
      checksum_add(segment, pseudo_header_sum_v6(src, dst, next_header, length)));
}

}  // namespace sluice::net

// Big-endian (network order) integer fields for wire layouts. Each field is a byte array, so
// every header built from them has alignment 1 and is accessed only through unsigned-char
// lvalues: a header pointer may be laid over any byte of a frame, read or written, without
// alignment or strict-aliasing trouble.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::net {

[[nodiscard]] constexpr std::uint16_t load_be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
[[nodiscard]] constexpr std::uint32_t load_be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}
constexpr void store_be16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
constexpr void store_be32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

[[nodiscard]] inline std::uint16_t load_be16(const std::byte* p) {
  return load_be16(reinterpret_cast<const std::uint8_t*>(p));
}
[[nodiscard]] inline std::uint32_t load_be32(const std::byte* p) {
  return load_be32(reinterpret_cast<const std::uint8_t*>(p));
}

// A 16-bit field stored in network order; get()/set() convert from/to host order.
struct Be16 {
  std::uint8_t bytes[2] = {0, 0};

  [[nodiscard]] constexpr std::uint16_t get() const { return load_be16(bytes); }
  constexpr void set(std::uint16_t host_order) { store_be16(bytes, host_order); }
};

// A 32-bit field stored in network order.
struct Be32 {
  std::uint8_t bytes[4] = {0, 0, 0, 0};

  [[nodiscard]] constexpr std::uint32_t get() const { return load_be32(bytes); }
  constexpr void set(std::uint32_t host_order) { store_be32(bytes, host_order); }
};

static_assert(sizeof(Be16) == 2 && alignof(Be16) == 1);
static_assert(sizeof(Be32) == 4 && alignof(Be32) == 1);

}  // namespace sluice::net

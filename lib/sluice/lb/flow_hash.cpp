#include "sluice/lb/flow_hash.hpp"

#include <bit>
#include <cstring>

#include <nmmintrin.h>

namespace sluice::lb {
namespace {

// ---- Software CRC32C: slicing-by-8 over tables built at compile time ----

constexpr std::uint32_t kCastagnoliReflected = 0x82F63B78u;

using CrcTables = std::array<std::array<std::uint32_t, 256>, 8>;

constexpr CrcTables make_crc_tables() {
  CrcTables t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit)
      c = (c >> 1) ^ ((c & 1u) ? kCastagnoliReflected : 0u);
    t[0][i] = c;
  }
  for (std::size_t k = 1; k < 8; ++k) {
    for (std::size_t i = 0; i < 256; ++i)
      t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFFu];
  }
  return t;
}

constexpr CrcTables kCrcTables = make_crc_tables();

// Little-endian read from bytes, written out so it means the same on any host.
std::uint32_t load_le32(const std::byte* p) {
  return std::to_integer<std::uint32_t>(p[0]) | (std::to_integer<std::uint32_t>(p[1]) << 8) |
         (std::to_integer<std::uint32_t>(p[2]) << 16) |
         (std::to_integer<std::uint32_t>(p[3]) << 24);
}

// Raw (un-inverted) CRC register update over bytes.
std::uint32_t crc_update_software(std::uint32_t crc, const std::byte* p, std::size_t n) {
  const auto& t = kCrcTables;
  for (; n >= 8; n -= 8, p += 8) {
    const std::uint32_t lo = crc ^ load_le32(p);
    const std::uint32_t hi = load_le32(p + 4);
    crc = t[7][lo & 0xFFu] ^ t[6][(lo >> 8) & 0xFFu] ^ t[5][(lo >> 16) & 0xFFu] ^ t[4][lo >> 24] ^
          t[3][hi & 0xFFu] ^ t[2][(hi >> 8) & 0xFFu] ^ t[1][(hi >> 16) & 0xFFu] ^ t[0][hi >> 24];
  }
  for (; n > 0; --n, ++p)
    crc = (crc >> 8) ^ t[0][(crc ^ std::to_integer<std::uint32_t>(*p)) & 0xFFu];
  return crc;
}

static_assert(std::endian::native == std::endian::little,
              "crc32c() loads words little-endian, which is byte order on x86");

std::uint64_t load_u64(const void* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

std::uint32_t crc_update_hardware(std::uint32_t crc, const std::byte* p, std::size_t n) {
  std::uint64_t c = crc;
  for (; n >= 8; n -= 8, p += 8)
    c = _mm_crc32_u64(c, load_u64(p));
  crc = static_cast<std::uint32_t>(c);
  for (; n > 0; --n, ++p)
    crc = _mm_crc32_u8(crc, std::to_integer<std::uint8_t>(*p));
  return crc;
}

std::uint8_t family_byte(const FlowKey& key) {
  return static_cast<std::uint8_t>(key.family);
}

}  // namespace

std::uint32_t crc32c_software(std::span<const std::byte> bytes, std::uint32_t seed) {
  return ~crc_update_software(~seed, bytes.data(), bytes.size());
}

std::uint32_t crc32c(std::span<const std::byte> bytes, std::uint32_t seed) {
  return ~crc_update_hardware(~seed, bytes.data(), bytes.size());
}

std::array<std::byte, kFlowBytes5Tuple> canonical_5tuple(const FlowKey& key) {
  std::array<std::byte, kFlowBytes5Tuple> out{};
  std::memcpy(out.data(), key.src_addr.data(), 16);
  std::memcpy(out.data() + 16, key.dst_addr.data(), 16);
  out[32] = static_cast<std::byte>(key.src_port >> 8);
  out[33] = static_cast<std::byte>(key.src_port & 0xFFu);
  out[34] = static_cast<std::byte>(key.dst_port >> 8);
  out[35] = static_cast<std::byte>(key.dst_port & 0xFFu);
  out[36] = static_cast<std::byte>(key.protocol);
  out[37] = static_cast<std::byte>(family_byte(key));
  return out;
}

std::array<std::byte, kFlowBytes3Tuple> canonical_3tuple(const FlowKey& key) {
  std::array<std::byte, kFlowBytes3Tuple> out{};
  std::memcpy(out.data(), key.src_addr.data(), 16);
  std::memcpy(out.data() + 16, key.dst_addr.data(), 16);
  out[32] = static_cast<std::byte>(key.protocol);
  out[33] = static_cast<std::byte>(family_byte(key));
  return out;
}

}  // namespace sluice::lb

#include "sluice/ip_address.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace sluice {

IpAddress IpAddress::from_v4_bytes(const std::uint8_t* network_order) {
  IpAddress a;
  std::memcpy(a.bytes.data(), network_order, 4);
  a.family = AddressFamily::v4;
  return a;
}

IpAddress IpAddress::from_v6_bytes(const std::uint8_t* network_order) {
  IpAddress a;
  std::memcpy(a.bytes.data(), network_order, 16);
  a.family = AddressFamily::v6;
  return a;
}

IpAddress IpAddress::from_v4(std::uint32_t host_order) {
  const std::uint8_t b[4] = {static_cast<std::uint8_t>(host_order >> 24),
                             static_cast<std::uint8_t>(host_order >> 16),
                             static_cast<std::uint8_t>(host_order >> 8),
                             static_cast<std::uint8_t>(host_order)};
  return from_v4_bytes(b);
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  // inet_pton reads a C string: "198.18.0.30\0junk" would stop at the NUL and pass.
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  char buf[INET6_ADDRSTRLEN] = {};
  std::memcpy(buf, text.data(), text.size());
  std::uint8_t raw[16] = {};
  if (inet_pton(AF_INET, buf, raw) == 1) return from_v4_bytes(raw);
  if (inet_pton(AF_INET6, buf, raw) == 1) return from_v6_bytes(raw);
  return std::nullopt;
}

std::uint32_t IpAddress::v4_host_order() const {
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) |
         (std::uint32_t{bytes[2]} << 8) | std::uint32_t{bytes[3]};
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  const int af = is_v4() ? AF_INET : AF_INET6;
  if (inet_ntop(af, bytes.data(), buf, sizeof buf) == nullptr) return "?";
  return buf;
}

bool in_prefix(const IpAddress& address, const IpAddress& prefix, int prefix_len) {
  if (address.family != prefix.family || prefix_len < 0) return false;
  const int max_len = address.is_v4() ? 32 : 128;
  if (prefix_len > max_len) return false;
  const int full_bytes = prefix_len / 8;
  if (std::memcmp(address.bytes.data(), prefix.bytes.data(), full_bytes) != 0) return false;
  const int rest = prefix_len % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
  return (address.bytes[full_bytes] & mask) == (prefix.bytes[full_bytes] & mask);
}

}  // namespace sluice

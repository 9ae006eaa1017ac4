// An IPv4 or IPv6 address as one value type, shared by the parser, the config model,
// the flow key and the control protocol.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

enum class AddressFamily : std::uint8_t { v4 = 4, v6 = 6 };

struct IpAddress {
  // Network byte order. An IPv4 address uses bytes[0..3]; the other 12 bytes stay zero so
  // that comparison and hashing need no family switch.
  std::array<std::uint8_t, 16> bytes{};
  AddressFamily family = AddressFamily::v4;

  [[nodiscard]] static IpAddress from_v4_bytes(const std::uint8_t* network_order);
  [[nodiscard]] static IpAddress from_v6_bytes(const std::uint8_t* network_order);
  // Host-order convenience for tests and builders: 198.18.0.1 == 0xC6120001.
  [[nodiscard]] static IpAddress from_v4(std::uint32_t host_order);
  // Parses "198.18.0.1" or "2001:db8::1"; nullopt for anything else (a NUL or any other byte
  // after the address included).
  [[nodiscard]] static std::optional<IpAddress> parse(std::string_view text);

  [[nodiscard]] bool is_v4() const { return family == AddressFamily::v4; }
  [[nodiscard]] bool is_v6() const { return family == AddressFamily::v6; }
  [[nodiscard]] std::uint32_t v4_host_order() const;
  [[nodiscard]] std::string to_string() const;

  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
};

// True when `address` lies in prefix/prefix_len (same family required).
[[nodiscard]] bool in_prefix(const IpAddress& address, const IpAddress& prefix, int prefix_len);

}  // namespace sluice

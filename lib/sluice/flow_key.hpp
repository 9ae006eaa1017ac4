// The 5-tuple that identifies a flow: produced by the parser, hashed for Maglev and the
// flow table, and stored in flow-table entries. One layout for IPv4 and IPv6.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>

#include "sluice/ip_address.hpp"

namespace sluice {

struct FlowKey {
  std::array<std::uint8_t, 16> src_addr{};  // network order; IPv4 in [0..3], rest zero
  std::array<std::uint8_t, 16> dst_addr{};
  std::uint16_t src_port = 0;  // host order; 0 for protocols without ports
  std::uint16_t dst_port = 0;
  std::uint8_t protocol = 0;  // IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, ...
  AddressFamily family = AddressFamily::v4;
  std::uint8_t reserved[2] = {0, 0};  // always zero, so the key can be hashed and compared as bytes

  [[nodiscard]] IpAddress src() const { return IpAddress{src_addr, family}; }
  [[nodiscard]] IpAddress dst() const { return IpAddress{dst_addr, family}; }

  friend bool operator==(const FlowKey& a, const FlowKey& b) {
    return std::memcmp(&a, &b, sizeof(FlowKey)) == 0;
  }
};
static_assert(sizeof(FlowKey) == 40, "FlowKey is hashed and compared as 40 raw bytes");

}  // namespace sluice

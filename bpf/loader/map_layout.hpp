// The C++ view of bpf/maps.h: the same structs (one definition, checked here against the layout
// the BPF programs were compiled with), key builders from sluice types, and counter names.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "maps.h"
#include "sluice/ip_address.hpp"
#include "sluice/limits.hpp"

namespace sluice::bpf {

using VipKey = sluice_vip_key;
using VipValue = sluice_vip_value;
using AddressKey = sluice_addr_key;
using DecapConfig = sluice_decap_config;

static_assert(sizeof(VipKey) == 20);
static_assert(offsetof(VipKey, address) == 0);
static_assert(offsetof(VipKey, port) == 16);
static_assert(offsetof(VipKey, protocol) == 18);
static_assert(offsetof(VipKey, family) == 19);
static_assert(sizeof(VipValue) == 4);
static_assert(offsetof(VipValue, vip_id) == 0);
static_assert(sizeof(AddressKey) == 20);
static_assert(offsetof(AddressKey, address) == 0);
static_assert(offsetof(AddressKey, family) == 16);
static_assert(offsetof(AddressKey, reserved) == 17);
static_assert(sizeof(sluice_counter) == 16);
static_assert(offsetof(sluice_counter, packets) == 0);
static_assert(offsetof(sluice_counter, bytes) == 8);
static_assert(sizeof(DecapConfig) == 4);
static_assert(offsetof(DecapConfig, gue_port) == 0);
static_assert(offsetof(DecapConfig, match_any_address) == 2);
static_assert(offsetof(DecapConfig, reserved) == 3);
static_assert(sizeof(sluice_gue_header) == 4);
static_assert(offsetof(sluice_gue_header, version_control_hlen) == 0);
static_assert(offsetof(sluice_gue_header, proto) == 1);
static_assert(offsetof(sluice_gue_header, flags) == 2);
static_assert(sizeof(sluice_gue_hop) == 4);
static_assert(offsetof(sluice_gue_hop, magic) == 0);
static_assert(offsetof(sluice_gue_hop, type) == 1);
static_assert(offsetof(sluice_gue_hop, flags) == 2);
static_assert(offsetof(sluice_gue_hop, reserved) == 3);
// The private data fills the whole hlen: the 4-byte hop header and the address.
static_assert(SLUICE_GUE_HOP_HLEN_V4 * 4 == sizeof(sluice_gue_hop) + 4);
static_assert(SLUICE_GUE_HOP_HLEN_V6 * 4 == sizeof(sluice_gue_hop) + 16);
static_assert(SLUICE_GUE_HOP_MAGIC == 'S');
static_assert(static_cast<int>(AddressFamily::v4) == SLUICE_FAMILY_V4);
static_assert(static_cast<int>(AddressFamily::v6) == SLUICE_FAMILY_V6);
static_assert(SLUICE_MAX_VIPS == kMaxVips, "the steering maps hold every VIP a state may have");
// Kernel object names hold 15 characters and a NUL.
static_assert(sizeof(SLUICE_DECAP_SOURCE_MAP_NAME) <= 16);
static_assert(sizeof(SLUICE_DECAP_HOP_STATS_MAP_NAME) <= 16);
static_assert(sizeof(SLUICE_DECAP_STATS_MAP_NAME) <= 16);

// `port` in host order (0 = every port); `protocol` as in the IP header (6 = TCP, 17 = UDP).
[[nodiscard]] VipKey make_vip_key(const IpAddress& address, std::uint16_t port,
                                  std::uint8_t protocol);
[[nodiscard]] AddressKey make_address_key(const IpAddress& address);
[[nodiscard]] IpAddress address_of(const VipKey& key);
[[nodiscard]] std::uint16_t port_of(const VipKey& key);  // host order

// Map keys are plain C structs hashed by the kernel as bytes (padding is always zero), so they
// are compared as bytes too. For std::set / std::map and equality checks.
struct KeyBytesLess {
  template <typename Key>
  bool operator()(const Key& a, const Key& b) const {
    return std::memcmp(&a, &b, sizeof(Key)) < 0;
  }
};
template <typename Key>
[[nodiscard]] bool same_key(const Key& a, const Key& b) {
  return std::memcmp(&a, &b, sizeof(Key)) == 0;
}

struct CounterInfo {
  std::string_view name;
  std::string_view description;
};

inline constexpr std::array<CounterInfo, SLUICE_STEER_VERDICT_COUNT> kSteerVerdicts = {{
#define SLUICE_COUNTER_INFO(id, desc) CounterInfo{#id, desc},
    SLUICE_STEER_VERDICTS(SLUICE_COUNTER_INFO)
#undef SLUICE_COUNTER_INFO
}};

inline constexpr std::array<CounterInfo, SLUICE_DECAP_OUTCOME_COUNT> kDecapOutcomes = {{
#define SLUICE_COUNTER_INFO(id, desc) CounterInfo{#id, desc},
    SLUICE_DECAP_OUTCOMES(SLUICE_COUNTER_INFO)
#undef SLUICE_COUNTER_INFO
}};

inline constexpr std::array<CounterInfo, SLUICE_SECOND_HOP_OUTCOME_COUNT> kSecondHopOutcomes = {{
#define SLUICE_COUNTER_INFO(id, desc) CounterInfo{#id, desc},
    SLUICE_SECOND_HOP_OUTCOMES(SLUICE_COUNTER_INFO)
#undef SLUICE_COUNTER_INFO
}};

// A per-CPU counter table summed over CPUs; index by the program's enum.
struct CounterTotals {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
};
using SteerCounters = std::array<CounterTotals, SLUICE_STEER_VERDICT_COUNT>;
using DecapCounters = std::array<CounterTotals, SLUICE_DECAP_OUTCOME_COUNT>;
using SecondHopCounters = std::array<CounterTotals, SLUICE_SECOND_HOP_OUTCOME_COUNT>;

}  // namespace sluice::bpf

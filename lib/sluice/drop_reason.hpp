// Every reason Sluice drops a packet, defined once. The parser, the dataplane counters,
// telemetry, Prometheus metrics and sluicectl all index and name drops through this table.
// Append new reasons at the end of their section; names are part of the metrics API.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice {

// X(identifier, "human description")
#define SLUICE_DROP_REASONS(X)                                                                   \
  /* Layer 2 */                                                                                  \
  X(l2_truncated, "frame shorter than its Ethernet or 802.1Q header")                            \
  X(l2_double_vlan, "more than one 802.1Q/802.1ad tag (QinQ is not supported)")                  \
  X(l2_too_long, "frame longer than 65535 bytes")                                                \
  /* IPv4 */                                                                                     \
  X(ipv4_truncated, "IPv4 header runs past the end of the frame")                                \
  X(ipv4_bad_version, "IPv4 ethertype but the version field is not 4")                           \
  X(ipv4_bad_ihl, "IPv4 header length (IHL) below 5 or beyond the frame")                        \
  X(ipv4_bad_total_length, "IPv4 total length smaller than the header or larger than the frame") \
  X(ipv4_bad_fragment, "IPv4 fragment offset/length combination is impossible")                  \
  /* IPv6 */                                                                                     \
  X(ipv6_truncated, "IPv6 header runs past the end of the frame")                                \
  X(ipv6_bad_version, "IPv6 ethertype but the version field is not 6")                           \
  X(ipv6_bad_payload_length, "IPv6 payload length larger than the frame")                        \
  X(ipv6_ext_truncated, "an IPv6 extension header runs past the payload")                        \
  X(ipv6_ext_chain_too_long, "more IPv6 extension headers than the parser follows")              \
  X(ipv6_bad_fragment, "IPv6 fragment header repeated, or impossible offset/length")             \
  X(ipv6_misplaced_hop_by_hop, "IPv6 hop-by-hop header not directly after the IPv6 header")      \
  /* Layer 4 */                                                                                  \
  X(tcp_truncated, "TCP header runs past the end of the IP payload")                             \
  X(tcp_bad_data_offset, "TCP data offset below 5 or beyond the IP payload")                     \
  X(udp_truncated, "UDP header runs past the end of the IP payload")                             \
  X(udp_bad_length, "UDP length field smaller than 8 or larger than the IP payload")             \
  X(icmp_truncated, "ICMP/ICMPv6 header runs past the end of the IP payload")                    \
  X(icmp_inner_malformed, "ICMP error whose embedded packet cannot be parsed")                   \
  /* Dataplane decisions */                                                                      \
  X(no_backend, "VIP matched but no backend can take new flows")                                 \
  X(fragment_unsupported,                                                                        \
    "fragment for a VIP whose policy drops fragments, or to an address with several VIPs of "    \
    "its protocol (a fragment carries no port to choose by)")                                    \
  X(icmp_unsupported, "ICMP to a VIP that Sluice neither answers nor forwards")                  \
  X(icmp_error_no_flow, "ICMP error about a VIP flow that matches no VIP")                       \
  X(tx_full, "transmit queue full: packet could not be sent")                                    \
  X(pass_full, "exception path to the host kernel full: packet could not be passed")             \
  X(no_snapshot, "no forwarding state loaded yet")                                               \
  X(no_host_port, "not for a VIP and no exception port to the host kernel is configured")        \
  X(segmented_frame, "frame split over several mbuf segments (the pipeline needs one)")          \
  X(no_headroom, "mbuf headroom too small for the encapsulation headers")                        \
  X(too_big_no_df,                                                                               \
    "packet plus encapsulation exceeds the MTU, DF clear (Sluice does not "                      \
    "fragment)")                                                                                 \
  X(new_flow_limit, "a new flow over its VIP's new_flows_per_s limit")

enum class DropReason : std::uint8_t {
#define SLUICE_DROP_ENUM(id, desc) id,
  SLUICE_DROP_REASONS(SLUICE_DROP_ENUM)
#undef SLUICE_DROP_ENUM
};

struct DropReasonInfo {
  std::string_view name;
  std::string_view description;
};

inline constexpr std::array kDropReasons = {
#define SLUICE_DROP_INFO(id, desc) DropReasonInfo{#id, desc},
    SLUICE_DROP_REASONS(SLUICE_DROP_INFO)
#undef SLUICE_DROP_INFO
};

inline constexpr std::size_t kDropReasonCount = kDropReasons.size();

[[nodiscard]] constexpr std::string_view name_of(DropReason r) {
  return kDropReasons[static_cast<std::size_t>(r)].name;
}
[[nodiscard]] constexpr std::string_view description_of(DropReason r) {
  return kDropReasons[static_cast<std::size_t>(r)].description;
}
[[nodiscard]] constexpr std::optional<DropReason> drop_reason_from_name(std::string_view name) {
  for (std::size_t i = 0; i < kDropReasonCount; ++i) {
    if (kDropReasons[i].name == name) return static_cast<DropReason>(i);
  }
  return std::nullopt;
}

}  // namespace sluice

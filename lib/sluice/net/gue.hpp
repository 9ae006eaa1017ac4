// GUE (draft-ietf-intarea-gue) decapsulation: what a UDP payload on the GUE port carries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "sluice/drop_reason.hpp"
#include "sluice/net/parse.hpp"

namespace sluice::net {

struct GueInfo {
  std::uint8_t variant = 0;   // 0: GUE header present; 1: the payload is an IP packet directly
  bool control = false;       // a control message: `protocol` holds the control type
  std::uint8_t protocol = 0;  // inner IP protocol (variant 1: IPIP or IPv6 by the IP version)
  std::uint16_t flags = 0;
  std::uint16_t inner_offset = 0;  // frame offset of the inner packet, past any GUE extensions
};

struct GueParseResult {
  std::optional<DropReason> drop;  // set: gue_truncated or gue_bad_version; `gue` unspecified
  GueInfo gue;
  [[nodiscard]] bool ok() const { return !drop.has_value(); }
};

// Parses the GUE header that starts at `offset`; `udp_payload_end` is the frame offset just past
// the UDP payload (GUE and its extension fields must fit before it).
[[nodiscard]] GueParseResult parse_gue(std::span<const std::byte> frame, std::size_t offset,
                                       std::size_t udp_payload_end);

// The same for a parsed UDP packet: the GUE header is its payload.
[[nodiscard]] GueParseResult parse_gue(std::span<const std::byte> frame, const ParsedPacket& udp);

}  // namespace sluice::net

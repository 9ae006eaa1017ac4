#include "sluice/net/gue.hpp"

#include "sluice/net/headers.hpp"

namespace sluice::net {

GueParseResult parse_gue(std::span<const std::byte> frame, std::size_t offset,
                         std::size_t udp_payload_end) {
  GueParseResult result;
  const std::size_t end = udp_payload_end < frame.size() ? udp_payload_end : frame.size();
  if (offset >= end) {
    result.drop = DropReason::gue_truncated;
    return result;
  }
  const auto payload = frame.first(end);
  const auto first_byte = std::to_integer<std::uint8_t>(payload[offset]);
  GueInfo& gue = result.gue;
  gue.variant = first_byte >> 6;

  if (gue.variant == 1) {
    // The two version bits are the top of the inner IP version: 0100 (IPv4) or 0110 (IPv6).
    const std::uint8_t ip_version = first_byte >> 4;
    if (ip_version != 4 && ip_version != 6) {
      result.drop = DropReason::gue_bad_version;
      return result;
    }
    gue.protocol = ip_version == 4 ? kIpProtoIpip : kIpProtoIpv6;
    gue.inner_offset = static_cast<std::uint16_t>(offset);
    return result;
  }
  if (gue.variant != 0) {
    result.drop = DropReason::gue_bad_version;
    return result;
  }
  const auto* header = header_at<GueHeader>(payload, offset);
  if (header == nullptr || header->header_length() > end - offset) {
    result.drop = DropReason::gue_truncated;
    return result;
  }
  gue.control = header->control();
  gue.protocol = header->protocol;
  gue.flags = header->flags.get();
  gue.inner_offset = static_cast<std::uint16_t>(offset + header->header_length());
  return result;
}

GueParseResult parse_gue(std::span<const std::byte> frame, const ParsedPacket& udp) {
  return parse_gue(frame, udp.payload_offset, std::size_t{udp.payload_offset} + udp.payload_length);
}

}  // namespace sluice::net

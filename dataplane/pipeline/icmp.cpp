#include "pipeline/icmp.hpp"

#include <algorithm>
#include <cstring>

#include "sluice/net/byte_order.hpp"
#include "sluice/net/checksum.hpp"
#include "sluice/net/headers.hpp"

namespace sluice::pipeline {
namespace {

using namespace sluice::net;

void swap_macs(std::uint8_t* eth) {
  std::uint8_t tmp[6];
  std::memcpy(tmp, eth, 6);
  std::memcpy(eth, eth + 6, 6);
  std::memcpy(eth + 6, tmp, 6);
}

}  // namespace

void write_echo_reply(std::span<std::byte> frame, const ParsedPacket& request, std::uint8_t ttl) {
  auto* base = reinterpret_cast<std::uint8_t*>(frame.data());
  swap_macs(base);
  std::uint8_t* ip = base + request.l3_offset;
  std::uint8_t* icmp = base + request.l4_offset;
  const std::span<std::byte> message = frame.subspan(request.l4_offset);
  if (request.l3 == L3Kind::ipv4) {
    std::uint8_t tmp[4];
    std::memcpy(tmp, ip + 12, 4);
    std::memcpy(ip + 12, ip + 16, 4);
    std::memcpy(ip + 16, tmp, 4);
    ip[8] = ttl;
    store_be16(ip + 10, 0);
    const std::size_t ihl = static_cast<std::size_t>(ip[0] & 0x0F) * 4;
    store_be16(ip + 10, ipv4_header_checksum(frame.subspan(request.l3_offset, ihl)));
    icmp[0] = kIcmpEchoReply;
    store_be16(icmp + 2, 0);
    store_be16(icmp + 2, internet_checksum(message));
  } else {
    std::uint8_t tmp[16];
    std::memcpy(tmp, ip + 8, 16);
    std::memcpy(ip + 8, ip + 24, 16);
    std::memcpy(ip + 24, tmp, 16);
    ip[7] = ttl;
    icmp[0] = kIcmp6EchoReply;
    store_be16(icmp + 2, 0);
    store_be16(icmp + 2, l4_checksum_v6(*reinterpret_cast<const std::uint8_t(*)[16]>(ip + 8),
                                        *reinterpret_cast<const std::uint8_t(*)[16]>(ip + 24),
                                        kIpProtoIcmpv6, message));
  }
}

void write_too_big(std::span<std::byte> frame, std::span<const std::byte> l2_header,
                   const TooBigParams& p) {
  auto* base = reinterpret_cast<std::uint8_t*>(frame.data());
  const std::size_t l2 = l2_header.size();
  std::memcpy(base, l2_header.data(), l2);
  swap_macs(base);
  std::uint8_t* ip = base + l2;
  const std::size_t datagram = frame.size() - l2;
  if (p.family == AddressFamily::v4) {
    ip[0] = 0x45;
    ip[1] = 0;
    store_be16(ip + 2, static_cast<std::uint16_t>(datagram));
    store_be32(ip + 4, 0);  // id 0, no flags
    ip[8] = p.ttl;
    ip[9] = kIpProtoIcmp;
    store_be16(ip + 10, 0);
    std::memcpy(ip + 12, p.src, 4);
    std::memcpy(ip + 16, p.dst, 4);
    store_be16(ip + 10, ipv4_header_checksum(frame.subspan(l2, 20)));
    std::uint8_t* icmp = ip + 20;
    icmp[0] = kIcmpDestUnreachable;
    icmp[1] = kIcmpCodeFragNeeded;
    store_be16(icmp + 2, 0);
    store_be16(icmp + 4, 0);
    store_be16(icmp + 6, static_cast<std::uint16_t>(std::min<std::uint32_t>(p.mtu, 0xFFFF)));
    store_be16(icmp + 2, internet_checksum(frame.subspan(l2 + 20)));
  } else {
    store_be32(ip, 6u << 28);
    store_be16(ip + 4, static_cast<std::uint16_t>(datagram - 40));
    ip[6] = kIpProtoIcmpv6;
    ip[7] = p.ttl;
    std::memcpy(ip + 8, p.src, 16);
    std::memcpy(ip + 24, p.dst, 16);
    std::uint8_t* icmp = ip + 40;
    icmp[0] = kIcmp6PacketTooBig;
    icmp[1] = 0;
    store_be16(icmp + 2, 0);
    store_be32(icmp + 4, p.mtu);
    store_be16(icmp + 2, l4_checksum_v6(*reinterpret_cast<const std::uint8_t(*)[16]>(p.src),
                                        *reinterpret_cast<const std::uint8_t(*)[16]>(p.dst),
                                        kIpProtoIcmpv6, frame.subspan(l2 + 40)));
  }
}

}  // namespace sluice::pipeline

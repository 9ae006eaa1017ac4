#include "sluice/net/parse.hpp"

#include <algorithm>
#include <cstring>

#include "sluice/net/headers.hpp"

namespace sluice::net {
namespace {

using Bytes = std::span<const std::byte>;
using Drop = std::optional<DropReason>;

constexpr std::size_t kMaxFrameLength = 65535;  // every offset fits ParsedPacket's 16 bits
constexpr std::uint32_t kMaxDatagramLength = 65535;
// RFC 1858: a TCP fragment at offset 8 can only rewrite the first fragment's TCP flags.
constexpr std::uint32_t kTcpOverlapFragmentOffset = 8;

constexpr bool is_vlan_tpid(std::uint16_t ethertype) {
  return ethertype == kEtherTypeVlan || ethertype == kEtherTypeQinQ;
}

constexpr bool is_icmp_for(AddressFamily family, std::uint8_t protocol) {
  return family == AddressFamily::v4 ? protocol == kIpProtoIcmp : protocol == kIpProtoIcmpv6;
}

constexpr bool has_ports(std::uint8_t protocol) {
  return protocol == kIpProtoTcp || protocol == kIpProtoUdp;
}

// Checks shared by IPv4 and IPv6 fragments. `payload` is the fragment's data; `reassembled_end`
// is how far the reassembled datagram's length field would have to reach.
constexpr bool fragment_is_possible(std::uint32_t offset, bool more_fragments, std::size_t payload,
                                    std::uint8_t protocol, std::size_t reassembled_end) {
  if (reassembled_end > kMaxDatagramLength) return false;                  // past 64 KiB
  if (more_fragments && (payload == 0 || payload % 8 != 0)) return false;  // RFC 791 / 8200
  if (protocol == kIpProtoTcp && offset == kTcpOverlapFragmentOffset) return false;
  return true;
}

// Starts a fresh key with the addresses; the protocol and ports come later.
void set_v4_addresses(FlowKey& key, const Ipv4Header& ip) {
  key = FlowKey{};
  key.family = AddressFamily::v4;
  std::memcpy(key.src_addr.data(), ip.src, sizeof(ip.src));
  std::memcpy(key.dst_addr.data(), ip.dst, sizeof(ip.dst));
}

void set_v6_addresses(FlowKey& key, const Ipv6Header& ip) {
  key = FlowKey{};
  key.family = AddressFamily::v6;
  std::memcpy(key.src_addr.data(), ip.src, sizeof(ip.src));
  std::memcpy(key.dst_addr.data(), ip.dst, sizeof(ip.dst));
}

void set_ports(FlowKey& key, Bytes bytes, std::size_t l4_offset) {
  // Callers checked that 4 bytes are present.
  key.src_port = load_be16(&bytes[l4_offset]);
  key.dst_port = load_be16(&bytes[l4_offset + 2]);
}

// Where the IPv6 extension-header chain ends.
struct Ipv6Chain {
  std::uint8_t protocol = 0;  // upper-layer protocol
  std::size_t l4_offset = 0;
  FragmentKind fragment = FragmentKind::none;
  std::uint32_t fragment_id = 0;
  bool has_extensions = false;  // other than a lone fragment header
};

// Walks the chain starting at `offset` (just past the fixed header) inside `datagram`. A quoted
// packet (inside an ICMP error) is cut short on purpose, so fragment payload checks are skipped.
Drop walk_ipv6_chain(Bytes datagram, std::size_t offset, std::uint8_t next_header, bool quoted,
                     Ipv6Chain& chain) {
  bool seen_fragment = false;
  for (int count = 0;; ++count) {
    const bool is_extension = next_header == kIpProtoHopByHop || next_header == kIpProtoRouting ||
                              next_header == kIpProtoDestinationOptions ||
                              next_header == kIpProtoFragment;
    if (!is_extension) break;
    if (count == kMaxIpv6ExtensionHeaders) return DropReason::ipv6_ext_chain_too_long;

    if (next_header == kIpProtoFragment) {
      const auto* frag = header_at<Ipv6FragmentHeader>(datagram, offset);
      if (frag == nullptr) return DropReason::ipv6_ext_truncated;
      if (seen_fragment) return DropReason::ipv6_bad_fragment;
      seen_fragment = true;
      offset += sizeof(Ipv6FragmentHeader);
      next_header = frag->next_header;
      const std::uint32_t frag_offset = frag->fragment_offset_bytes();
      if (frag_offset == 0 && !frag->more_fragments()) continue;  // atomic fragment, RFC 6946
      const std::size_t payload = datagram.size() - offset;
      if (!quoted && !fragment_is_possible(frag_offset, frag->more_fragments(), payload,
                                           next_header, frag_offset + payload)) {
        return DropReason::ipv6_bad_fragment;
      }
      chain.fragment_id = frag->identification.get();
      if (frag_offset != 0) {
        chain.fragment = FragmentKind::non_first;
        break;  // the rest of the chain and the L4 header are in the first fragment
      }
      chain.fragment = FragmentKind::first;
      continue;
    }

    if (next_header == kIpProtoHopByHop && count != 0) {
      return DropReason::ipv6_misplaced_hop_by_hop;
    }
    // Hop-by-hop, routing and destination options share next-header and length bytes.
    const auto* ext = header_at<Ipv6OptionsHeader>(datagram, offset);
    if (ext == nullptr || ext->header_length() > datagram.size() - offset) {
      return DropReason::ipv6_ext_truncated;
    }
    chain.has_extensions = true;
    offset += ext->header_length();
    next_header = ext->next_header;
  }
  chain.protocol = next_header;
  chain.l4_offset = offset;
  return std::nullopt;
}

// The packet quoted by an ICMP error: its IP header and the first 8 bytes of its L4 header.
// Its length fields describe the original packet, which the quote may cut short: only the
// header itself and the 8 L4 bytes must be present.
bool parse_quoted(Bytes message, std::size_t offset, AddressFamily family, FlowKey& key) {
  if (family == AddressFamily::v4) {
    const auto* ip = header_at<Ipv4Header>(message, offset);
    if (ip == nullptr || ip->version() != 4 || ip->ihl() < 5) return false;
    const std::size_t header_length = ip->header_length();
    if (header_length > message.size() - offset) return false;
    if (ip->total_length.get() < header_length) return false;
    set_v4_addresses(key, *ip);
    key.protocol = ip->protocol;
    if (ip->fragment_offset_bytes() != 0) return true;  // no L4 header quoted
    const std::size_t l4 = offset + header_length;
    if (message.size() - l4 < 8) return false;
    if (has_ports(key.protocol)) set_ports(key, message, l4);
    return true;
  }
  const auto* ip = header_at<Ipv6Header>(message, offset);
  if (ip == nullptr || ip->version() != 6) return false;
  set_v6_addresses(key, *ip);
  Ipv6Chain chain;
  if (walk_ipv6_chain(message, offset + sizeof(Ipv6Header), ip->next_header, /*quoted=*/true,
                      chain)) {
    return false;
  }
  key.protocol = chain.protocol;
  if (chain.fragment == FragmentKind::non_first) return true;
  if (message.size() - chain.l4_offset < 8) return false;
  if (has_ports(key.protocol)) set_ports(key, message, chain.l4_offset);
  return true;
}

bool is_icmp_error(AddressFamily family, std::uint8_t type) {
  if (family == AddressFamily::v4) {
    return type == kIcmpDestUnreachable || type == kIcmpTimeExceeded || type == kIcmpParamProblem;
  }
  return type == kIcmp6DestUnreachable || type == kIcmp6PacketTooBig ||
         type == kIcmp6TimeExceeded || type == kIcmp6ParamProblem;
}

Drop parse_icmp(Bytes datagram, std::size_t l4, ParsedPacket& p) {
  const auto* icmp = header_at<IcmpHeader>(datagram, l4);
  if (icmp == nullptr) return DropReason::icmp_truncated;
  const bool v4 = p.key.family == AddressFamily::v4;
  IcmpInfo& info = p.icmp;
  info.type = icmp->type;
  info.code = icmp->code;
  p.payload_offset = static_cast<std::uint16_t>(l4 + sizeof(IcmpHeader));
  p.payload_length = static_cast<std::uint16_t>(datagram.size() - p.payload_offset);

  const std::uint8_t echo_request = v4 ? kIcmpEchoRequest : kIcmp6EchoRequest;
  const std::uint8_t echo_reply = v4 ? kIcmpEchoReply : kIcmp6EchoReply;
  if (icmp->type == echo_request || icmp->type == echo_reply) {
    info.is_echo_request = icmp->type == echo_request;
    info.echo_identifier = icmp->echo_identifier();
    return std::nullopt;
  }
  if (!is_icmp_error(p.key.family, icmp->type)) return std::nullopt;

  info.is_error = true;
  info.embedded_offset = p.payload_offset;
  if (v4 && icmp->type == kIcmpDestUnreachable && icmp->code == kIcmpCodeFragNeeded) {
    info.mtu = icmp->next_hop_mtu();
  } else if (!v4 && icmp->type == kIcmp6PacketTooBig) {
    info.mtu = icmp->mtu();
  }
  if (!parse_quoted(datagram, info.embedded_offset, p.key.family, info.embedded)) {
    return DropReason::icmp_inner_malformed;
  }
  return std::nullopt;
}

// `datagram` ends where the IP datagram ends, so nothing below sees Ethernet padding.
Drop parse_l4(Bytes datagram, std::size_t l4, ParsedPacket& p) {
  const std::size_t available = datagram.size() - l4;
  p.l4_offset = static_cast<std::uint16_t>(l4);
  p.payload_offset = p.l4_offset;
  p.payload_length = static_cast<std::uint16_t>(available);
  if (p.fragment == FragmentKind::non_first) return std::nullopt;  // no L4 header here

  switch (p.key.protocol) {
    case kIpProtoTcp: {
      const auto* tcp = header_at<TcpHeader>(datagram, l4);
      if (tcp == nullptr) return DropReason::tcp_truncated;
      if (tcp->data_offset() < 5 || tcp->header_length() > available) {
        return DropReason::tcp_bad_data_offset;
      }
      set_ports(p.key, datagram, l4);
      p.tcp_flags = tcp->flags;
      p.payload_offset = static_cast<std::uint16_t>(l4 + tcp->header_length());
      p.payload_length = static_cast<std::uint16_t>(available - tcp->header_length());
      return std::nullopt;
    }
    case kIpProtoUdp: {
      const auto* udp = header_at<UdpHeader>(datagram, l4);
      if (udp == nullptr) return DropReason::udp_truncated;
      const std::size_t length = udp->length.get();
      // A first fragment's UDP length counts the whole datagram, not this fragment.
      const bool whole = p.fragment == FragmentKind::none;
      if (length < sizeof(UdpHeader) || (whole && length > available)) {
        return DropReason::udp_bad_length;
      }
      set_ports(p.key, datagram, l4);
      p.payload_offset = static_cast<std::uint16_t>(l4 + sizeof(UdpHeader));
      p.payload_length =
          static_cast<std::uint16_t>(std::min(length, available) - sizeof(UdpHeader));
      return std::nullopt;
    }
    default:
      if (is_icmp_for(p.key.family, p.key.protocol)) return parse_icmp(datagram, l4, p);
      return std::nullopt;
  }
}

Drop parse_ipv4(Bytes frame, std::size_t l3, ParsedPacket& p) {
  const auto* ip = header_at<Ipv4Header>(frame, l3);
  if (ip == nullptr) return DropReason::ipv4_truncated;
  if (ip->version() != 4) return DropReason::ipv4_bad_version;
  const std::size_t available = frame.size() - l3;
  const std::size_t header_length = ip->header_length();
  if (ip->ihl() < 5 || header_length > available) return DropReason::ipv4_bad_ihl;
  const std::size_t total_length = ip->total_length.get();
  if (total_length < header_length || total_length > available) {
    return DropReason::ipv4_bad_total_length;
  }

  p.l3 = L3Kind::ipv4;
  p.l3_length = static_cast<std::uint16_t>(total_length);
  p.ttl = ip->ttl;
  p.tos = ip->tos;
  p.has_ipv4_options = header_length > sizeof(Ipv4Header);
  p.fragment_id = ip->id.get();
  set_v4_addresses(p.key, *ip);
  p.key.protocol = ip->protocol;

  if (ip->is_fragment()) {
    const std::uint32_t offset = ip->fragment_offset_bytes();
    if (!fragment_is_possible(offset, ip->more_fragments(), total_length - header_length,
                              ip->protocol, offset + total_length)) {
      return DropReason::ipv4_bad_fragment;
    }
    p.fragment = offset == 0 ? FragmentKind::first : FragmentKind::non_first;
  }
  return parse_l4(frame.first(l3 + total_length), l3 + header_length, p);
}

Drop parse_ipv6(Bytes frame, std::size_t l3, ParsedPacket& p) {
  const auto* ip = header_at<Ipv6Header>(frame, l3);
  if (ip == nullptr) return DropReason::ipv6_truncated;
  if (ip->version() != 6) return DropReason::ipv6_bad_version;
  const std::size_t length = sizeof(Ipv6Header) + ip->payload_length.get();
  if (length > frame.size() - l3) return DropReason::ipv6_bad_payload_length;

  p.l3 = L3Kind::ipv6;
  p.l3_length = static_cast<std::uint16_t>(length);
  p.ttl = ip->hop_limit;
  p.tos = ip->traffic_class();
  set_v6_addresses(p.key, *ip);

  const Bytes datagram = frame.first(l3 + length);
  Ipv6Chain chain;
  if (Drop drop = walk_ipv6_chain(datagram, l3 + sizeof(Ipv6Header), ip->next_header,
                                  /*quoted=*/false, chain)) {
    return drop;
  }
  p.key.protocol = chain.protocol;
  p.fragment = chain.fragment;
  p.fragment_id = chain.fragment_id;
  p.has_ipv6_extensions = chain.has_extensions;
  return parse_l4(datagram, chain.l4_offset, p);
}

Drop parse_frame(Bytes frame, ParsedPacket& p) {
  if (frame.size() > kMaxFrameLength) return DropReason::l2_too_long;
  const auto* eth = header_at<EthernetHeader>(frame, 0);
  if (eth == nullptr) return DropReason::l2_truncated;
  std::size_t l3 = sizeof(EthernetHeader);
  std::uint16_t ethertype = eth->ethertype.get();
  if (is_vlan_tpid(ethertype)) {
    const auto* tag = header_at<VlanTag>(frame, l3);
    if (tag == nullptr) return DropReason::l2_truncated;
    ethertype = tag->ethertype.get();
    if (is_vlan_tpid(ethertype)) return DropReason::l2_double_vlan;
    p.has_vlan = true;
    p.vlan_tci = tag->tci.get();
    l3 += sizeof(VlanTag);
  }
  p.ethertype = ethertype;
  p.l3_offset = p.l4_offset = p.payload_offset = static_cast<std::uint16_t>(l3);

  switch (ethertype) {
    case kEtherTypeIpv4:
      return parse_ipv4(frame, l3, p);
    case kEtherTypeIpv6:
      return parse_ipv6(frame, l3, p);
    default:
      p.l3 = L3Kind::other;
      return std::nullopt;
  }
}

}  // namespace

ParseResult parse(std::span<const std::byte> frame) {
  ParseResult result;
  result.drop = parse_frame(frame, result.packet);
  return result;
}

}  // namespace sluice::net

#include "sluice/net/builder.hpp"

#include <cstdlib>
#include <cstring>

#include "sluice/net/checksum.hpp"

namespace sluice::net {
namespace {

// resize + memcpy rather than vector::insert: GCC 12 reports a false -Wstringop-overflow there.
void append(ByteBuffer& out, std::span<const std::byte> bytes) {
  if (bytes.empty()) return;
  const std::size_t old_size = out.size();
  out.resize(old_size + bytes.size());
  std::memcpy(out.data() + old_size, bytes.data(), bytes.size());
}

template <typename Header>
void append_header(ByteBuffer& out, const Header& header) {
  append(out, std::span{reinterpret_cast<const std::byte*>(&header), sizeof(Header)});
}

ByteBuffer padded_to(ByteBuffer bytes, std::size_t multiple) {
  bytes.resize((bytes.size() + multiple - 1) / multiple * multiple, std::byte{0});
  return bytes;
}

// Addresses and family of the IP header that carries an L4 segment, for its checksum.
struct PseudoHeader {
  bool v6 = false;
  std::uint8_t src4[4] = {};
  std::uint8_t dst4[4] = {};
  std::uint8_t src6[16] = {};
  std::uint8_t dst6[16] = {};

  static PseudoHeader of(const Ipv4Spec& ip) {
    PseudoHeader ph;
    std::memcpy(ph.src4, ip.src.bytes.data(), 4);
    std::memcpy(ph.dst4, ip.dst.bytes.data(), 4);
    return ph;
  }
  static PseudoHeader of(const Ipv6Spec& ip) {
    PseudoHeader ph;
    ph.v6 = true;
    std::memcpy(ph.src6, ip.src.bytes.data(), 16);
    std::memcpy(ph.dst6, ip.dst.bytes.data(), 16);
    return ph;
  }
  std::uint16_t checksum(std::uint8_t protocol, std::span<const std::byte> segment) const {
    return v6 ? l4_checksum_v6(src6, dst6, protocol, segment)
              : l4_checksum_v4(src4, dst4, protocol, segment);
  }
};

std::uint8_t protocol_of(const L4Spec& l4, bool v6) {
  struct Visitor {
    bool v6;
    std::uint8_t operator()(const TcpSpec&) const { return kIpProtoTcp; }
    std::uint8_t operator()(const UdpSpec&) const { return kIpProtoUdp; }
    std::uint8_t operator()(const IcmpSpec&) const { return v6 ? kIpProtoIcmpv6 : kIpProtoIcmp; }
    std::uint8_t operator()(const RawL4& raw) const { return raw.protocol; }
  };
  return std::visit(Visitor{v6}, l4);
}

// Writes the computed checksum into the 16-bit field at `offset` unless it is overridden.
void finish_checksum(ByteBuffer& segment, std::size_t offset, std::optional<std::uint16_t> fixed,
                     std::uint16_t computed) {
  auto* field = reinterpret_cast<std::uint8_t*>(segment.data() + offset);
  store_be16(field, fixed.value_or(computed));
}

ByteBuffer build_tcp(const TcpSpec& spec, std::span<const std::byte> payload,
                     const PseudoHeader& ph) {
  const ByteBuffer options = padded_to(spec.options, 4);
  TcpHeader tcp{};
  tcp.src_port.set(spec.src_port);
  tcp.dst_port.set(spec.dst_port);
  tcp.seq.set(spec.seq);
  tcp.ack.set(spec.ack);
  tcp.set_data_offset(spec.data_offset.value_or(
      static_cast<std::uint8_t>((sizeof(TcpHeader) + options.size()) / 4)));
  tcp.flags = spec.flags;
  tcp.window.set(spec.window);
  ByteBuffer segment;
  append_header(segment, tcp);
  append(segment, options);
  append(segment, payload);
  finish_checksum(segment, offsetof(TcpHeader, checksum), spec.checksum,
                  ph.checksum(kIpProtoTcp, segment));
  return segment;
}

ByteBuffer build_udp(const UdpSpec& spec, std::span<const std::byte> payload,
                     const PseudoHeader& ph) {
  UdpHeader udp{};
  udp.src_port.set(spec.src_port);
  udp.dst_port.set(spec.dst_port);
  udp.length.set(
      spec.length.value_or(static_cast<std::uint16_t>(sizeof(UdpHeader) + payload.size())));
  ByteBuffer segment;
  append_header(segment, udp);
  append(segment, payload);
  const std::uint16_t computed = ph.checksum(kIpProtoUdp, segment);
  finish_checksum(segment, offsetof(UdpHeader, checksum), spec.checksum,
                  computed == 0 ? 0xFFFF : computed);  // 0 would mean "no checksum"
  return segment;
}

ByteBuffer build_icmp(const IcmpSpec& spec, std::span<const std::byte> payload,
                      const PseudoHeader& ph) {
  IcmpHeader icmp{};
  icmp.type = spec.type.value_or(ph.v6 ? kIcmp6EchoRequest : kIcmpEchoRequest);
  icmp.code = spec.code;
  icmp.rest.set(spec.rest);
  ByteBuffer message;
  append_header(message, icmp);
  append(message, spec.quoted);
  append(message, payload);
  const std::uint16_t computed =
      ph.v6 ? ph.checksum(kIpProtoIcmpv6, message) : internet_checksum(message);
  finish_checksum(message, offsetof(IcmpHeader, checksum), spec.checksum, computed);
  return message;
}

ByteBuffer build_l4(const L4Spec& l4, std::span<const std::byte> payload, const PseudoHeader& ph) {
  if (const auto* tcp = std::get_if<TcpSpec>(&l4)) return build_tcp(*tcp, payload, ph);
  if (const auto* udp = std::get_if<UdpSpec>(&l4)) return build_udp(*udp, payload, ph);
  if (const auto* icmp = std::get_if<IcmpSpec>(&l4)) return build_icmp(*icmp, payload, ph);
  return ByteBuffer(payload.begin(), payload.end());
}

ByteBuffer build_ipv4(const Ipv4Spec& spec, std::span<const std::byte> segment,
                      std::uint8_t protocol) {
  const ByteBuffer options = padded_to(spec.options, 4);
  const std::size_t header_length = sizeof(Ipv4Header) + options.size();
  Ipv4Header ip{};
  ip.set_version_ihl(spec.version.value_or(4),
                     spec.ihl.value_or(static_cast<std::uint8_t>(header_length / 4)));
  ip.tos = spec.tos;
  ip.total_length.set(
      spec.total_length.value_or(static_cast<std::uint16_t>(header_length + segment.size())));
  ip.id.set(spec.id);
  ip.set_fragment(spec.dont_fragment, spec.more_fragments, spec.fragment_offset);
  ip.ttl = spec.ttl;
  ip.protocol = spec.protocol.value_or(protocol);
  std::memcpy(ip.src, spec.src.bytes.data(), 4);
  std::memcpy(ip.dst, spec.dst.bytes.data(), 4);
  ByteBuffer datagram;
  append_header(datagram, ip);
  append(datagram, options);
  finish_checksum(datagram, offsetof(Ipv4Header, checksum), spec.checksum,
                  ipv4_header_checksum(datagram));
  append(datagram, segment);
  return datagram;
}

// Fills an options header body with one PadN (or Pad1) option so it is well formed.
void pad_options(ByteBuffer& header) {
  const std::size_t pad = header.size() - 2;
  if (pad == 1) return;      // Pad1 is a zero byte, already there
  header[2] = std::byte{1};  // PadN
  header[3] = static_cast<std::byte>(pad - 2);
}

ByteBuffer build_extension(const Ipv6Extension& ext, std::uint8_t next_header) {
  const std::uint8_t next = ext.next_header.value_or(next_header);
  ByteBuffer out;
  if (ext.type == kIpProtoFragment) {
    Ipv6FragmentHeader frag{};
    frag.next_header = next;
    frag.set_fragment(ext.fragment_offset, ext.more_fragments);
    frag.identification.set(ext.identification);
    append_header(out, frag);
    return out;
  }
  const std::size_t length = ext.length < 8 ? 8 : (ext.length + 7) / 8 * 8;
  out.resize(length, std::byte{0});
  out[0] = std::byte{next};
  out[1] =
      static_cast<std::byte>(ext.length_field.value_or(static_cast<std::uint8_t>(length / 8 - 1)));
  if (ext.type == kIpProtoRouting) {
    out[2] = std::byte{ext.routing_type};
    out[3] = std::byte{ext.segments_left};
  } else {
    pad_options(out);
  }
  return out;
}

ByteBuffer build_ipv6(const Ipv6Spec& spec, std::span<const std::byte> segment,
                      std::uint8_t protocol) {
  ByteBuffer extensions;
  for (std::size_t i = 0; i < spec.extensions.size(); ++i) {
    const std::uint8_t next =
        i + 1 < spec.extensions.size() ? spec.extensions[i + 1].type : protocol;
    append(extensions, build_extension(spec.extensions[i], next));
  }
  Ipv6Header ip{};
  ip.set_version_class_flow(spec.version.value_or(6), spec.traffic_class, spec.flow_label);
  ip.payload_length.set(
      spec.payload_length.value_or(static_cast<std::uint16_t>(extensions.size() + segment.size())));
  const std::uint8_t first = spec.extensions.empty() ? protocol : spec.extensions.front().type;
  ip.next_header = spec.next_header.value_or(first);
  ip.hop_limit = spec.hop_limit;
  std::memcpy(ip.src, spec.src.bytes.data(), 16);
  std::memcpy(ip.dst, spec.dst.bytes.data(), 16);
  ByteBuffer datagram;
  append_header(datagram, ip);
  append(datagram, extensions);
  append(datagram, segment);
  return datagram;
}

std::size_t ip_headers_length(const IpSpec& ip) {
  if (const auto* v4 = std::get_if<Ipv4Spec>(&ip)) {
    return sizeof(Ipv4Header) + padded_to(v4->options, 4).size();
  }
  if (const auto* v6 = std::get_if<Ipv6Spec>(&ip)) {
    std::size_t length = sizeof(Ipv6Header);
    for (const auto& ext : v6->extensions) {
      length += build_extension(ext, 0).size();
    }
    return length;
  }
  return 0;
}

}  // namespace

IpAddress address(std::string_view text) {
  const auto parsed = IpAddress::parse(text);
  if (!parsed) std::abort();  // a typo in a test literal
  return *parsed;
}

ByteBuffer bytes_of(std::string_view text) {
  ByteBuffer out(text.size());
  std::memcpy(out.data(), text.data(), text.size());
  return out;
}

ByteBuffer concat(std::span<const std::byte> a, std::span<const std::byte> b) {
  ByteBuffer out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

Ipv6Extension hop_by_hop(std::size_t length) {
  return Ipv6Extension{.type = kIpProtoHopByHop, .length = length};
}
Ipv6Extension routing_header(std::size_t length, std::uint8_t segments_left) {
  return Ipv6Extension{.type = kIpProtoRouting, .length = length, .segments_left = segments_left};
}
Ipv6Extension destination_options(std::size_t length) {
  return Ipv6Extension{.type = kIpProtoDestinationOptions, .length = length};
}
Ipv6Extension fragment_header(std::uint32_t offset, bool more_fragments,
                              std::uint32_t identification) {
  return Ipv6Extension{.type = kIpProtoFragment,
                       .fragment_offset = offset,
                       .more_fragments = more_fragments,
                       .identification = identification};
}

IcmpSpec icmp_echo_request(std::uint16_t identifier, std::uint16_t sequence) {
  return IcmpSpec{.rest = (std::uint32_t{identifier} << 16) | sequence};
}
IcmpSpec icmp_echo_reply(std::uint16_t identifier, std::uint16_t sequence, bool v6) {
  return IcmpSpec{.type = v6 ? kIcmp6EchoReply : kIcmpEchoReply,
                  .rest = (std::uint32_t{identifier} << 16) | sequence};
}
IcmpSpec icmp_error(std::uint8_t type, std::uint8_t code, ByteBuffer quoted, std::uint32_t rest) {
  return IcmpSpec{.type = type, .code = code, .rest = rest, .quoted = std::move(quoted)};
}
IcmpSpec icmp_frag_needed(std::uint16_t next_hop_mtu, ByteBuffer quoted) {
  return icmp_error(kIcmpDestUnreachable, kIcmpCodeFragNeeded, std::move(quoted), next_hop_mtu);
}
IcmpSpec icmp6_packet_too_big(std::uint32_t mtu, ByteBuffer quoted) {
  return icmp_error(kIcmp6PacketTooBig, 0, std::move(quoted), mtu);
}

ByteBuffer build_packet(const PacketSpec& spec) {
  if (const auto* v4 = std::get_if<Ipv4Spec>(&spec.ip)) {
    const ByteBuffer segment = build_l4(spec.l4, spec.payload, PseudoHeader::of(*v4));
    return build_ipv4(*v4, segment, protocol_of(spec.l4, false));
  }
  if (const auto* v6 = std::get_if<Ipv6Spec>(&spec.ip)) {
    const ByteBuffer segment = build_l4(spec.l4, spec.payload, PseudoHeader::of(*v6));
    return build_ipv6(*v6, segment, protocol_of(spec.l4, true));
  }
  return spec.payload;
}

ByteBuffer build_frame(const FrameSpec& spec) {
  std::uint16_t ethertype = kEtherTypeArp;
  if (std::holds_alternative<Ipv4Spec>(spec.ip)) ethertype = kEtherTypeIpv4;
  if (std::holds_alternative<Ipv6Spec>(spec.ip)) ethertype = kEtherTypeIpv6;
  ethertype = spec.ethernet.ethertype.value_or(ethertype);

  ByteBuffer frame;
  EthernetHeader eth{};
  eth.dst = spec.ethernet.dst;
  eth.src = spec.ethernet.src;
  const EthernetSpec& l2 = spec.ethernet;
  eth.ethertype.set(l2.vlan_tci ? l2.vlan_tpid : ethertype);
  append_header(frame, eth);
  if (l2.vlan_tci) {
    VlanTag tag{};
    tag.tci.set(*l2.vlan_tci);
    tag.ethertype.set(l2.second_vlan_tci ? l2.vlan_tpid : ethertype);
    append_header(frame, tag);
  }
  if (l2.vlan_tci && l2.second_vlan_tci) {
    VlanTag inner{};
    inner.tci.set(*l2.second_vlan_tci);
    inner.ethertype.set(ethertype);
    append_header(frame, inner);
  }
  append(frame, build_packet(PacketSpec{.ip = spec.ip, .l4 = spec.l4, .payload = spec.payload}));
  frame.resize(frame.size() + spec.padding, std::byte{0});
  if (spec.truncate_to && *spec.truncate_to < frame.size()) frame.resize(*spec.truncate_to);
  return frame;
}

ByteBuffer quote(const PacketSpec& offending, std::size_t l4_bytes) {
  ByteBuffer packet = build_packet(offending);
  const std::size_t length = ip_headers_length(offending.ip) + l4_bytes;
  if (length < packet.size()) packet.resize(length);
  return packet;
}

ByteBuffer gue_header(std::uint8_t protocol, std::uint8_t extension_words, bool control,
                      std::uint16_t flags, std::uint8_t version) {
  GueHeader gue{};
  gue.set_version_control_hlen(version, control, extension_words);
  gue.protocol = protocol;
  gue.flags.set(flags);
  ByteBuffer out(sizeof(GueHeader) + std::size_t{extension_words} * 4, std::byte{0});
  std::memcpy(out.data(), &gue, sizeof(GueHeader));
  return out;
}

}  // namespace sluice::net

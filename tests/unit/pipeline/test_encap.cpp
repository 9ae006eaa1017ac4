#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "pipeline/encap.hpp"
#include "pipeline/icmp.hpp"
#include "sluice/net/builder.hpp"
#include "sluice/net/checksum.hpp"
#include "sluice/net/parse.hpp"

namespace sluice::pipeline {
namespace {

using namespace sluice::net;

const MacAddress kNextHop = {0x02, 0, 0, 0, 0, 0xfe};
const MacAddress kPort = {0x02, 0, 0, 0, 0, 0x01};

std::uint8_t u8(const ByteBuffer& b, std::size_t i) {
  return std::to_integer<std::uint8_t>(b[i]);
}

// Encapsulates the IP datagram of `frame` (no VLAN) the way the pipeline does.
ByteBuffer encapsulate(const ByteBuffer& frame, config::Encap encap, const IpAddress& backend,
                       const IpAddress& source, std::uint32_t hash) {
  const ParseResult inner = parse(frame);
  EXPECT_TRUE(inner.ok());
  const EncapTemplate t = make_encap_template(EncapTemplateParams{
      .encap = encap,
      .inner_family = inner.packet.key.family,
      .outer_src = source,
      .outer_dst = backend,
      .dst_mac = kNextHop,
  });
  EXPECT_EQ(t.size, encap_header_size(encap, backend.family));
  ByteBuffer out(t.size);
  out.insert(out.end(), frame.begin() + 14, frame.end());
  write_encap(out, t, kPort, hash);
  return out;
}

TEST(Encap, Ipip4in4KnownBytes) {
  const ByteBuffer frame = build_frame({
      .ip = Ipv4Spec{.src = address("198.18.2.1"),
                     .dst = address("198.18.0.10"),
                     .tos = 0x28,
                     .ttl = 60,
                     .id = 0x1234,
                     .dont_fragment = true},
      .l4 = TcpSpec{.src_port = 40000, .dst_port = 80, .flags = kTcpSyn},
  });
  const ByteBuffer out =
      encapsulate(frame, config::Encap::ipip, address("198.18.1.1"), address("198.18.0.1"), 0);
  const std::uint8_t expected_header[] = {
      0x02, 0,    0,    0,    0,   0xfe, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00,  // Ethernet
      0x45, 0x28, 0x00, 0x3c,  // version/IHL, ToS copied, total length 20 + 40
      0x12, 0x34, 0x40, 0x00,  // id copied, DF copied
      0x40, 0x04, 0x00, 0x00,  // TTL 64, protocol IPIP, checksum (checked below)
      198,  18,   0,    1,    198, 18,   1,    1};
  ASSERT_EQ(out.size(), 14 + 20 + 40u);
  for (std::size_t i = 0; i < sizeof(expected_header); ++i) {
    if (i == 24 || i == 25) continue;
    EXPECT_EQ(u8(out, i), expected_header[i]) << "byte " << i;
  }
  EXPECT_EQ(internet_checksum(std::span(out).subspan(14, 20)), 0);
  EXPECT_EQ(std::memcmp(out.data() + 34, frame.data() + 14, 40), 0) << "inner packet changed";
}

TEST(Encap, GueOverIpv6HasAValidUdpChecksumAndFlowLabel) {
  const ByteBuffer frame = build_frame({
      .ip = Ipv4Spec{.src = address("198.18.2.1"), .dst = address("198.18.0.10")},
      .l4 = UdpSpec{.src_port = 5000, .dst_port = 53},
      .payload = bytes_of("query"),
  });
  const std::uint32_t hash = 0xABCDE123;
  const IpAddress backend = address("2001:db8:1::1");
  const IpAddress source = address("2001:db8::1");
  const ByteBuffer out = encapsulate(frame, config::Encap::gue, backend, source, hash);
  ASSERT_EQ(out.size(), 14 + 40 + 8 + 4 + (frame.size() - 14));
  const ParseResult outer = parse(out);
  ASSERT_TRUE(outer.ok());
  EXPECT_EQ(outer.packet.key.protocol, kIpProtoUdp);
  EXPECT_EQ(outer.packet.key.src_port, gue_source_port(hash));
  EXPECT_EQ(outer.packet.key.src_port, 0x8000 | (hash & 0x7FFF));
  EXPECT_EQ(outer.packet.key.dst_port, 6080);
  EXPECT_EQ(outer.packet.ttl, 64);
  EXPECT_EQ(load_be32(out.data() + 14) & 0xFFFFF, hash & 0xFFFFF);
  const auto& src = *reinterpret_cast<const std::uint8_t(*)[16]>(source.bytes.data());
  const auto& dst = *reinterpret_cast<const std::uint8_t(*)[16]>(backend.bytes.data());
  EXPECT_NE(load_be16(out.data() + 54 + 6), 0);
  EXPECT_EQ(l4_checksum_v6(src, dst, kIpProtoUdp, std::span(out).subspan(54)), 0);
  // GUE variant 0, hlen 0, protocol IPIP.
  EXPECT_EQ(u8(out, 62), 0);
  EXPECT_EQ(u8(out, 63), kIpProtoIpip);
  EXPECT_EQ(std::memcmp(out.data() + 66, frame.data() + 14, frame.size() - 14), 0)
      << "inner packet changed";
}

TEST(Encap, TemplateWritesOnlyTheHeaderForEverySize) {
  const ByteBuffer v4 = build_frame({
      .ip = Ipv4Spec{.src = address("198.18.2.1"), .dst = address("198.18.0.10")},
      .l4 = TcpSpec{.dst_port = 80},
  });
  const ByteBuffer v6 = build_frame({
      .ip = Ipv6Spec{.src = address("2001:db8:2::1"), .dst = address("2001:db8::10")},
      .l4 = TcpSpec{.dst_port = 80},
  });
  for (const config::Encap encap : {config::Encap::ipip, config::Encap::gue}) {
    for (const ByteBuffer* frame : {&v4, &v6}) {
      for (const char* backend : {"198.18.1.1", "2001:db8:1::1"}) {
        const IpAddress to = address(backend);
        const IpAddress from = address(to.is_v4() ? "198.18.0.1" : "2001:db8::1");
        const ByteBuffer out = encapsulate(*frame, encap, to, from, 0x12345);
        const std::size_t header = encap_header_size(encap, to.family);
        ASSERT_EQ(out.size(), header + frame->size() - 14) << backend;
        EXPECT_EQ(std::memcmp(out.data() + header, frame->data() + 14, frame->size() - 14), 0)
            << "inner packet changed, outer " << backend;
        const ParseResult outer = parse(out);
        ASSERT_TRUE(outer.ok()) << backend;
        EXPECT_EQ(outer.packet.key.dst(), to);
        EXPECT_EQ(outer.packet.key.src(), from);
        EXPECT_EQ(outer.packet.l3_length, out.size() - 14);
        if (to.is_v4()) {
          EXPECT_EQ(internet_checksum(std::span(out).subspan(14, 20)), 0);
        }
      }
    }
  }
}

TEST(Encap, Ipv6InnerSetsDfAndCopiesTrafficClass) {
  const ByteBuffer frame = build_frame({
      .ip = Ipv6Spec{.src = address("2001:db8:2::1"),
                     .dst = address("2001:db8::10"),
                     .traffic_class = 0xB8},
      .l4 = TcpSpec{.dst_port = 443},
  });
  const ByteBuffer gue4 =
      encapsulate(frame, config::Encap::gue, address("198.18.1.1"), address("198.18.0.1"), 7);
  EXPECT_EQ(u8(gue4, 15), 0xB8);
  EXPECT_EQ(u8(gue4, 20) & 0x40, 0x40);
  EXPECT_EQ(load_be16(gue4.data() + 34 + 6), 0) << "IPv4 outer UDP checksum is 0";
  EXPECT_EQ(u8(gue4, 34 + 8 + 1), kIpProtoIpv6);
  const ByteBuffer ip6 =
      encapsulate(frame, config::Encap::ipip, address("2001:db8:1::1"), address("2001:db8::1"), 7);
  EXPECT_EQ(u8(ip6, 14 + 6), kIpProtoIpv6);
  EXPECT_EQ((load_be32(ip6.data() + 14) >> 20) & 0xFF, 0xB8u);
}

TEST(Encap, Overheads) {
  EXPECT_EQ(encap_overhead(config::Encap::ipip, AddressFamily::v4), 20u);
  EXPECT_EQ(encap_overhead(config::Encap::ipip, AddressFamily::v6), 40u);
  EXPECT_EQ(encap_overhead(config::Encap::gue, AddressFamily::v4), 32u);
  EXPECT_EQ(encap_overhead(config::Encap::gue, AddressFamily::v6), 52u);
}

TEST(Icmp, EchoReplySwapsAndRechecksums) {
  ByteBuffer frame = build_frame({
      .ip = Ipv4Spec{.src = address("198.18.2.1"), .dst = address("198.18.0.10"), .ttl = 9},
      .l4 = icmp_echo_request(7, 1),
      .payload = bytes_of("ping"),
  });
  const ParseResult req = parse(frame);
  ASSERT_TRUE(req.ok());
  write_echo_reply(frame, req.packet, 64);
  const ParseResult rep = parse(frame);
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep.packet.icmp.type, kIcmpEchoReply);
  EXPECT_EQ(rep.packet.key.src(), address("198.18.0.10"));
  EXPECT_EQ(rep.packet.key.dst(), address("198.18.2.1"));
  EXPECT_EQ(rep.packet.ttl, 64);
  EXPECT_EQ(u8(frame, 11), 0x02);  // the request's destination MAC is now the source
  EXPECT_EQ(internet_checksum(std::span(frame).subspan(14, 20)), 0);
  EXPECT_EQ(internet_checksum(std::span(frame).subspan(34)), 0);
}

TEST(Icmp, PacketTooBigQuotesTheDatagram) {
  const ByteBuffer request = build_frame({
      .ip = Ipv6Spec{.src = address("2001:db8:2::1"), .dst = address("2001:db8::10")},
      .l4 = TcpSpec{.dst_port = 443},
      .payload = ByteBuffer(1400, std::byte{0x61}),
  });
  const std::size_t quote = too_big_quote_limit(AddressFamily::v6);
  ByteBuffer out(14 + too_big_header_size(AddressFamily::v6));
  out.insert(out.end(), request.begin() + 14, request.begin() + 14 + quote);
  const IpAddress vip = address("2001:db8::10");
  const IpAddress client = address("2001:db8:2::1");
  write_too_big(out, std::span(request).first(14),
                TooBigParams{AddressFamily::v6, vip.bytes.data(), client.bytes.data(), 1460, 64});
  ASSERT_EQ(out.size(), 14 + 1280u);
  const ParseResult r = parse(out);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.packet.icmp.is_error);
  EXPECT_EQ(r.packet.icmp.type, kIcmp6PacketTooBig);
  EXPECT_EQ(r.packet.icmp.mtu, 1460u);
  EXPECT_EQ(r.packet.icmp.embedded.dst(), vip);
  const auto& s = *reinterpret_cast<const std::uint8_t(*)[16]>(vip.bytes.data());
  const auto& d = *reinterpret_cast<const std::uint8_t(*)[16]>(client.bytes.data());
  EXPECT_EQ(l4_checksum_v6(s, d, kIpProtoIcmpv6, std::span(out).subspan(54)), 0);
}

}  // namespace
}  // namespace sluice::pipeline

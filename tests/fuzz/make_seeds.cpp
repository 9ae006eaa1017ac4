// Writes two seed corpora made with the packet builder, so the seeds follow the code:
//   PARSE_DIR: one frame per shape the parser knows (and a few of its malformed neighbours);
//   PCAP_DIR:  captures of those frames as sluice-pcap reads them: pcap in both byte orders and
//              both timestamp precisions, pcapng, and the records sluice-pcap counts as
//              segmented_frame (truncated, oversized), another link type, a cut-off file.
// Usage: fuzz-seeds PARSE_DIR [PCAP_DIR]
#include <cstdio>
#include <string>
#include <vector>

#include "sluice/net/builder.hpp"

namespace sluice::net {
namespace {

std::vector<ByteBuffer> seeds() {
  const PacketSpec tcp4{.ip = Ipv4Spec{}, .l4 = TcpSpec{}};
  const PacketSpec udp6{.ip = Ipv6Spec{.extensions = {hop_by_hop()}}, .l4 = UdpSpec{}};
  return {
      build_frame({.ip = Ipv4Spec{},
                   .l4 = TcpSpec{.options = ByteBuffer(4)},
                   .payload = bytes_of("GET /")}),
      build_frame(
          {.ethernet = {.vlan_tci = 100}, .ip = Ipv4Spec{}, .l4 = UdpSpec{}, .padding = 10}),
      build_frame(
          {.ip = Ipv4Spec{.options = ByteBuffer(8)}, .l4 = UdpSpec{}, .payload = ByteBuffer(4)}),
      build_frame({.ip = Ipv4Spec{.more_fragments = true},
                   .l4 = UdpSpec{.length = 100},
                   .payload = ByteBuffer(16)}),
      build_frame(
          {.ip = Ipv4Spec{.fragment_offset = 1480}, .l4 = RawL4{}, .payload = ByteBuffer(20)}),
      build_frame({.ip = Ipv4Spec{}, .l4 = icmp_echo_request(1, 1), .payload = bytes_of("ping")}),
      build_frame({.ip = Ipv4Spec{}, .l4 = icmp_frag_needed(1400, quote(tcp4))}),
      build_frame({.ip = Ipv4Spec{}, .l4 = RawL4{.protocol = 47}, .payload = ByteBuffer(8)}),
      build_frame({.ip = Ipv6Spec{}, .l4 = TcpSpec{}, .payload = bytes_of("data")}),
      build_frame(
          {.ip = Ipv6Spec{.extensions = {hop_by_hop(), routing_header(16), destination_options()}},
           .l4 = UdpSpec{}}),
      build_frame({.ip = Ipv6Spec{.extensions = {fragment_header(0, true, 7)}},
                   .l4 = UdpSpec{},
                   .payload = ByteBuffer(8)}),
      build_frame({.ip = Ipv6Spec{.extensions = {fragment_header(1232, false, 7)}},
                   .l4 = RawL4{},
                   .payload = ByteBuffer(8)}),
      build_frame({.ip = Ipv6Spec{}, .l4 = icmp_echo_request(2, 2)}),
      build_frame({.ip = Ipv6Spec{}, .l4 = icmp6_packet_too_big(1280, quote(udp6))}),
      build_frame(
          {.ip = Ipv6Spec{}, .l4 = icmp_error(1, 4, quote({.ip = Ipv6Spec{}, .l4 = TcpSpec{}}))}),
      build_frame({.l4 = UdpSpec{.dst_port = 6080},
                   .payload = concat(gue_header(4, 1), build_packet(tcp4))}),
      build_frame({.l4 = UdpSpec{.dst_port = 6080}, .payload = build_packet(tcp4)}),
      build_frame({.ip = NoIp{}, .payload = ByteBuffer(28)}),
      build_frame({.ethernet = {.vlan_tci = 1, .second_vlan_tci = 2}}),
      build_frame({.ip = Ipv4Spec{.ihl = 4}}),
      build_frame({.ip = Ipv6Spec{.payload_length = 100}, .l4 = UdpSpec{}}),
  };
}

}  // namespace
}  // namespace sluice::net

namespace {

using sluice::net::ByteBuffer;

void put32(std::string& out, std::uint32_t v, bool big_endian) {
  for (int i = 0; i < 4; ++i) {
    const int shift = big_endian ? 24 - 8 * i : 8 * i;
    out += static_cast<char>((v >> shift) & 0xFF);
  }
}
void put16(std::string& out, std::uint16_t v, bool big_endian) {
  out += static_cast<char>(big_endian ? v >> 8 : v & 0xFF);
  out += static_cast<char>(big_endian ? v & 0xFF : v >> 8);
}

struct Record {
  ByteBuffer frame;
  std::uint32_t len = 0;  // 0: the frame's size (a whole capture)
};

// A classic pcap file (libpcap's format): global header, then each record's header and bytes.
std::string pcap_file(const std::vector<Record>& records, bool big_endian, bool nanoseconds,
                      std::uint32_t linktype = 1, std::uint32_t snaplen = 65535) {
  std::string out;
  put32(out, nanoseconds ? 0xa1b23c4du : 0xa1b2c3d4u, big_endian);
  put16(out, 2, big_endian);
  put16(out, 4, big_endian);
  put32(out, 0, big_endian);  // thiszone
  put32(out, 0, big_endian);  // sigfigs
  put32(out, snaplen, big_endian);
  put32(out, linktype, big_endian);
  std::uint32_t second = 1700000000;
  for (const Record& r : records) {
    put32(out, second++, big_endian);
    put32(out, nanoseconds ? 999999999u : 999999u, big_endian);
    put32(out, static_cast<std::uint32_t>(r.frame.size()), big_endian);
    put32(out, r.len != 0 ? r.len : static_cast<std::uint32_t>(r.frame.size()), big_endian);
    out.append(reinterpret_cast<const char*>(r.frame.data()), r.frame.size());
  }
  return out;
}

void pad4(std::string& out) {
  while (out.size() % 4 != 0)
    out += '\0';
}

// A minimal pcapng file: section header, one Ethernet interface, one enhanced packet block.
std::string pcapng_file(const ByteBuffer& frame) {
  std::string out;
  put32(out, 0x0A0D0D0A, false);  // section header block
  put32(out, 28, false);
  put32(out, 0x1A2B3C4D, false);
  put16(out, 1, false);
  put16(out, 0, false);
  put32(out, 0xFFFFFFFF, false);  // section length: unknown
  put32(out, 0xFFFFFFFF, false);
  put32(out, 28, false);
  put32(out, 1, false);  // interface description block
  put32(out, 20, false);
  put16(out, 1, false);  // Ethernet
  put16(out, 0, false);
  put32(out, 65535, false);
  put32(out, 20, false);
  const std::uint32_t padded = (static_cast<std::uint32_t>(frame.size()) + 3) & ~3u;
  const std::uint32_t length = 32 + padded;
  put32(out, 6, false);  // enhanced packet block
  put32(out, length, false);
  put32(out, 0, false);           // interface 0
  put32(out, 0x0005E0F1, false);  // timestamp (microseconds), high and low words
  put32(out, 0x2C3A6B00, false);
  put32(out, static_cast<std::uint32_t>(frame.size()), false);
  put32(out, static_cast<std::uint32_t>(frame.size()), false);
  out.append(reinterpret_cast<const char*>(frame.data()), frame.size());
  pad4(out);
  put32(out, length, false);
  return out;
}

std::vector<std::string> pcap_seeds(const std::vector<ByteBuffer>& frames) {
  std::vector<Record> some;
  for (std::size_t i = 0; i < frames.size() && i < 4; ++i)
    some.push_back({frames[i]});
  const ByteBuffer& tcp = frames.front();
  ByteBuffer oversized = sluice::net::build_frame(
      {.ip = sluice::net::Ipv4Spec{}, .l4 = sluice::net::UdpSpec{}, .payload = ByteBuffer(16400)});
  const std::string whole = pcap_file(some, false, true);
  return {
      whole,
      pcap_file(some, false, false),
      pcap_file(some, true, true),
      pcap_file({{tcp, static_cast<std::uint32_t>(tcp.size() + 100)}}, false, true),  // truncated
      pcap_file({{oversized}}, false, true),
      pcap_file({{tcp}}, false, true, 101),  // raw IP, not Ethernet
      pcap_file({{tcp}}, false, true, 1, 0),
      whole.substr(0, whole.size() - 7),  // cut off inside the last record
      pcapng_file(tcp),
  };
}

bool write_all(const std::string& dir, const std::vector<std::string>& files) {
  int index = 0;
  for (const std::string& bytes : files) {
    const std::string path = dir + "/seed-" + std::to_string(index++);
    std::FILE* f = std::fopen(path.c_str(), "wb");
    const bool ok = f != nullptr && std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    if (f != nullptr && std::fclose(f) != 0) return false;
    if (!ok) {
      std::perror(path.c_str());
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    std::fprintf(stderr, "usage: %s PARSE_DIR [PCAP_DIR]\n", argv[0]);
    return 2;
  }
  const std::vector<ByteBuffer> frames = sluice::net::seeds();
  std::vector<std::string> parse;
  for (const ByteBuffer& frame : frames)
    parse.emplace_back(reinterpret_cast<const char*>(frame.data()), frame.size());
  if (!write_all(argv[1], parse)) return 1;
  if (argc == 3 && !write_all(argv[2], pcap_seeds(frames))) return 1;
  return 0;
}

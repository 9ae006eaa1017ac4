// Writes the parser fuzzer's seed corpus: one frame per shape the parser knows (and a few of
// its malformed neighbours), made with the packet builder so the seeds follow the code.
// Usage: fuzz-seeds DIR
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

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  int index = 0;
  for (const auto& seed : sluice::net::seeds()) {
    const std::string path = std::string(argv[1]) + "/seed-" + std::to_string(index++);
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr || std::fwrite(seed.data(), 1, seed.size(), f) != seed.size()) {
      std::perror(path.c_str());
      if (f != nullptr) std::fclose(f);
      return 1;
    }
    std::fclose(f);
  }
  return 0;
}

// sluice-flowgen: writes a pcap of synthetic TCP or UDP packets over N flows to one VIP, fast
// (a template frame patched per flow with incremental checksums), for the benchmark
// (tools/bench/dataplane) and the dataplane tests. Flow i has source 198.19.0.0 + (i mod 65536)
// and source port 1024 + i / 65536, so up to 64512 * 65536 distinct flows; packets cycle
// through the flows in order.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "sluice/net/builder.hpp"
#include "sluice/net/byte_order.hpp"
#include "sluice/net/checksum.hpp"
#include "sluice/net/headers.hpp"

namespace {

using sluice::net::ByteBuffer;

constexpr std::uint32_t kSourceBase = 0xC6130000;  // 198.19.0.0
constexpr std::uint64_t kMaxFlows = 64512ull * 65536ull;

struct Args {
  std::string out;
  std::uint64_t flows = 65536;
  std::uint64_t packets = 0;  // 0: one per flow
  std::string vip = "198.18.0.10";
  std::uint16_t port = 80;
  std::string protocol = "tcp";
  bool syn = false;
  std::size_t frame_size = 64;  // Ethernet frame without FCS
};

struct PcapFile {
  std::FILE* f = nullptr;
  ~PcapFile() {
    if (f != nullptr) std::fclose(f);
  }
};

// pcap files are written in the writer's byte order (the magic number tells readers which).
template <typename T>
void put(std::vector<std::uint8_t>& out, T v) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app{"sluice-flowgen: pcap of synthetic packets over N flows to one VIP"};
  app.add_option("--out", a.out, "pcap file to write")->required();
  app.add_option("--flows", a.flows, "distinct flows")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1}, kMaxFlows));
  app.add_option("--packets", a.packets, "packets to write (0: one per flow)");
  app.add_option("--vip", a.vip, "destination address (IPv4)")->capture_default_str();
  app.add_option("--port", a.port, "destination port")->capture_default_str();
  app.add_option("--protocol", a.protocol, "tcp|udp")
      ->capture_default_str()
      ->check(CLI::IsMember({"tcp", "udp"}));
  app.add_flag("--syn", a.syn, "TCP SYN packets (default: ACK)");
  app.add_option("--frame-size", a.frame_size, "frame bytes without FCS")
      ->capture_default_str()
      ->check(CLI::Range(60, 1514));
  CLI11_PARSE(app, argc, argv);
  if (a.packets == 0) a.packets = a.flows;

  auto vip = sluice::IpAddress::parse(a.vip);
  if (!vip || !vip->is_v4()) {
    std::fprintf(stderr, "sluice-flowgen: --vip must be an IPv4 address\n");
    return 2;
  }
  const bool tcp = a.protocol == "tcp";
  const std::size_t headers = 14 + 20 + (tcp ? 20 : 8);
  sluice::net::FrameSpec spec{
      .ethernet = {.dst = {0x02, 0, 0, 0, 0, 0x01}, .src = {0x02, 0, 0, 0, 0, 0x02}},
      .ip =
          sluice::net::Ipv4Spec{
              .src = sluice::IpAddress::from_v4(kSourceBase), .dst = *vip, .dont_fragment = true},
      .l4 = sluice::net::TcpSpec{},
      .payload = ByteBuffer(a.frame_size > headers ? a.frame_size - headers : 0)};
  if (tcp) {
    spec.l4 = sluice::net::TcpSpec{.src_port = 1024,
                                   .dst_port = a.port,
                                   .flags = a.syn ? sluice::net::kTcpSyn : sluice::net::kTcpAck};
  } else {
    spec.l4 = sluice::net::UdpSpec{.src_port = 1024, .dst_port = a.port};
  }
  const ByteBuffer frame = sluice::net::build_frame(spec);
  constexpr std::size_t kIpCsum = 14 + 10, kIpSrc = 14 + 12, kSrcPort = 14 + 20;
  const std::size_t l4_csum = 14 + 20 + (tcp ? 16 : 6);
  const auto* base = reinterpret_cast<const std::uint8_t*>(frame.data());
  const std::uint16_t ip_csum0 = sluice::net::load_be16(base + kIpCsum);
  const std::uint16_t l4_csum0 = sluice::net::load_be16(base + l4_csum);

  PcapFile file{std::fopen(a.out.c_str(), "wb")};
  if (file.f == nullptr) {
    std::perror(a.out.c_str());
    return 1;
  }
  static std::vector<char> io_buffer(1 << 22);
  std::setvbuf(file.f, io_buffer.data(), _IOFBF, io_buffer.size());

  std::vector<std::uint8_t> header;
  put<std::uint32_t>(header, 0xa1b2c3d4);  // magic: microsecond timestamps
  put<std::uint16_t>(header, 2);           // version 2.4
  put<std::uint16_t>(header, 4);
  put<std::int32_t>(header, 0);       // thiszone
  put<std::uint32_t>(header, 0);      // sigfigs
  put<std::uint32_t>(header, 65535);  // snaplen
  put<std::uint32_t>(header, 1);      // LINKTYPE_ETHERNET
  std::fwrite(header.data(), 1, header.size(), file.f);

  std::vector<std::uint8_t> record(16 + frame.size());
  std::memcpy(record.data() + 16, frame.data(), frame.size());
  std::uint8_t* pkt = record.data() + 16;
  for (std::uint64_t n = 0; n < a.packets; ++n) {
    const std::uint64_t flow = n % a.flows;
    const std::uint32_t src = kSourceBase + static_cast<std::uint32_t>(flow & 0xFFFF);
    const std::uint16_t sport = static_cast<std::uint16_t>(1024 + (flow >> 16));
    sluice::net::store_be32(pkt + kIpSrc, src);
    sluice::net::store_be16(pkt + kSrcPort, sport);
    sluice::net::store_be16(pkt + kIpCsum,
                            sluice::net::checksum_update32(ip_csum0, kSourceBase, src));
    std::uint16_t l4 = sluice::net::checksum_update32(l4_csum0, kSourceBase, src);
    l4 = sluice::net::checksum_update16(l4, 1024, sport);
    if (!tcp && l4 == 0) l4 = 0xFFFF;
    sluice::net::store_be16(pkt + l4_csum, l4);
    const std::uint32_t ts_sec = static_cast<std::uint32_t>(n / 1000000);
    const std::uint32_t ts_usec = static_cast<std::uint32_t>(n % 1000000);
    const std::uint32_t len = static_cast<std::uint32_t>(frame.size());
    std::memcpy(record.data(), &ts_sec, 4);
    std::memcpy(record.data() + 4, &ts_usec, 4);
    std::memcpy(record.data() + 8, &len, 4);
    std::memcpy(record.data() + 12, &len, 4);
    if (std::fwrite(record.data(), 1, record.size(), file.f) != record.size()) {
      std::perror(a.out.c_str());
      return 1;
    }
  }
  if (std::fflush(file.f) != 0) {
    std::perror(a.out.c_str());
    return 1;
  }
  return 0;
}

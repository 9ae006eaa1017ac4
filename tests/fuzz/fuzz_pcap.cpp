// libFuzzer target for sluice-pcap's reading of captures (dataplane/pipeline/pcap/main.cpp):
// arbitrary file bytes opened by libpcap (pcap_fopen_offline on an fmemopen'd buffer, at
// nanosecond precision like sluice-pcap), every record read with pcap_next_ex and taken as
// sluice-pcap takes it (pipeline/pcap/record.hpp): a record that fits one mbuf is copied out
// in full (ASan checks that libpcap handed over caplen bytes) and parsed as the worker would.
// libpcap itself is the system's and carries no coverage instrumentation, so the search is
// guided by the seeds and by this code.
#include <pcap/pcap.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>

#include "fuzz_check.hpp"
#include "pipeline/pcap/record.hpp"
#include "sluice/net/parse.hpp"

namespace sluice::pipeline {
namespace {

void check(const std::uint8_t* data, std::size_t size) {
  std::FILE* file = ::fmemopen(const_cast<std::uint8_t*>(data), size, "rb");
  if (file == nullptr) return;  // size 0
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* capture =
      pcap_fopen_offline_with_tstamp_precision(file, PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (capture == nullptr) {
    std::fclose(file);  // libpcap closes it only once it has taken it
    return;
  }
  if (pcap_datalink(capture) == DLT_EN10MB) {  // sluice-pcap refuses other link types
    static std::array<std::byte, kMbufDataRoom> mbuf;
    pcap_pkthdr* header = nullptr;
    const u_char* bytes = nullptr;
    std::size_t records = 0;
    while (pcap_next_ex(capture, &header, &bytes) == 1) {
      // Every record has at least a 16-byte header in the file: reading always ends.
      FUZZ_CHECK(++records <= size / 16);
      FUZZ_CHECK(bytes != nullptr || header->caplen == 0);
      static_cast<void>(capture_time_ns(*header));
      if (!fits_one_mbuf(*header)) continue;  // counted as segmented_frame
      FUZZ_CHECK(header->caplen <= kMbufDataRoom && header->caplen <= size);
      if (header->caplen != 0) std::memcpy(mbuf.data(), bytes, header->caplen);
      const net::ParseResult parsed = net::parse(std::span(mbuf.data(), header->caplen));
      static_cast<void>(parsed);
    }
  }
  pcap_close(capture);  // closes the file
}

}  // namespace
}  // namespace sluice::pipeline

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sluice::pipeline::check(data, size);
  return 0;
}

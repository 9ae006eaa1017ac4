// How sluice-pcap takes one capture record, apart from DPDK (its fuzzer reads captures with the
// same checks).
#pragma once

#include <pcap/pcap.h>

#include <cstdint>

namespace sluice::pipeline {

// The largest frame one mbuf holds; longer frames would be chained by a real PMD.
inline constexpr std::uint16_t kMbufDataRoom = 16384;

// A record the pipeline can run: captured whole and within one mbuf. Any other is counted as
// segmented_frame (a truncated capture cannot be forwarded; an oversized frame would span mbufs).
[[nodiscard]] inline bool fits_one_mbuf(const pcap_pkthdr& header) {
  return header.caplen == header.len && header.caplen <= kMbufDataRoom;
}

// The record's capture time in ns (captures are opened with nanosecond precision, so tv_usec
// holds nanoseconds). Unsigned arithmetic: a pcapng timestamp far in the future wraps, never
// overflows a signed type.
[[nodiscard]] inline std::uint64_t capture_time_ns(const pcap_pkthdr& header) {
  return static_cast<std::uint64_t>(header.ts.tv_sec) * 1'000'000'000ull +
         static_cast<std::uint64_t>(header.ts.tv_usec);
}

}  // namespace sluice::pipeline

// A burst between the pipeline's two passes. Pass 1 (classify_burst) parses, classifies, hashes
// and starts fetching each flow's flow-table lines; pass 2 (complete_burst) reads them, decides
// each flow's fate and encapsulates, in input order. A worker receives its next burst before it
// runs pass 2 of this one, so the lines arrive while it receives instead of while it waits.
#pragma once

#include <array>
#include <cstdint>

#include "pipeline/classify.hpp"
#include "pipeline/limits.hpp"
#include "pipeline/scheduler.hpp"
#include "sluice/drop_reason.hpp"
#include "sluice/net/fast_parse.hpp"
#include "sluice/net/parse.hpp"

struct rte_mbuf;

namespace sluice::pipeline {

// What pass 1 found a packet to be; pass 2 acts on it.
enum class PacketClass : std::uint8_t {
  drop,        // malformed or refused: `reason`
  pass,        // not for a VIP: to the host kernel
  flow,        // TCP/UDP to a VIP
  fragment,    // an IP fragment to a VIP
  echo,        // an echo request to a VIP address
  icmp_error,  // an ICMP error about a VIP flow (key: that flow, client -> VIP)
};

// What pass 2 needs of a packet: one cache line, filled by fast_parse() for the common case
// or from the full parse.
struct alignas(64) ClassifiedPacket {
  // key: the flow (the packet's own, or the reversed embedded flow of an ICMP error).
  net::FastPacket headers;
  FlowHashes hashes;
  std::uint16_t vip = kNoVip;  // snapshot index
  std::uint16_t l3_offset = 0;
  net::L3Kind l3 = net::L3Kind::other;
  PacketClass kind = PacketClass::pass;
  DropReason reason = DropReason::no_backend;
  bool has_ipv4_options = false;
  bool has_ipv6_extensions = false;

  [[nodiscard]] const FlowKey& key() const { return headers.key; }

  // Back to the defaults above, field by field, except the key (each parse path writes the
  // whole key before it is read). Assigning a temporary would build it on the stack and copy
  // it with wide loads of bytes just stored narrow: loads the store buffer cannot forward.
  void reset() {
    headers.l3_length = 0;
    headers.tcp_flags = 0;
    hashes = FlowHashes{};
    vip = kNoVip;
    l3_offset = 0;
    l3 = net::L3Kind::other;
    kind = PacketClass::pass;
    reason = DropReason::no_backend;
    has_ipv4_options = false;
    has_ipv6_extensions = false;
  }
};
static_assert(sizeof(ClassifiedPacket) == 64);

struct ClassifiedBurst {
  std::array<ClassifiedPacket, kMaxBurst> packets;
  std::array<rte_mbuf*, kMaxBurst> mbufs{};
  std::uint16_t count = 0;  // 0: nothing classified
  std::uint64_t now = 0;    // ticks of WorkerState::ticks_per_second
  std::uint32_t now_s = 0;
};

}  // namespace sluice::pipeline

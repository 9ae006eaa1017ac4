// A burst between the pipeline's two passes. Pass 1 (plan_burst) parses, classifies, hashes
// and starts fetching each flow's flow-table lines; pass 2 (finish_burst) reads them, schedules
// and encapsulates, in input order. A worker runs pass 1 of its next burst before pass 2 of
// this one, so the lines arrive while it receives instead of while it waits.
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

// What pass 1 decided for a packet; pass 2 acts on it.
enum class Plan : std::uint8_t { drop, pass, flow, fragment, echo, icmp_error };

// What pass 2 needs of a packet: one cache line, filled by fast_parse() for the common case
// or from the full parse.
struct alignas(64) PacketPlan {
  // key: the flow (the packet's own, or the reversed embedded flow of an ICMP error).
  net::FastPacket packet;
  FlowHashes hashes;
  std::uint16_t vip = kNoVip;  // snapshot index
  std::uint16_t l3_offset = 0;
  net::L3Kind l3 = net::L3Kind::other;
  Plan plan = Plan::pass;
  DropReason reason = DropReason::no_backend;
  bool has_ipv4_options = false;
  bool has_ipv6_extensions = false;

  [[nodiscard]] const FlowKey& key() const { return packet.key; }

  // Back to the defaults above, field by field, except the key (each parse path writes the
  // whole key before it is read). Assigning a temporary would build it on the stack and copy
  // it with wide loads of bytes just stored narrow: loads the store buffer cannot forward.
  void reset() {
    packet.l3_length = 0;
    packet.tcp_flags = 0;
    hashes = FlowHashes{};
    vip = kNoVip;
    l3_offset = 0;
    l3 = net::L3Kind::other;
    plan = Plan::pass;
    reason = DropReason::no_backend;
    has_ipv4_options = false;
    has_ipv6_extensions = false;
  }
};
static_assert(sizeof(PacketPlan) == 64);

struct PlannedBurst {
  std::array<PacketPlan, kMaxBurst> plans;
  std::array<rte_mbuf*, kMaxBurst> packets{};
  std::uint16_t count = 0;  // 0: nothing planned
  std::uint32_t now_s = 0;
};

}  // namespace sluice::pipeline

// What the pipeline decided for one packet. Verdicts are data: the worker and sluice-pcap act
// on them, so live traffic and offline replay share one code path.
#pragma once

#include <cstdint>
#include <string_view>

#include "pipeline/limits.hpp"
#include "sluice/drop_reason.hpp"

namespace sluice::pipeline {

enum class Verdict : std::uint8_t {
  forward,  // encapsulated towards a backend
  pass,     // not VIP traffic: to the host kernel
  drop,     // freed and counted under `reason`
  reply,    // answered in place (echo reply, frag-needed / packet-too-big) back to the client
};
inline constexpr std::size_t kVerdictCount = 4;

[[nodiscard]] constexpr std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::forward:
      return "forward";
    case Verdict::pass:
      return "pass";
    case Verdict::drop:
      return "drop";
    case Verdict::reply:
      return "reply";
  }
  return "?";
}

// What a reply answers.
enum class ReplyKind : std::uint8_t { none, echo, too_big };

[[nodiscard]] constexpr std::string_view to_string(ReplyKind r) {
  switch (r) {
    case ReplyKind::none:
      return "";
    case ReplyKind::echo:
      return "echo";
    case ReplyKind::too_big:
      return "too_big";  // frag-needed (IPv4) / packet-too-big (IPv6): not delivered
  }
  return "?";
}

struct PacketVerdict {
  Verdict verdict = Verdict::drop;
  bool has_reason = false;  // drop: the reason counted
  DropReason reason = DropReason::no_backend;
  ReplyKind reply = ReplyKind::none;    // reply: what was answered
  BackendId backend = kNoBackendId;     // forward: the chosen backend (stable id)
  BackendId second_hop = kNoBackendId;  // forward: the previous owner named in the packet
  VipId vip = kNoVipId;                 // the VIP matched, if any
};

}  // namespace sluice::pipeline

// The backend decapsulation program (bpf/decap.bpf.c): load with a configuration, attach to
// an interface, read counters, and reach a copy attached earlier by another process.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "loader/map_layout.hpp"
#include "loader/xdp_attachment.hpp"
#include "sluice/ip_address.hpp"
#include "sluice/result.hpp"

struct decap_bpf;  // generated skeleton (decap.skel.h)

namespace sluice::bpf {

inline constexpr std::uint16_t kDefaultGuePort = 6080;

struct DecapOptions {
  std::uint16_t gue_port = kDefaultGuePort;  // UDP destination port of GUE; 0 disables GUE
  // Outer destinations to decapsulate for (this backend's tunnel endpoints). Empty: any.
  std::vector<IpAddress> tunnel_addresses{};
  // Outer sources of the Sluice load balancers: only their GUE packets that name a second hop
  // may be sent on to it. Empty: no packet is sent on.
  std::vector<IpAddress> tunnel_sources{};
};

class DecapProgram {
 public:
  [[nodiscard]] static Result<DecapProgram> load(const DecapOptions& options);

  DecapProgram(DecapProgram&&) noexcept;
  DecapProgram& operator=(DecapProgram&&) noexcept;
  ~DecapProgram();

  // Attaches to `ifindex`. Fails if another XDP program is attached, unless `replace` names
  // it (as returned by query_attached_program); then the swap is atomic.
  [[nodiscard]] Result<XdpAttachment> attach(int ifindex, AttachMode mode,
                                             const AttachedProgram* replace = nullptr) const;
  [[nodiscard]] Result<DecapCounters> counters() const;
  [[nodiscard]] Result<SecondHopCounters> second_hop_counters() const;
  [[nodiscard]] int program_fd() const;

  // The counters of the sluice_decap program attached to `ifindex` (by any process).
  [[nodiscard]] static Result<DecapCounters> attached_counters(int ifindex);
  [[nodiscard]] static Result<SecondHopCounters> attached_second_hop_counters(int ifindex);

 private:
  struct SkeletonDeleter {
    void operator()(decap_bpf* skeleton) const;
  };
  DecapProgram() = default;

  std::unique_ptr<decap_bpf, SkeletonDeleter> skeleton_;
};

}  // namespace sluice::bpf

// The dataplane's handle on the AF_XDP steering program (bpf/xsk_steer.bpf.c): keeps the VIP
// maps equal to the dataplane's VIP set and reads the verdict counters.
//
// In production the af_xdp PMD loads xsk_steer.bpf.o (xdp_prog=) and libbpf pins its VIP maps
// by name under /sys/fs/bpf (bpffs must be mounted in the dataplane's mount namespace). The
// dataplane then opens them with open_pinned(), or with attached() from the interface.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "loader/map_layout.hpp"
#include "sluice/unique_fd.hpp"
#include "sluice/result.hpp"

struct xsk_steer_bpf;  // generated skeleton (xsk_steer.skel.h)

namespace sluice::bpf {

inline constexpr const char* kDefaultPinRoot = "/sys/fs/bpf";

class XdpSteering {
 public:
  // Opens the maps pinned under `pin_root` by whoever loaded xsk_steer.bpf.o first.
  [[nodiscard]] static Result<XdpSteering> open_pinned(
      const std::string& pin_root = kDefaultPinRoot);
  // Opens the maps of the sluice_steer program attached to `ifindex`; needs no bpffs.
  [[nodiscard]] static Result<XdpSteering> attached(int ifindex);
  // Loads the program from the embedded object. Its VIP maps are reused from pins under
  // `pin_root` or created and pinned there; an empty `pin_root` pins nothing (tests).
  [[nodiscard]] static Result<XdpSteering> load(const std::string& pin_root = kDefaultPinRoot);

  XdpSteering(XdpSteering&&) noexcept;
  XdpSteering& operator=(XdpSteering&&) noexcept;
  ~XdpSteering();

  // Makes the VIP maps hold exactly `vips` (duplicates ignored). The value stored for a key is
  // its first position in `vips`. Keys still wanted are never removed on the way, so their
  // traffic is not disturbed. On error the maps may be partly updated: call again.
  [[nodiscard]] Status set_vips(std::span<const VipKey> vips);
  [[nodiscard]] Result<std::vector<VipKey>> vips() const;
  [[nodiscard]] Result<SteerCounters> counters() const;

  // Only after load(): the program (for BPF_PROG_TEST_RUN or attaching) and its XSKMAP.
  [[nodiscard]] int program_fd() const;
  [[nodiscard]] int xsk_map_fd() const;

 private:
  struct SkeletonDeleter {
    void operator()(xsk_steer_bpf* skeleton) const;
  };
  XdpSteering() = default;

  std::unique_ptr<xsk_steer_bpf, SkeletonDeleter> skeleton_;
  UniqueFd vip_map_;
  UniqueFd address_map_;
  UniqueFd counter_map_;
};

}  // namespace sluice::bpf

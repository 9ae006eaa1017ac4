// af_xdp mode: keeps the VIP maps of the XDP steering program (bpf/xsk_steer.bpf.c) equal to
// the VIPs of the running state, so the kernel hands VIP traffic to the AF_XDP sockets and keeps
// everything else (XDP_PASS). The maps are opened where the af_xdp PMD's libbpf pinned them
// (--xdp-steering PIN_ROOT), or else from the program attached to each af_xdp port.
// A failed update is logged and retried (the next state change, or retry()); it never stops
// forwarding.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sluice/config/model.hpp"
#include "sluice/result.hpp"

namespace sluice::bpf {
class XdpSteering;
}

namespace sluice::dataplane {

class XdpVipSync {
 public:
  // `af_xdp_ifindexes`: interfaces of the net_af_xdp ports (fallback when nothing is pinned).
  [[nodiscard]] static Result<std::unique_ptr<XdpVipSync>> open(
      const std::string& pin_root, const std::vector<int>& af_xdp_ifindexes);
  XdpVipSync(const XdpVipSync&) = delete;
  XdpVipSync& operator=(const XdpVipSync&) = delete;
  ~XdpVipSync();

  // Makes every steering program's VIP map hold exactly the VIPs of `state`.
  void sync(const config::State& state);
  // Repeats the last sync if it failed.
  void retry();

 private:
  XdpVipSync() = default;
  std::vector<bpf::XdpSteering> programs_;
  config::State last_;
  bool pending_ = false;
};

}  // namespace sluice::dataplane

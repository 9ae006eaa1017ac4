#include "xdp_vip_sync.hpp"

#include <spdlog/spdlog.h>

#include "loader/map_layout.hpp"
#include "loader/xdp_steering.hpp"

namespace sluice::dataplane {

Result<std::unique_ptr<XdpVipSync>> XdpVipSync::open(const std::string& pin_root,
                                                     const std::vector<int>& af_xdp_ifindexes) {
  std::unique_ptr<XdpVipSync> sync(new XdpVipSync());
  auto pinned = bpf::XdpSteering::open_pinned(pin_root);
  if (pinned) {
    sync->programs_.push_back(std::move(pinned.value()));
    spdlog::info("xdp steering: VIP maps pinned under {}", pin_root);
    return sync;
  }
  for (int ifindex : af_xdp_ifindexes) {
    auto attached = bpf::XdpSteering::attached(ifindex);
    if (!attached) {
      return Error{"--xdp-steering: no maps pinned under " + pin_root + " (" +
                   pinned.error().message + ") and none on interface " + std::to_string(ifindex) +
                   " (" + attached.error().message + ")"};
    }
    sync->programs_.push_back(std::move(attached.value()));
    spdlog::info("xdp steering: VIP maps of the program on interface {}", ifindex);
  }
  if (sync->programs_.empty()) {
    return Error{"--xdp-steering: no maps pinned under " + pin_root + " (" +
                 pinned.error().message + ") and no net_af_xdp port"};
  }
  return sync;
}

XdpVipSync::~XdpVipSync() = default;

void XdpVipSync::sync(const config::State& state) {
  last_ = state;
  std::vector<bpf::VipKey> keys;
  keys.reserve(state.vips.size());
  for (const auto& vip : state.vips) {
    keys.push_back(
        bpf::make_vip_key(vip.address, vip.port, static_cast<std::uint8_t>(vip.protocol)));
  }
  pending_ = false;
  for (auto& program : programs_) {
    if (auto s = program.set_vips(keys); !s) {
      spdlog::error("xdp steering: cannot update the VIP map (will retry): {}", s.error().message);
      pending_ = true;
    }
  }
  if (!pending_) spdlog::info("xdp steering: {} VIPs steered to DPDK", keys.size());
}

void XdpVipSync::retry() {
  if (pending_) sync(last_);
}

}  // namespace sluice::dataplane

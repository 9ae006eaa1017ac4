#include "pipeline/counters.hpp"

#include <string>

#include "pipeline/snapshot.hpp"

namespace sluice::pipeline {

control::Counters sum_counters(const Snapshot& snapshot,
                               std::span<const LcoreCounters* const> lcores,
                               std::span<const std::uint32_t> lcore_ids) {
  control::Counters out;
  out.generation = snapshot.generation;
  for (std::size_t i = 0; i < lcores.size(); ++i) {
    const LcoreCounters& c = *lcores[i];
    control::LcoreCounters l;
    l.lcore = i < lcore_ids.size() ? lcore_ids[i] : static_cast<std::uint32_t>(i);
    l.rx_packets = c.rx_packets;
    l.tx_packets = c.tx_packets;
    l.rx_polls = c.rx_polls;
    l.idle_polls = c.idle_polls;
    l.busy_polls = c.rx_polls >= c.idle_polls ? c.rx_polls - c.idle_polls : 0;
    out.per_lcore.push_back(l);
  }

  auto add = [](auto& to, const ObjectCounters& from) {
    to.packets += from.packets;
    to.bytes += from.bytes;
    to.new_flows += from.new_flows;
    to.active_flows += from.active_flows;
  };
  for (const VipEntry& vip : snapshot.vips) {
    control::VipCounters v;
    v.vip = vip.name;
    for (const LcoreCounters* c : lcores)
      add(v, c->vips[vip.id]);
    for (const BackendId id : vip.backends) {
      control::BackendCounters b;
      b.address = snapshot.backends[id].address.to_string();
      for (const LcoreCounters* c : lcores)
        add(b, c->backends[id]);
      v.per_backend.push_back(std::move(b));
    }
    out.per_vip.push_back(std::move(v));
  }

  for (std::size_t r = 0; r < kDropReasonCount; ++r) {
    std::uint64_t total = 0;
    for (const LcoreCounters* c : lcores)
      total += c->drops[r];
    out.drops.emplace(std::string(kDropReasons[r].name), total);
  }
  return out;
}

}  // namespace sluice::pipeline

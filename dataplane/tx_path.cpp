#include "tx_path.hpp"

namespace sluice::dataplane {

TxPath::TxPath(pipeline::LcoreCounters& counters, std::span<const std::uint16_t> ports,
               std::uint16_t queue)
    : counters_(counters) {
  for (const std::uint16_t port : ports) {
    tx_[port].port = port;
    tx_[port].queue = queue;
    ports_[port_count_++] = port;
  }
}

void TxPath::send_burst(std::uint16_t port, const pipeline::BurstResult& burst) {
  TxBuffer& tx = tx_[port];
  TxResult total;
  for (std::uint16_t i = 0; i < burst.tx_count; ++i) {
    const Departure kind =
        burst.tx_verdict[i] == pipeline::Verdict::reply ? Departure::reply : Departure::forward;
    tx_enqueue(tx, burst.tx[i], kind, total);
  }
  account(total);
}

void TxPath::send(std::uint16_t port, rte_mbuf* const* packets, std::uint16_t n, Departure kind) {
  TxBuffer& tx = tx_[port];
  TxResult total;
  for (std::uint16_t i = 0; i < n; ++i)
    tx_enqueue(tx, packets[i], kind, total);
  account(total);
}

void TxPath::drain_all() {
  TxResult total;
  for (std::uint16_t i = 0; i < port_count_; ++i)
    tx_flush(tx_[ports_[i]], total);
  account(total);
}

void TxPath::account(const TxResult& r) {
  using pipeline::Verdict;
  pipeline::LcoreCounters& c = counters_;
  const auto sent = [&r](Departure d) { return r.sent[static_cast<std::size_t>(d)]; };
  const auto refused = [&r](Departure d) { return r.refused[static_cast<std::size_t>(d)]; };
  c.tx_packets += sent(Departure::forward) + sent(Departure::reply) + sent(Departure::pass) +
                  sent(Departure::relay);
  c.count_verdict(Verdict::forward, sent(Departure::forward));
  c.count_verdict(Verdict::reply, sent(Departure::reply));
  c.count_verdict(Verdict::pass, sent(Departure::pass));
  c.host_relayed += sent(Departure::relay);
  if (const auto n = refused(Departure::forward) + refused(Departure::reply); n != 0) {
    c.count_drop(DropReason::tx_full, n);
  }
  if (const auto n = refused(Departure::pass); n != 0) c.count_drop(DropReason::pass_full, n);
  c.host_relay_refused += refused(Departure::relay);
}

}  // namespace sluice::dataplane

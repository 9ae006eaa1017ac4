// A worker's transmit side: one TX buffer per port it may send on, and the accounting of every
// packet's fate when a queue takes or refuses it (pipeline/counters.hpp: a forward that meets a
// full queue is a drop, tx_full, never a forward). One per worker; no sharing.
#pragma once

#include <rte_ethdev.h>

#include <array>
#include <cstdint>
#include <span>

#include "pipeline/counters.hpp"
#include "pipeline/pipeline.hpp"
#include "tx_buffer.hpp"

namespace sluice::dataplane {

class TxPath {
 public:
  // `queue`: this worker's TX queue on each of `ports`.
  TxPath(pipeline::LcoreCounters& counters, std::span<const std::uint16_t> ports,
         std::uint16_t queue);

  // A completed burst's forwarded packets and replies, towards `port`.
  void send_burst(std::uint16_t port, const pipeline::BurstResult& burst);
  // `n` packets of one kind (pass to the host, or relays from the host).
  void send(std::uint16_t port, rte_mbuf* const* packets, std::uint16_t n, Departure kind);
  // Sends everything buffered (the worker's drain timer, and its exit).
  void drain_all();

 private:
  void account(const TxResult& r);

  pipeline::LcoreCounters& counters_;
  std::array<TxBuffer, RTE_MAX_ETHPORTS> tx_{};
  std::array<std::uint16_t, RTE_MAX_ETHPORTS> ports_{};
  std::uint16_t port_count_ = 0;
};

}  // namespace sluice::dataplane

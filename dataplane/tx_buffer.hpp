// Buffered transmit for one (port, queue) of one worker: packets collect until a burst is
// full or the worker's TSC drain timer fires. Packets the queue refuses are freed and
// reported to the caller, who counts them as drops (tx_full / pass_full): never silently.
#pragma once

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <array>
#include <cstdint>

namespace sluice::dataplane {

inline constexpr std::uint16_t kTxBurst = 32;

struct TxBuffer {
  std::uint16_t port = 0;
  std::uint16_t queue = 0;
  std::uint16_t count = 0;
  std::array<rte_mbuf*, kTxBurst> packets{};
};

struct TxResult {
  std::uint16_t sent = 0;
  std::uint16_t dropped = 0;
};

// Sends everything buffered.
inline TxResult tx_flush(TxBuffer& buffer) {
  if (buffer.count == 0) return {};
  const std::uint16_t sent =
      rte_eth_tx_burst(buffer.port, buffer.queue, buffer.packets.data(), buffer.count);
  const std::uint16_t dropped = static_cast<std::uint16_t>(buffer.count - sent);
  if (dropped != 0) rte_pktmbuf_free_bulk(buffer.packets.data() + sent, dropped);
  buffer.count = 0;
  return {sent, dropped};
}

// Buffers one packet; sends the burst when it is full.
inline TxResult tx_enqueue(TxBuffer& buffer, rte_mbuf* packet) {
  buffer.packets[buffer.count++] = packet;
  if (buffer.count < kTxBurst) return {};
  return tx_flush(buffer);
}

}  // namespace sluice::dataplane

// Buffered transmit for one (port, queue) of one worker: packets collect until a burst is
// full or the worker's TSC drain timer fires. Each buffered packet remembers what it is, so
// its fate is counted once when the queue takes it or refuses it (counters.hpp): a refused
// forward is a drop (tx_full), never a forward.
#pragma once

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <array>
#include <cstdint>

namespace sluice::dataplane {

inline constexpr std::uint16_t kTxBurst = 32;

// What a buffered packet is.
enum class Departure : std::uint8_t {
  forward,  // pipeline verdict forward
  reply,    // pipeline verdict reply
  pass,     // pipeline verdict pass, to the host kernel
  relay,    // from the host kernel to the uplink (not pipeline traffic)
};
inline constexpr std::size_t kDepartureCount = 4;

struct TxBuffer {
  std::uint16_t port = 0;
  std::uint16_t queue = 0;
  std::uint16_t count = 0;
  std::array<rte_mbuf*, kTxBurst> packets{};
  std::array<Departure, kTxBurst> kinds{};
};

// Per kind: how many packets the queue took and how many it refused (freed).
struct TxResult {
  std::array<std::uint16_t, kDepartureCount> sent{};
  std::array<std::uint16_t, kDepartureCount> refused{};
};

// Sends everything buffered; adds what the queue took and refused to `result`.
inline void tx_flush(TxBuffer& buffer, TxResult& result) {
  if (buffer.count == 0) return;
  const std::uint16_t sent =
      rte_eth_tx_burst(buffer.port, buffer.queue, buffer.packets.data(), buffer.count);
  for (std::uint16_t i = 0; i < buffer.count; ++i) {
    auto& tally = i < sent ? result.sent : result.refused;
    const auto k = static_cast<std::size_t>(buffer.kinds[i]);
    tally[k] = static_cast<std::uint16_t>(tally[k] + 1);
  }
  if (sent != buffer.count)
    rte_pktmbuf_free_bulk(buffer.packets.data() + sent, buffer.count - sent);
  buffer.count = 0;
}

// Buffers one packet; sends the burst when it is full.
inline void tx_enqueue(TxBuffer& buffer, rte_mbuf* packet, Departure kind, TxResult& result) {
  buffer.kinds[buffer.count] = kind;
  buffer.packets[buffer.count++] = packet;
  if (buffer.count == kTxBurst) tx_flush(buffer, result);
}

}  // namespace sluice::dataplane

// Packet-buffer pool as an RAII handle.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "sluice/result.hpp"

struct rte_mempool;

namespace sluice::dataplane {

struct MempoolDeleter {
  void operator()(rte_mempool* pool) const;
};
using MempoolPtr = std::unique_ptr<rte_mempool, MempoolDeleter>;

struct MempoolRequest {
  std::string name;
  std::uint32_t mbufs = 0;       // number of buffers
  std::uint16_t data_room = 0;   // bytes per buffer, headroom included
  std::uint32_t cache_size = 0;  // per-lcore cache
  int socket = 0;
};

[[nodiscard]] Result<MempoolPtr> create_pktmbuf_pool(const MempoolRequest& request);

}  // namespace sluice::dataplane

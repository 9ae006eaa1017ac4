#include "mempool.hpp"

#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <fmt/format.h>

namespace sluice::dataplane {

void MempoolDeleter::operator()(rte_mempool* pool) const {
  rte_mempool_free(pool);
}

Result<MempoolPtr> create_pktmbuf_pool(const MempoolRequest& request) {
  rte_mempool* pool =
      rte_pktmbuf_pool_create(request.name.c_str(), request.mbufs, request.cache_size, 0,
                              request.data_room, request.socket);
  if (pool == nullptr) {
    return Error{fmt::format("cannot create mbuf pool '{}' ({} buffers of {} bytes): {}",
                             request.name, request.mbufs, request.data_room,
                             rte_strerror(rte_errno))};
  }
  return MempoolPtr(pool);
}

}  // namespace sluice::dataplane

#include "qsbr.hpp"

#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include <fmt/format.h>

namespace sluice::dataplane {

void QsbrDeleter::operator()(rte_rcu_qsbr* v) const {
  rte_free(v);
}

Result<QsbrPtr> create_qsbr(unsigned max_threads) {
  const std::size_t size = rte_rcu_qsbr_get_memsize(max_threads);
  auto* v = static_cast<rte_rcu_qsbr*>(rte_zmalloc("sluice_qsbr", size, RTE_CACHE_LINE_SIZE));
  if (v == nullptr) return Error{fmt::format("cannot allocate RCU QSBR state ({} bytes)", size)};
  QsbrPtr owned(v);
  if (rte_rcu_qsbr_init(v, max_threads) != 0) {
    return Error{fmt::format("rte_rcu_qsbr_init failed: {}", rte_strerror(rte_errno))};
  }
  return owned;
}

QsbrReader::QsbrReader(rte_rcu_qsbr* v, unsigned thread_id) : v_(v), id_(thread_id) {
  // Only fails for an id beyond max_threads, which the caller sizes from the worker count.
  (void)rte_rcu_qsbr_thread_register(v_, id_);
  rte_rcu_qsbr_thread_online(v_, id_);
}

QsbrReader::~QsbrReader() {
  rte_rcu_qsbr_thread_offline(v_, id_);
  (void)rte_rcu_qsbr_thread_unregister(v_, id_);
}

}  // namespace sluice::dataplane

// rte_rcu_qsbr as RAII: one quiescent-state variable for all worker lcores, and a per-worker
// registration that goes online on creation and offline/unregistered on destruction.
#pragma once

#include <memory>

#include "sluice/result.hpp"

struct rte_rcu_qsbr;

namespace sluice::dataplane {

struct QsbrDeleter {
  void operator()(rte_rcu_qsbr* v) const;
};
using QsbrPtr = std::unique_ptr<rte_rcu_qsbr, QsbrDeleter>;

// Room for `max_threads` reader ids 0..max_threads-1 (we use the worker index).
[[nodiscard]] Result<QsbrPtr> create_qsbr(unsigned max_threads);

// A reader thread's membership: registered and online for its lifetime, so a writer's
// rte_rcu_qsbr_synchronize waits for it; offline on exit so a stopped worker never blocks one.
class QsbrReader {
 public:
  QsbrReader(rte_rcu_qsbr* v, unsigned thread_id);
  QsbrReader(const QsbrReader&) = delete;
  QsbrReader& operator=(const QsbrReader&) = delete;
  ~QsbrReader();

 private:
  rte_rcu_qsbr* v_;
  unsigned id_;
};

}  // namespace sluice::dataplane

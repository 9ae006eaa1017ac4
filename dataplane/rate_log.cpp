#include "rate_log.hpp"

#include <spdlog/spdlog.h>

namespace sluice::dataplane {

void RateLog::maybe_log(const std::vector<const pipeline::WorkerState*>& workers) {
  if (interval_.count() == 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_ < interval_) return;
  Totals t;
  for (const auto* w : workers) {
    const auto& c = w->counters;
    t.rx += c.rx_packets;
    t.tx += c.tx_packets;
    t.polls += c.rx_polls;
    t.idle += c.idle_polls;
    for (auto d : c.drops)
      t.dropped += d;
  }
  const double seconds = std::chrono::duration<double>(now - last_).count();
  const auto polls = t.polls - previous_.polls;
  spdlog::info("rx {:.3f} Mpps, tx {:.3f} Mpps, drops {:.0f}/s, load {:.0f}%",
               (t.rx - previous_.rx) / seconds / 1e6, (t.tx - previous_.tx) / seconds / 1e6,
               (t.dropped - previous_.dropped) / seconds,
               polls == 0 ? 0.0 : 100.0 * (polls - (t.idle - previous_.idle)) / polls);
  previous_ = t;
  last_ = now;
}

}  // namespace sluice::dataplane

#include "rate_log.hpp"

#include <spdlog/spdlog.h>

namespace sluice::dataplane {

void RateLog::maybe_log(const std::vector<const pipeline::WorkerState*>& workers) {
  if (interval_.count() == 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_ < interval_) return;
  Totals t;
  using pipeline::Verdict;
  for (const auto* w : workers) {
    const auto& c = w->counters;
    t.rx += c.rx_packets;
    t.forward += c.verdicts[static_cast<std::size_t>(Verdict::forward)];
    t.reply += c.verdicts[static_cast<std::size_t>(Verdict::reply)];
    t.pass += c.verdicts[static_cast<std::size_t>(Verdict::pass)];
    t.drop += c.verdicts[static_cast<std::size_t>(Verdict::drop)];
    t.polls += c.rx_polls;
    t.idle += c.idle_polls;
    t.slept_ticks += c.slept_ticks;
  }
  const double seconds = std::chrono::duration<double>(now - last_).count();
  const auto rate = [seconds](std::uint64_t now_n, std::uint64_t before) {
    return static_cast<double>(now_n - before) / seconds;
  };
  const auto polls = t.polls - previous_.polls;
  // Time asleep over the workers' time (--idle sleep; 0 otherwise).
  const std::uint64_t hz = workers.empty() ? 0 : workers.front()->ticks_per_second;
  const double worker_seconds = seconds * static_cast<double>(workers.size());
  const double slept = hz == 0 ? 0.0
                               : static_cast<double>(t.slept_ticks - previous_.slept_ticks) /
                                     static_cast<double>(hz) / worker_seconds;
  spdlog::info(
      "rx {:.3f} Mpps: forwarded {:.3f} Mpps, replied {:.0f}/s, passed {:.0f}/s, dropped "
      "{:.0f}/s; load {:.0f}%{}",
      rate(t.rx, previous_.rx) / 1e6, rate(t.forward, previous_.forward) / 1e6,
      rate(t.reply, previous_.reply), rate(t.pass, previous_.pass), rate(t.drop, previous_.drop),
      polls == 0 ? 0.0 : 100.0 * static_cast<double>(polls - (t.idle - previous_.idle)) / polls,
      t.slept_ticks == 0 ? std::string() : fmt::format(", asleep {:.0f}%", 100.0 * slept));
  previous_ = t;
  last_ = now;
}

}  // namespace sluice::dataplane

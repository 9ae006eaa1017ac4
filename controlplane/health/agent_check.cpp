#include "health/agent_check.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <utility>

#include "health/agent_signal.hpp"
#include "health/probe_session.hpp"
#include "sluice/config/names.hpp"

namespace sluice::cp {
namespace {

// Connects, reads the first line (or everything until the close), closes. The deadline, the
// exactly-once completion and the local-error rule are the probes' (ProbeSession): on success
// the outcome's detail carries the line.
class AgentReader : public std::enable_shared_from_this<AgentReader> {
 public:
  AgentReader(asio::io_context& io, const ProbeSpec& spec, ProbeDone done)
      : session_(io, spec, std::move(done)), socket_(io) {}

  void start() {
    auto self = shared_from_this();
    session_.arm([self] { self->close(); });
    const asio::ip::tcp::endpoint endpoint(to_asio(session_.spec().address), session_.spec().port);
    socket_.async_connect(endpoint, [self](const boost::system::error_code& ec) {
      if (ec) return self->session_.fail("connect", ec);
      self->read();
    });
  }

 private:
  void read() {
    auto self = shared_from_this();
    asio::async_read_until(
        socket_, asio::dynamic_buffer(buffer_, lb::kMaxAgentReplyBytes), '\n',
        [self](const boost::system::error_code& ec, std::size_t) {
          self->close();
          if (!ec || (ec == asio::error::eof && !self->buffer_.empty())) {
            std::string_view line = self->buffer_;
            line = line.substr(0, line.find('\n'));
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            return self->session_.finish(true, std::string(line));
          }
          if (ec == asio::error::eof) return self->session_.finish(false, "closed without a reply");
          if (ec == asio::error::not_found) {
            return self->session_.finish(
                false, fmt::format("no newline in the first {} bytes", lb::kMaxAgentReplyBytes));
          }
          self->session_.fail("read", ec);
        });
  }

  void close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  ProbeSession session_;
  asio::ip::tcp::socket socket_;
  std::string buffer_;
};

std::string reply_text(const lb::AgentReply& reply) {
  const std::string text = meaning_of(reply).text;
  return text.empty() ? "(no weight or state)" : text;
}

// A backend's agent, for logs: "50%", "down # disk full", "no reply (timeout after 1000 ms)",
// "no reply (closed without a reply), keeping 50%".
std::string state_text(const AgentStatus& s) {
  if (s.checks == 0) return "not checked";
  if (!s.reply) return "no reply (" + s.error + ")";
  if (s.error.empty()) return reply_text(*s.reply);
  return fmt::format("no reply ({}), keeping {}", s.error, reply_text(*s.reply));
}

}  // namespace

std::optional<AgentTarget> agent_target_for(const config::Vip& vip,
                                            const config::Backend& backend) {
  if (!config::adaptive_weights(vip) || !vip.agent_check || vip.agent_check->port == 0) {
    return std::nullopt;
  }
  AgentTarget t;
  t.address = backend.address;
  t.port = vip.agent_check->port;
  t.interval = std::chrono::milliseconds(std::max<std::uint32_t>(vip.agent_check->interval_ms, 1));
  // A check never outlives its interval: the next one would overlap it.
  t.timeout = std::min(std::chrono::milliseconds(vip.agent_check->timeout_ms), t.interval);
  return t;
}

std::string describe(const AgentTarget& target) {
  const std::string address = target.address.to_string();
  return target.address.is_v6() ? fmt::format("[{}]:{}", address, target.port)
                                : fmt::format("{}:{}", address, target.port);
}

void start_agent_read(asio::io_context& io, const AgentTarget& target,
                      std::function<void(AgentRead)> done) {
  ProbeSpec spec;
  spec.address = target.address;
  spec.port = target.port;
  spec.timeout = target.timeout;
  auto adapt = [done = std::move(done)](ProbeOutcome outcome) {
    AgentRead read;
    read.ok = outcome.success;
    read.local_error = outcome.local_error;
    (read.ok ? read.line : read.error) = std::move(outcome.detail);
    done(std::move(read));
  };
  std::make_shared<AgentReader>(io, spec, std::move(adapt))->start();
}

struct AgentMonitor::Target {
  Target(asio::io_context& io, BackendRef r, AgentTarget a,
         RateLimitedLog::Clock::duration log_interval)
      : ref(std::move(r)), agent(std::move(a)), timer(io), change_log(log_interval) {}

  BackendRef ref;
  AgentTarget agent;
  asio::steady_timer timer;
  std::chrono::steady_clock::time_point started{};
  bool stopped = false;
  RateLimitedLog change_log;  // a flapping agent: one line per interval
};

AgentMonitor::AgentMonitor(std::function<void()> on_change,
                           RateLimitedLog::Clock::duration log_interval)
    : on_change_(std::move(on_change)), log_interval_(log_interval) {}

AgentMonitor::~AgentMonitor() {
  stop();
}

void AgentMonitor::start() {
  loop_.start();
}

void AgentMonitor::stop() {
  loop_.stop([this] { cancel_targets(targets_); });
}

void AgentMonitor::reconcile(const config::State& desired) {
  asio::post(loop_.io(), [this, desired] { reconcile_now(desired); });
}

AgentStatusMap AgentMonitor::snapshot() const {
  std::lock_guard lock(mutex_);
  return status_;
}

void AgentMonitor::reconcile_now(const config::State& desired) {
  const bool at_start = std::exchange(first_reconcile_, false);
  std::set<BackendRef> wanted;
  for (const config::Vip& vip : desired.vips) {
    const config::VipKey key = config::key_of(vip);
    for (const config::Backend& backend : vip.backends) {
      const std::optional<AgentTarget> agent = agent_target_for(vip, backend);
      if (!agent) continue;
      BackendRef ref{key, backend.address};
      wanted.insert(ref);

      const auto it = targets_.find(ref);
      if (it != targets_.end() && it->second->agent == *agent) continue;  // unchanged
      if (it != targets_.end()) {
        it->second->stopped = true;
        it->second->timer.cancel();
      }
      auto target = std::make_shared<Target>(loop_.io(), ref, *agent, log_interval_);
      targets_.insert_or_assign(ref, target);
      {
        std::lock_guard lock(mutex_);
        AgentStatus& status = status_[ref];
        status.target = describe(*agent);
        if (status.checks == 0) status.error = "not checked yet";
      }

      // The first round spread over one interval, so thousands of checks do not start at once;
      // an agent added or changed later is checked at once.
      auto first = std::chrono::steady_clock::now();
      if (at_start) {
        first += std::chrono::milliseconds(std::hash<std::string>{}(to_string(ref)) %
                                           static_cast<std::size_t>(agent->interval.count()));
      }
      schedule(target, first);
    }
  }

  for (auto it = targets_.begin(); it != targets_.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    it->second->stopped = true;
    it->second->timer.cancel();
    it = targets_.erase(it);
  }
  std::lock_guard lock(mutex_);
  std::erase_if(status_, [&](const auto& entry) { return !wanted.contains(entry.first); });
}

void AgentMonitor::schedule(const std::shared_ptr<Target>& target,
                            std::chrono::steady_clock::time_point at) {
  target->timer.expires_at(at);
  target->timer.async_wait([this, target](const boost::system::error_code& ec) {
    if (ec || target->stopped) return;
    run_check(target);
  });
}

void AgentMonitor::run_check(const std::shared_ptr<Target>& target) {
  target->started = std::chrono::steady_clock::now();
  start_agent_read(loop_.io(), target->agent, [this, target](AgentRead read) {
    if (target->stopped) return;
    record(target, read);
    // Fixed rate: the next check starts one interval after this one started.
    const auto next = target->started + target->agent.interval;
    schedule(target, std::max(next, std::chrono::steady_clock::now()));
  });
}

void AgentMonitor::record(const std::shared_ptr<Target>& target, const AgentRead& read) {
  std::optional<lb::AgentReply> reply;
  std::string error;
  std::string raw;
  if (read.ok) {
    raw = lb::printable(read.line);
    Result<lb::AgentReply> parsed = lb::parse_agent_reply(read.line);
    if (parsed.ok()) {
      reply = std::move(parsed).value();
    } else {
      error = parsed.error().message;
    }
  } else {
    error = read.error;
  }

  // A line is logged when the agent's opinion changes (a new reply, the first check) and when
  // a check fails after a good one; repeated failures are counted, not logged.
  std::string before;
  std::string after;
  bool log = false;
  bool changed = false;
  {
    std::lock_guard lock(mutex_);
    const auto it = status_.find(target->ref);
    if (it == status_.end()) return;
    AgentStatus& s = it->second;
    const bool first = s.checks == 0;
    before = state_text(s);
    ++s.checks;
    s.last_checked = std::chrono::system_clock::now();
    if (read.local_error) {
      ++s.local_errors;
      s.error = error;
    } else if (reply) {
      changed = s.reply != reply;
      log = first || changed || s.consecutive_failures > 0;
      s.reply = std::move(reply);
      s.replied_at = s.last_checked;
      s.consecutive_failures = 0;
      s.error.clear();
      s.raw = std::move(raw);
    } else {
      ++s.failures;
      log = first || s.consecutive_failures == 0;
      ++s.consecutive_failures;
      s.error = std::move(error);
      s.raw = std::move(raw);
    }
    after = state_text(s);
  }

  if (read.local_error) {
    if (const std::uint64_t n = local_error_log_.note()) {
      spdlog::warn(
          "agent: cannot check agent {} of VIP {}: {}; the control plane is short of resources, "
          "not the backend: its last reply stands ({} local error(s) since the last such message)",
          describe(target->agent), config::to_string(target->ref.vip), read.error, n);
    }
    return;
  }
  if (log) {
    if (const std::uint64_t n = target->change_log.note()) {
      const std::string suppressed =
          n > 1 ? fmt::format(" ({} changes since the last such message)", n) : "";
      spdlog::info("agent {} of VIP {}: {} -> {}{}", describe(target->agent),
                   config::to_string(target->ref.vip), before, after, suppressed);
    }
  }
  if (changed && on_change_) on_change_();
}

}  // namespace sluice::cp

// sluicectl top: a live view of every VIP and backend (state, health, weights, rates, active
// flows, check latency, drops), from GET /v1/status and GET /v1/stats once per --interval.
// On a terminal it redraws in the alternate screen until `q` (raw mode, restored on exit and on
// SIGINT/SIGTERM/SIGHUP); otherwise it prints --count frames (default 1) one after another.
#include <fmt/format.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <ctime>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "sluicectl/context.hpp"
#include "sluicectl/table.hpp"
#include "sluicectl/top_view.hpp"

namespace sluice::ctl {
namespace {

using nlohmann::json;

struct TopArgs {
  double interval_s = 1;
  std::uint32_t count = 0;
  CLI::Option* count_option = nullptr;
};

volatile std::sig_atomic_t g_signal = 0;
extern "C" void on_top_signal(int signo) {
  g_signal = signo;
}

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Raw keyboard input (no line buffering, no echo) in the alternate screen, for as long as it
// lives; the terminal and the signal handlers are put back when it goes, also after a signal.
class Terminal {
 public:
  Terminal() {
    if (::tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    if (::tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) != 0) return;
    active_ = true;
    struct sigaction action {};
    action.sa_handler = on_top_signal;  // no SA_RESTART: poll() returns at once
    sigemptyset(&action.sa_mask);
    for (std::size_t i = 0; i < kSignals.size(); ++i)
      ::sigaction(kSignals[i], &action, &saved_actions_[i]);
    std::cout << "\033[?1049h\033[?25l" << std::flush;  // alternate screen, cursor hidden
    // What goes to stderr meanwhile (the daemon went away) is shown once the screen is back.
    saved_cerr_ = std::cerr.rdbuf(errors_.rdbuf());
  }
  ~Terminal() {
    if (!active_) return;
    std::cout << "\033[?25h\033[?1049l" << std::flush;
    std::cerr.rdbuf(saved_cerr_);
    std::cerr << errors_.str() << std::flush;
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
    for (std::size_t i = 0; i < kSignals.size(); ++i)
      ::sigaction(kSignals[i], &saved_actions_[i], nullptr);
  }
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  // Waits until `deadline`; false when the user quit (q, Q, Ctrl-C) or a signal came.
  bool wait_until(std::chrono::steady_clock::time_point deadline) {
    while (g_signal == 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return true;
      pollfd fd{STDIN_FILENO, POLLIN, 0};
      const int ready = ::poll(&fd, 1, static_cast<int>(left.count()));
      if (ready <= 0) continue;  // timeout, or EINTR (the loop checks g_signal)
      char keys[16];
      const ssize_t n = ::read(STDIN_FILENO, keys, sizeof keys);
      if (n <= 0) return true;  // stdin closed: keep refreshing until a signal
      for (ssize_t i = 0; i < n; ++i) {
        if (keys[i] == 'q' || keys[i] == 'Q' || keys[i] == '\x03') return false;
      }
    }
    return false;
  }

 private:
  static constexpr std::array<int, 3> kSignals{SIGINT, SIGTERM, SIGHUP};
  termios saved_{};
  std::array<struct sigaction, 3> saved_actions_{};
  bool active_ = false;
  std::ostringstream errors_;
  std::streambuf* saved_cerr_ = nullptr;
};

double number(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : 0.0;
}

std::string text(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

// j[key] when it is an array, else an empty one (a reference: pointers into it stay valid).
const json& list(const json& j, const char* key) {
  static const json empty = json::array();
  return j.contains(key) && j[key].is_array() ? j[key] : empty;
}

const json* find_by(const json& items, const char* key, const std::string& value) {
  for (const auto& item : items) {
    if (text(item, key) == value) return &item;
  }
  return nullptr;
}

std::string latency_cell(const json* b, const char* which) {
  if (b == nullptr || !b->contains("check_latency_ms") || !(*b)["check_latency_ms"].is_object())
    return "-";
  const json& l = (*b)["check_latency_ms"];
  return l.contains(which) && l[which].is_number() ? millis(l[which].get<double>()) : "-";
}

void top(Context& ctx, const TopArgs& args) {
  const bool tty = ::isatty(STDIN_FILENO) != 0 && ::isatty(STDOUT_FILENO) != 0;
  const bool interactive = tty && !ctx.json;
  const bool counted = args.count_option != nullptr && args.count_option->count() > 0;
  // Not on a terminal: bounded, --count frames (default 1). On one: until q (or --count).
  const std::uint32_t frames = counted ? args.count : (interactive ? 0 : 1);
  g_signal = 0;
  std::unique_ptr<Terminal> terminal;
  if (interactive) terminal = std::make_unique<Terminal>();
  TopHistory previous;
  const auto interval =
      std::chrono::milliseconds(static_cast<std::int64_t>(args.interval_s * 1000));
  auto next_frame = std::chrono::steady_clock::now();
  for (std::uint32_t frame = 0; frames == 0 || frame < frames; ++frame) {
    if (frame > 0) {
      next_frame += interval;
      if (terminal) {
        if (!terminal->wait_until(next_frame)) return;
      } else {
        std::this_thread::sleep_until(next_frame);
      }
    }
    auto status = ctx.call({"GET", "/v1/status", ""});
    if (!status) return;
    auto stats = ctx.call({"GET", "/v1/stats", ""});
    if (!stats) return;
    const double now = wall_seconds();
    if (ctx.json) {
      // One document per line, so the output can be piped to jq.
      const json doc{{"time", now}, {"status", *status}, {"stats", *stats}};
      std::cout << doc.dump(-1, ' ', false, json::error_handler_t::replace) << std::endl;
      continue;
    }
    const std::string screen =
        render_top(*status, *stats, now, args.interval_s, interactive, previous);
    if (terminal) {
      std::cout << "\033[H\033[2J" << screen << std::flush;
    } else {
      if (frame > 0) std::cout << "\n";
      std::cout << screen << std::flush;
    }
  }
}

}  // namespace

std::string render_top(const json& status, const json& stats, double now, double interval_s,
                       bool interactive, TopHistory& previous) {
  std::ostringstream out;
  char clock[32];
  const auto seconds = static_cast<std::time_t>(now);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  std::strftime(clock, sizeof clock, "%H:%M:%S UTC", &tm);
  std::size_t reachable = 0;
  std::size_t in_sync = 0;
  const json& dataplanes = list(status, "dataplanes");
  for (const auto& d : dataplanes) {
    reachable += d.value("reachable", false) ? 1 : 0;
    in_sync += d.value("in_sync", false) ? 1 : 0;
  }
  out << "sluice top  " << clock << "  generation " << status.value("generation", 0)
      << "  dataplanes " << reachable << "/" << dataplanes.size() << " reachable, " << in_sync
      << " in sync  every " << fmt::format("{:g}", interval_s) << " s"
      << (interactive ? "  (q quits)" : "") << "\n";

  TopHistory next;
  next.at = now;
  const double elapsed = previous.at > 0 ? now - previous.at : 0;
  for (const auto& vip : list(status, "vips")) {
    const std::string name = text(vip, "vip");
    const json* vs = find_by(list(stats, "vips"), "vip", name);
    out << "\nVIP " << name << "  " << text(vip, "scheduler") << "/" << text(vip, "encap") << "  "
        << si(vs ? number(*vs, "packets_per_s") : 0) << " packets/s  "
        << si(vs ? number(*vs, "new_flows_per_s") : 0) << " new flows/s  "
        << si(vs ? number(*vs, "active_flows") : number(vip, "active_flows")) << " active";
    if (vip.value("all_down", false))
      out << "  ALL BACKENDS DOWN (policy " << text(vip, "all_down_policy") << ")";
    out << "\n";

    const json& backends = list(vip, "backends");
    bool any_reason = false;
    bool any_latency = false;
    bool any_syn = false;
    for (const auto& b : backends) {
      any_reason |= !text(b, "weight_reason").empty();
      any_latency |= b.contains("check_latency_ms") && b["check_latency_ms"].is_object();
      const json* bs = vs ? find_by(list(*vs, "backends"), "address", text(b, "address")) : nullptr;
      any_syn |= bs != nullptr && bs->contains("syn_retransmits");
    }
    std::vector<std::string> header{"BACKEND", "STATE", "HEALTH", "WEIGHT", "EFFECTIVE"};
    if (any_reason) header.emplace_back("REASON");
    for (const char* h : {"PACKETS/S", "NEW FLOWS/S", "ACTIVE"})
      header.emplace_back(h);
    if (any_syn) header.emplace_back("SYN RTX/S");
    if (any_latency) {
      for (const char* h : {"CHECK EWMA", "CHECK P50", "CHECK P99"})
        header.emplace_back(h);
    }
    Table table(header);
    for (const auto& b : backends) {
      const std::string address = text(b, "address");
      const json* bs = vs ? find_by(list(*vs, "backends"), "address", address) : nullptr;
      std::string weight = fmt::format("{}", b.value("weight", 0));
      if (b.value("drained", false)) weight += " (drained)";
      // Adaptive VIPs push hundredths of the weight: the percent reads better.
      const std::string effective = text(vip, "weights") == "adaptive"
                                        ? fmt::format("{}%", b.value("weight_percent", 0))
                                        : fmt::format("{}", b.value("effective_weight", 0));
      std::vector<std::string> row{address, text(b, "state"), text(b, "health"), weight, effective};
      if (any_reason) {
        const std::string reason = text(b, "weight_reason");
        row.push_back(reason.empty() ? "-" : reason);
      }
      row.push_back(bs ? si(number(*bs, "packets_per_s")) : "-");
      row.push_back(bs ? si(number(*bs, "new_flows_per_s")) : "-");
      row.push_back(si(bs ? number(*bs, "active_flows") : number(b, "active_flows")));
      if (any_syn) {
        std::string cell = "-";
        if (bs != nullptr && bs->contains("syn_retransmits")) {
          const std::string key = name + " " + address;
          const double total = number(*bs, "syn_retransmits");
          next.syn_retransmits[key] = total;
          auto it = previous.syn_retransmits.find(key);
          if (elapsed > 0 && it != previous.syn_retransmits.end() && total >= it->second)
            cell = si((total - it->second) / elapsed);
        }
        row.push_back(cell);
      }
      if (any_latency) {
        for (const char* which : {"ewma", "p50", "p99"})
          row.push_back(latency_cell(&b, which));
      }
      table.add(std::move(row));
    }
    if (table.empty()) {
      out << "  no backends\n";
    } else {
      table.print(out, 2);
    }
  }
  if (list(status, "vips").empty()) out << "\nno VIPs\n";

  std::string drops;
  for (const auto& d : list(stats, "drops")) {
    if (number(d, "packets") == 0) continue;
    drops += fmt::format("  {} {}/s ({} in all)", text(d, "reason"), si(number(d, "packets_per_s")),
                         si(number(d, "packets")));
  }
  out << "\ndrops:" << (drops.empty() ? std::string("  none") : drops) << "\n";
  previous = std::move(next);
  return out.str();
}

void add_top_command(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<TopArgs>();
  CLI::App* command = app.add_subcommand(
      "top",
      "live view of VIPs and backends: state, health, configured and effective weight (and "
      "why), packets/s, new flows/s, active flows, check latency, drops");
  command->footer(
      "On a terminal: redraws every --interval seconds until `q` (or Ctrl-C).\n"
      "Otherwise (a pipe, a file): prints --count frames, default 1, and exits.\n"
      "Rates are the daemon's, over its last poll of the dataplanes (about 1 s).\n"
      "Columns that need fields the daemon does not report (REASON, SYN RTX/S, CHECK ...)\n"
      "are left out.");
  command->add_option("--interval", args->interval_s, "seconds between refreshes (default 1)")
      ->check(CLI::Range(0.1, 3600.0));
  args->count_option = command->add_option(
      "--count,-n", args->count,
      "frames to show, then exit (default: until q on a terminal, 1 otherwise; 0: no limit)");
  command->add_flag("--json", ctx.json,
                    "one JSON document per frame and line: {\"time\", \"status\", \"stats\"}");
  command->callback([&ctx, args] { top(ctx, *args); });
}

}  // namespace sluice::ctl

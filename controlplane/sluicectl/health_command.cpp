// sluicectl health: every backend's check, state, last result and latency.
#include <chrono>

#include "sluicectl/context.hpp"
#include "sluicectl/table.hpp"

namespace sluice::ctl {
namespace {

// "2/10", or "2/10 (3 local)": 3 of the 10 probes could not be made (they are no failures).
std::string fails_and_checks(const nlohmann::json& b) {
  std::string out = std::to_string(b["failures"].get<std::uint64_t>()) + "/" +
                    std::to_string(b["checks"].get<std::uint64_t>());
  const std::uint64_t local = b.value("local_errors", std::uint64_t{0});
  if (local > 0) out += " (" + std::to_string(local) + " local)";
  return out;
}

void health(Context& ctx) {
  auto reply = ctx.call({"GET", "/v1/health", ""});
  if (!reply) return;
  if (ctx.json) return Context::print_json(*reply);
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  Table table({"VIP", "BACKEND", "HEALTH", "FOR", "CHECK", "LAST RESULT", "LATENCY", "AVG",
               "FAILS/CHECKS"});
  for (const auto& b : (*reply)["backends"]) {
    const bool checked = b.contains("since");
    std::string last = "-";
    std::string latency = "-";
    if (checked && b["last"].is_object()) {
      last = b["last"]["detail"].get<std::string>();
      latency = millis(b["last"]["latency_ms"].get<double>());
    } else if (checked) {
      last = "(not checked yet)";
    }
    table.add({b["vip"].get<std::string>(), b["address"].get<std::string>(),
               b["health"].get<std::string>(),
               checked ? duration(now - b["since"].get<double>()) : "-",
               b["check"].get<std::string>(), last, latency,
               checked ? millis(b["latency_avg_ms"].get<double>()) : "-",
               checked ? fails_and_checks(b) : "-"});
  }
  if (table.empty()) {
    std::cout << "no backends\n";
    return;
  }
  table.print(std::cout);
}

}  // namespace

void add_health_command(CLI::App& app, Context& ctx) {
  CLI::App* command =
      app.add_subcommand("health", "health-check results and latencies per backend");
  add_json_flag(command, ctx);
  command->callback([&ctx] { health(ctx); });
}

}  // namespace sluice::ctl

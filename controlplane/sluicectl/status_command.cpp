// sluicectl status: per VIP its backends, health, weight, Maglev share and active flows; then
// the dataplanes and whether they run the current generation.
#include <cstdio>
#include <ctime>

#include "sluicectl/context.hpp"
#include "sluicectl/table.hpp"

namespace sluice::ctl {
namespace {

void print_dataplanes(const nlohmann::json& dataplanes) {
  Table table({"DATAPLANE", "REACHABLE", "GENERATION", "IN SYNC", "UPTIME", "LAST ERROR"});
  for (const auto& d : dataplanes) {
    table.add({d["name"].get<std::string>(), d["reachable"].get<bool>() ? "yes" : "NO",
               std::to_string(d["generation"].get<std::uint64_t>()),
               d["in_sync"].get<bool>() ? "yes" : "no",
               d["reachable"].get<bool>() ? duration(d["uptime_ms"].get<double>() / 1000) : "-",
               d["last_error"].get<std::string>()});
  }
  if (table.empty()) {
    std::cout << "no dataplanes configured (add `dataplanes:` to the config)\n";
  } else {
    table.print(std::cout);
  }
}

// "state store: etcd http://a:2379, http://b:2379 key /sluice/state, connected, revision 12"
void print_state_store(const nlohmann::json& store) {
  const std::string kind = store.value("kind", std::string());
  if (kind != "etcd") {
    const std::string file = store.value("file", std::string());
    std::cout << "state store: file " << (file.empty() ? "(not persisted)" : file) << "\n";
    return;
  }
  std::string endpoints;
  for (const auto& e : store.value("endpoints", nlohmann::json::array())) {
    if (!endpoints.empty()) endpoints += ", ";
    endpoints += e.get<std::string>();
  }
  std::cout << "state store: etcd " << endpoints << " key " << store.value("key", std::string())
            << ", "
            << (store.value("connected", false)
                    ? std::string("connected")
                    : "NOT CONNECTED (" + store.value("last_error", std::string()) + ")")
            << ", revision " << store.value("revision", std::uint64_t{0});
  if (!store.value("refused", std::string()).empty()) {
    std::cout << "; revision " << store.value("read_revision", std::uint64_t{0})
              << " REFUSED: " << store.value("refused", std::string());
  }
  std::cout << "\n";
}

void status(Context& ctx) {
  auto reply = ctx.call({"GET", "/v1/status", ""});
  if (!reply) return;
  if (ctx.json) return Context::print_json(*reply);
  const auto& s = *reply;
  std::cout << "generation " << s["generation"] << ", revision " << s["revision"];
  if (s.contains("host")) {
    std::cout << ", host " << s["host"]["name"].get<std::string>()
              << (s["host"]["drained"].get<bool>() ? " (DRAINED)" : "");
  }
  std::cout << "\n";
  if (s.contains("state_store") && s["state_store"].is_object())
    print_state_store(s["state_store"]);
  if (s.contains("health_local_errors") && s["health_local_errors"].get<std::uint64_t>() > 0) {
    std::cout << "health checks: " << s["health_local_errors"].get<std::uint64_t>()
              << " local error(s): the control plane could not make a probe (out of "
                 "descriptors or memory); backends kept their state (see the daemon's log)\n";
  }
  std::cout << "\n";
  for (const auto& vip : s["vips"]) {
    std::cout << "VIP " << vip["vip"].get<std::string>() << "  "
              << vip["scheduler"].get<std::string>() << "/" << vip["encap"].get<std::string>()
              << "  active flows " << vip["active_flows"].get<std::uint64_t>();
    if (vip.contains("announced")) {
      const std::string reason = vip["announce_reason"].get<std::string>();
      std::cout << "  " << (vip["announced"].get<bool>() ? "ANNOUNCED" : "NOT ANNOUNCED");
      if (reason != "announced") std::cout << " (" << reason << ")";
    }
    if (vip.contains("second_chance") && vip["second_chance"].get<bool>()) {
      std::cout << "  second chance";
      if (vip["previous_table_until"].is_number()) {
        const auto until =
            static_cast<std::time_t>(vip["previous_table_until"].get<std::uint64_t>());
        char text[32];
        std::tm tm{};
        gmtime_r(&until, &tm);
        std::strftime(text, sizeof text, "%H:%M:%S UTC", &tm);
        std::cout << " (previous table until " << text << ")";
      }
    }
    if (vip["all_down"].get<bool>()) {
      std::cout << "  ALL BACKENDS DOWN (policy " << vip["all_down_policy"].get<std::string>()
                << ")";
    }
    std::cout << "\n";
    const bool adaptive = vip.value("weights", std::string("static")) == "adaptive";
    if (adaptive) {
      std::cout << "  adaptive weights";
      if (vip.value("slow_start_s", 0u) > 0)
        std::cout << ", slow start " << vip["slow_start_s"] << " s";
      std::cout << ", " << vip.value("weight_publications", std::uint64_t{0}) << " publication(s), "
                << vip.value("weight_slots_moved", std::uint64_t{0}) << " slot(s) moved\n";
    }
    std::vector<std::string> columns = {"BACKEND",   "STATE",        "HEALTH",      "WEIGHT",
                                        "EFFECTIVE", "MAGLEV SHARE", "ACTIVE FLOWS"};
    if (adaptive) {
      for (const char* c : {"CHECK EWMA", "HANDSHAKE P50/P99", "NEW/S", "SYN RETX/S", "REASON"})
        columns.emplace_back(c);
    }
    Table table(columns);
    for (const auto& b : vip["backends"]) {
      std::string weight = std::to_string(b["weight"].get<std::uint32_t>());
      if (b["drained"].get<bool>()) weight += " (drained)";
      std::string effective = std::to_string(b["effective_weight"].get<std::uint32_t>());
      if (adaptive) effective = std::to_string(b.value("weight_percent", 0u)) + "%";
      std::vector<std::string> row = {
          b["address"].get<std::string>(),
          b["state"].get<std::string>(),
          b["health"].get<std::string>(),
          weight,
          effective,
          b["maglev_share"].is_null() ? "-" : percent(b["maglev_share"].get<double>()),
          std::to_string(b["active_flows"].get<std::uint64_t>())};
      if (adaptive) {
        const auto ms = [](const nlohmann::json& v) {
          if (!v.is_number()) return std::string("-");
          char text[32];
          std::snprintf(text, sizeof text, "%.1f ms", v.get<double>());
          return std::string(text);
        };
        const auto rate = [](const nlohmann::json& v) {
          char text[32];
          std::snprintf(text, sizeof text, "%.0f", v.is_number() ? v.get<double>() : 0.0);
          return std::string(text);
        };
        const nlohmann::json none;
        const auto& check = b.contains("check_latency_ms") ? b["check_latency_ms"] : none;
        const auto& hs = b.contains("handshake_ms") ? b["handshake_ms"] : none;
        row.push_back(check.is_object() ? ms(check["ewma"]) : "-");
        row.push_back(hs.is_object() ? ms(hs["p50"]) + " / " + ms(hs["p99"]) : "-");
        row.push_back(rate(b.value("new_flows_per_s", nlohmann::json(0))));
        row.push_back(rate(b.value("syn_retransmits_per_s", nlohmann::json(0))));
        const std::string reason = b.value("weight_reason", std::string());
        row.push_back(reason.empty() ? "-" : reason);
      }
      table.add(row);
    }
    if (table.empty()) {
      std::cout << "  no backends\n";
    } else {
      table.print(std::cout, 2);
    }
    std::cout << "\n";
  }
  if (s["vips"].empty()) std::cout << "no VIPs\n\n";
  print_dataplanes(s["dataplanes"]);
}

}  // namespace

void add_status_command(CLI::App& app, Context& ctx) {
  CLI::App* command = app.add_subcommand(
      "status", "VIPs with backends, health, weights, Maglev shares, active flows; dataplanes");
  add_json_flag(command, ctx);
  command->callback([&ctx] { status(ctx); });
}

}  // namespace sluice::ctl

// sluicectl host drain | undrain | status: take this host out of the tier (withdraw its VIPs
// from the routers, optionally first tagged with GRACEFUL_SHUTDOWN) and see when it can stop.
#include <ctime>
#include <memory>

#include "sluicectl/context.hpp"
#include "sluicectl/table.hpp"

namespace sluice::ctl {
namespace {

std::string clock_text(const nlohmann::json& unix_seconds) {
  if (!unix_seconds.is_number()) return "-";
  const auto t = static_cast<std::time_t>(unix_seconds.get<double>());
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char text[32];
  if (std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0) return "?";
  return text;
}

void print_host(const nlohmann::json& h) {
  std::cout << "host " << h["host_name"].get<std::string>() << ": ";
  if (h["drained"].get<bool>()) {
    std::cout << "DRAINED since " << clock_text(h["drained_since"]);
    if (h["graceful_shutdown"].get<bool>()) {
      std::cout << " (graceful shutdown: tagged (65535,0) until " << clock_text(h["withdraw_at"])
                << ")";
    }
  } else {
    std::cout << "in service";
  }
  std::cout << "\n";
  if (!h["bgp"].get<bool>()) {
    std::cout << "BGP: not configured (controlplane.bgp): nothing is announced\n";
  } else if (!h["bird_error"].get<std::string>().empty()) {
    std::cout << "BIRD: " << h["bird_error"].get<std::string>() << "\n";
  }
  std::cout << "\n";
  Table vips({"VIP", "POLICY", "ANNOUNCED", "REASON"});
  for (const auto& v : h["vips"]) {
    vips.add({v["vip"].get<std::string>(), v["announce"].get<std::string>(),
              v["announced"].get<bool>() ? (v["graceful_shutdown"].get<bool>() ? "yes (GS)" : "yes")
                                         : "no",
              v["reason"].get<std::string>()});
  }
  if (vips.empty()) {
    std::cout << "no VIPs\n";
  } else {
    vips.print(std::cout);
  }
  std::cout << "\n";
  Table protocols({"PROTOCOL", "TYPE", "STATE", "SINCE", "INFO"});
  for (const auto& p : h["protocols"]) {
    protocols.add({p["name"].get<std::string>(), p["proto"].get<std::string>(),
                   p["state"].get<std::string>(), p["since"].get<std::string>(),
                   p["info"].get<std::string>()});
  }
  if (!protocols.empty()) {
    protocols.print(std::cout);
    std::cout << "\n";
  }
  Table dataplanes({"DATAPLANE", "REACHABLE", "ACTIVE FLOWS", "PACKETS/S"});
  for (const auto& d : h["dataplanes"]) {
    dataplanes.add({d["name"].get<std::string>(), d["reachable"].get<bool>() ? "yes" : "NO",
                    std::to_string(d["active_flows"].get<std::uint64_t>()),
                    d["rx_pps"].is_number()
                        ? std::to_string(static_cast<std::uint64_t>(d["rx_pps"].get<double>()))
                        : "-"});
  }
  if (!dataplanes.empty()) dataplanes.print(std::cout);
  std::cout << "still arriving: " << h["active_flows"].get<std::uint64_t>() << " active flows, "
            << static_cast<std::uint64_t>(h["rx_pps"].get<double>()) << " packets/s\n";
}

void host_status(Context& ctx) {
  auto reply = ctx.call({"GET", "/v1/host", ""});
  if (!reply) return;
  if (ctx.json) return Context::print_json(*reply);
  print_host(*reply);
}

void host_drain(Context& ctx, bool drain, bool no_graceful) {
  const std::string body =
      drain && no_graceful ? nlohmann::json{{"graceful_shutdown", false}}.dump() : "";
  auto reply = ctx.call({"POST", drain ? "/v1/host/drain" : "/v1/host/undrain", body});
  if (!reply) return;
  if (ctx.json) return Context::print_json(*reply);
  const auto& h = *reply;
  if (!drain) {
    std::cout << "host " << h["host_name"].get<std::string>()
              << " back in service: its VIPs are announced again once healthy\n";
    return;
  }
  std::cout << "host " << h["host_name"].get<std::string>() << " drained since "
            << clock_text(h["drained_since"]);
  if (h["graceful_shutdown"].get<bool>()) {
    std::cout << ": routes tagged GRACEFUL_SHUTDOWN (65535,0), withdrawn at "
              << clock_text(h["withdraw_at"]);
  } else {
    std::cout << ": every VIP withdrawn";
  }
  std::cout << "; the dataplane keeps forwarding what still arrives (see `sluicectl host "
               "status`)\n";
}

}  // namespace

void add_host_commands(CLI::App& app, Context& ctx) {
  CLI::App* host = app.add_subcommand("host", "this host in the tier: drain, undrain, status");
  host->require_subcommand(1);

  auto no_graceful = std::make_shared<bool>(false);
  CLI::App* drain = host->add_subcommand(
      "drain", "withdraw every VIP of this host (first tagged (65535,0) when graceful)");
  drain->add_flag("--no-graceful-shutdown", *no_graceful,
                  "withdraw at once, without the GRACEFUL_SHUTDOWN community first");
  add_json_flag(drain, ctx);
  drain->callback([&ctx, no_graceful] { host_drain(ctx, true, *no_graceful); });

  CLI::App* undrain = host->add_subcommand("undrain", "put this host back in service");
  add_json_flag(undrain, ctx);
  undrain->callback([&ctx] { host_drain(ctx, false, false); });

  CLI::App* status = host->add_subcommand(
      "status", "drain state, announced VIPs with reasons, BGP sessions, traffic still arriving");
  add_json_flag(status, ctx);
  status->callback([&ctx] { host_status(ctx); });
}

}  // namespace sluice::ctl

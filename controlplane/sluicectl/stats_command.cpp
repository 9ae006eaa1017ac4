// sluicectl stats [--watch [--interval S] [--count N]]: rates per VIP and backend, drops,
// per-lcore load. The daemon computes rates over its last poll of the dataplanes (~1 s).
#include <unistd.h>

#include <memory>
#include <thread>

#include "sluicectl/context.hpp"
#include "sluicectl/table.hpp"

namespace sluice::ctl {
namespace {

struct StatsArgs {
  bool watch = false;
  double interval_s = 1;
  std::uint32_t count = 0;
};

void print_stats(const nlohmann::json& s) {
  Table traffic(
      {"VIP / BACKEND", "PACKETS/S", "BITS/S", "NEW FLOWS/S", "ACTIVE FLOWS", "PACKETS", "BYTES"});
  for (const auto& v : s["vips"]) {
    auto row = [&](const std::string& name, const nlohmann::json& t) {
      traffic.add({name, si(t["packets_per_s"].get<double>()),
                   bits_per_s(t["bits_per_s"].get<double>()),
                   si(t["new_flows_per_s"].get<double>()), si(t["active_flows"].get<double>()),
                   si(t["packets"].get<double>()), si(t["bytes"].get<double>())});
    };
    row(v["vip"].get<std::string>(), v);
    for (const auto& b : v["backends"])
      row("  " + b["address"].get<std::string>(), b);
  }
  if (traffic.empty()) {
    std::cout << "no counters yet (no dataplane reachable, or no VIP)\n";
  } else {
    traffic.print(std::cout);
  }

  // Second chance (docs/second-chance.md): only VIPs that adopted flows with a hop.
  for (const auto& v : s["vips"]) {
    if (v.value("second_hop_flows", std::uint64_t{0}) == 0) continue;
    std::cout << "second chance " << v["vip"].get<std::string>() << ": "
              << v["second_hop_flows"].get<std::uint64_t>()
              << " flows adopted naming their previous owner, "
              << v["second_hop_packets"].get<std::uint64_t>() << " packets carried the hop\n";
  }

  Table drops({"DROP REASON", "PACKETS/S", "PACKETS"});
  for (const auto& d : s["drops"]) {
    if (d["packets"].get<std::uint64_t>() == 0) continue;
    drops.add({d["reason"].get<std::string>(), si(d["packets_per_s"].get<double>()),
               si(d["packets"].get<double>())});
  }
  std::cout << "\n";
  if (drops.empty()) {
    std::cout << "no drops\n";
  } else {
    drops.print(std::cout);
  }

  Table lcores({"DATAPLANE", "LCORE", "LOAD", "RX/S", "TX/S"});
  for (const auto& l : s["lcores"]) {
    lcores.add({l["dataplane"].get<std::string>(), std::to_string(l["lcore"].get<std::uint32_t>()),
                percent(l["load"].get<double>()), si(l["rx_packets_per_s"].get<double>()),
                si(l["tx_packets_per_s"].get<double>())});
  }
  if (!lcores.empty()) {
    std::cout << "\n";
    lcores.print(std::cout);
  }
}

void stats(Context& ctx, const StatsArgs& args) {
  const bool tty = ::isatty(STDOUT_FILENO) != 0;
  for (std::uint32_t round = 0; args.count == 0 || round < args.count; ++round) {
    if (round > 0) {
      std::this_thread::sleep_for(
          std::chrono::milliseconds(static_cast<std::int64_t>(args.interval_s * 1000)));
    }
    auto reply = ctx.call({"GET", "/v1/stats", ""});
    if (!reply) return;
    if (ctx.json) {
      // One JSON document per line when watching, so the output can be piped to jq.
      std::cout << (args.watch ? reply->dump() : reply->dump(2)) << std::endl;
    } else {
      if (args.watch && tty) std::cout << "\033[H\033[2J";
      if (args.watch && !tty && round > 0) std::cout << "\n";
      print_stats(*reply);
      std::cout << std::flush;
    }
    if (!args.watch) return;
  }
}

}  // namespace

void add_stats_command(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<StatsArgs>();
  CLI::App* command = app.add_subcommand("stats", "traffic rates, drops and lcore load");
  add_json_flag(command, ctx);
  command->add_flag("--watch,-w", args->watch, "refresh until interrupted (or --count times)");
  command->add_option("--interval", args->interval_s, "seconds between refreshes (default 1)")
      ->check(CLI::Range(0.1, 3600.0));
  command->add_option("--count,-n", args->count,
                      "stop after N refreshes (with --watch; 0: no limit)");
  command->callback([&ctx, args] { stats(ctx, *args); });
}

}  // namespace sluice::ctl

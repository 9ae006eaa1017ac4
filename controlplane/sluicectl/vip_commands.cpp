// sluicectl vip add | remove | list
#include <memory>

#include "sluice/config/names.hpp"
#include "sluicectl/context.hpp"
#include "sluicectl/health_check_flags.hpp"
#include "sluicectl/table.hpp"

namespace sluice::ctl {
namespace {

struct VipAddArgs {
  std::string vip;
  std::optional<std::string> scheduler;
  std::optional<std::string> encap;
  std::optional<std::string> second_chance;
  std::optional<std::string> all_down;
  std::optional<std::string> fragments;
  std::optional<std::uint32_t> maglev_table_size;
  std::optional<std::string> weights;
  std::optional<std::uint32_t> slow_start_s;
  std::optional<std::uint16_t> agent_port;
  std::optional<std::uint32_t> agent_interval_ms;
  std::optional<std::string> passive_failure;
  std::optional<std::string> syn_rescue;
  std::vector<std::string> backends;
  HealthCheckFlags check;
};

// "198.18.1.1" or "198.18.1.1,weight=3"
std::optional<nlohmann::json> backend_from_flag(const std::string& text) {
  const std::size_t comma = text.find(',');
  nlohmann::json b{{"address", text.substr(0, comma)}};
  if (comma == std::string::npos) return b;
  const std::string rest = text.substr(comma + 1);
  if (rest.rfind("weight=", 0) != 0) return std::nullopt;
  try {
    const unsigned long weight = std::stoul(rest.substr(7));
    b["weight"] = weight;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return b;
}

void vip_add(Context& ctx, const VipAddArgs& args) {
  Result<config::VipKey> key = config::parse_vip_key(args.vip);
  if (!key.ok()) {
    std::cerr << "sluicectl: VIP: " << key.error().message
              << "\n  write it as ADDRESS:PORT/PROTOCOL, e.g. 198.18.0.10:80/tcp or "
                 "[2001:db8::10]:443/tcp\n";
    ctx.exit_code = kExitRefused;
    return;
  }
  nlohmann::json body{{"address", key->address.to_string()},
                      {"port", key->port},
                      {"protocol", std::string(config::to_string(key->protocol))}};
  if (args.scheduler) body["scheduler"] = *args.scheduler;
  if (args.encap) body["encap"] = *args.encap;
  if (args.second_chance) body["second_chance"] = *args.second_chance;
  if (args.all_down) body["all_down"] = *args.all_down;
  if (args.fragments) body["fragments"] = *args.fragments;
  if (args.maglev_table_size) body["maglev_table_size"] = *args.maglev_table_size;
  if (args.weights) body["weights"] = *args.weights;
  if (args.slow_start_s) body["slow_start_s"] = *args.slow_start_s;
  if (args.agent_port) {
    body["agent_check"] = nlohmann::json{{"port", *args.agent_port}};
    if (args.agent_interval_ms) body["agent_check"]["interval_ms"] = *args.agent_interval_ms;
  }
  if (args.passive_failure) body["passive_failure"] = *args.passive_failure;
  if (args.syn_rescue) body["syn_rescue"] = *args.syn_rescue;
  if (auto check = args.check.to_json()) body["health_check"] = *check;
  nlohmann::json backends = nlohmann::json::array();
  for (const std::string& text : args.backends) {
    std::optional<nlohmann::json> b = backend_from_flag(text);
    if (!b) {
      std::cerr << "sluicectl: --backend \"" << text
                << "\": expected ADDRESS or ADDRESS,weight=N\n";
      ctx.exit_code = kExitRefused;
      return;
    }
    backends.push_back(std::move(*b));
  }
  body["backends"] = std::move(backends);
  if (auto reply = ctx.call({"POST", "/v1/vips", body.dump()})) {
    std::cout << "added VIP " << config::to_string(*key) << " (revision " << (*reply)["revision"]
              << ")\n";
  }
}

void vip_remove(Context& ctx, const std::string& vip) {
  if (auto reply = ctx.call({"DELETE", with_query("/v1/vips", {{"vip", vip}}), ""})) {
    std::cout << "removed VIP " << vip << " (revision " << (*reply)["revision"] << ")\n";
  }
}

std::string check_summary(const nlohmann::json& vip) {
  if (!vip.contains("health_check")) return "none";
  const auto& c = vip["health_check"];
  std::string out = c.value("type", "none");
  if (out == "none") return out;
  if (c.contains("path") && (out == "http" || out == "https"))
    out += " " + c["path"].get<std::string>();
  out += " every " + std::to_string(c.value("interval_ms", 0)) + "ms";
  out +=
      " rise " + std::to_string(c.value("rise", 0)) + " fall " + std::to_string(c.value("fall", 0));
  return out;
}

void vip_list(Context& ctx) {
  auto reply = ctx.call({"GET", "/v1/vips", ""});
  if (!reply) return;
  if (ctx.json) return Context::print_json(*reply);
  Table table({"VIP", "SCHEDULER", "ENCAP", "BACKENDS", "HEALTH CHECK", "ALL DOWN"});
  for (const auto& vip : (*reply)["vips"]) {
    table.add({vip["vip"].get<std::string>(), vip["scheduler"].get<std::string>(),
               vip["encap"].get<std::string>(), std::to_string(vip["backends"].size()),
               check_summary(vip), vip["all_down"].get<std::string>()});
  }
  if (table.empty()) {
    std::cout
        << "no VIPs (add one with: sluicectl vip add 198.18.0.10:80/tcp --backend 198.18.1.1)\n";
    return;
  }
  table.print(std::cout);
}

}  // namespace

void add_vip_commands(CLI::App& app, Context& ctx) {
  CLI::App* vip = app.add_subcommand("vip", "add, remove and list VIPs");
  vip->require_subcommand(1);

  auto args = std::make_shared<VipAddArgs>();
  CLI::App* add = vip->add_subcommand("add", "add a VIP (persisted; pushed to every dataplane)");
  add->add_option("vip", args->vip, "ADDRESS:PORT/PROTOCOL, e.g. 198.18.0.10:80/tcp (port 0: any)")
      ->required();
  add->add_option("--scheduler", args->scheduler,
                  "maglev (default), round-robin, weighted-round-robin, random, least-connections, "
                  "source-hash");
  add->add_option("--encap", args->encap, "ipip (default) or gue");
  add->add_option("--second-chance", args->second_chance,
                  "on or off; default on for a TCP VIP with gue and maglev "
                  "(docs/second-chance.md)");
  add->add_option("--all-down", args->all_down,
                  "when every backend is down: keep-last-healthy (default) or drop");
  add->add_option("--fragments", args->fragments, "forward (default) or drop");
  add->add_option("--maglev-table-size", args->maglev_table_size, "prime, default 65537");
  add->add_option("--weights", args->weights,
                  "static (default) or adaptive: weights follow latency, agent, slow start and "
                  "passive signals (docs/adaptive-weights.md)");
  add->add_option("--slow-start", args->slow_start_s,
                  "seconds a backend that comes up takes to reach its weight (adaptive)");
  add->add_option("--agent-port", args->agent_port,
                  "TCP port of the backends' HAProxy-style agent (adaptive; docs/agent-check.md)");
  add->add_option("--agent-interval-ms", args->agent_interval_ms,
                  "between agent checks, default 2000 (with --agent-port)");
  add->add_option("--passive-failure", args->passive_failure,
                  "on (default on adaptive VIPs) or off: take a backend whose SYNs go "
                  "unanswered out of new flows at once");
  add->add_option("--syn-rescue", args->syn_rescue,
                  "on (default) or off: reschedule retransmitted SYNs of a backend that takes "
                  "no new flows");
  add->add_option("--backend", args->backends, "ADDRESS or ADDRESS,weight=N (repeatable)");
  args->check.add_to(add);
  add->callback([&ctx, args] { vip_add(ctx, *args); });

  auto remove_vip = std::make_shared<std::string>();
  CLI::App* remove = vip->add_subcommand("remove", "remove a VIP and all its backends");
  remove->add_option("vip", *remove_vip, "ADDRESS:PORT/PROTOCOL")->required();
  remove->callback([&ctx, remove_vip] { vip_remove(ctx, *remove_vip); });

  CLI::App* list = vip->add_subcommand("list", "list the VIPs (desired state)");
  add_json_flag(list, ctx);
  list->callback([&ctx] { vip_list(ctx); });
}

}  // namespace sluice::ctl

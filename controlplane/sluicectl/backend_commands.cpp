// sluicectl backend add | remove | weight | drain | undrain | list
#include <memory>

#include "sluicectl/context.hpp"
#include "sluicectl/health_check_flags.hpp"
#include "sluicectl/table.hpp"

namespace sluice::ctl {
namespace {

struct BackendArgs {
  std::string vip;
  std::string address;
  std::uint32_t weight = 1;
  bool drained = false;
  HealthCheckFlags check;
};

std::string backend_query(const std::string& path, const BackendArgs& a) {
  return with_query(path, {{"vip", a.vip}, {"address", a.address}});
}

void report(Context& ctx, const std::optional<nlohmann::json>& reply) {
  if (!reply) return;
  std::cout << (*reply)["change"].get<std::string>() << " (revision " << (*reply)["revision"]
            << ")\n";
  (void)ctx;
}

void backend_list(Context& ctx, const std::string& vip) {
  const std::string target =
      vip.empty() ? "/v1/backends" : with_query("/v1/backends", {{"vip", vip}});
  auto reply = ctx.call({"GET", target, ""});
  if (!reply) return;
  if (ctx.json) return Context::print_json(*reply);
  Table table({"VIP", "BACKEND", "WEIGHT", "DRAINED", "HEALTH", "STATE", "EFFECTIVE"});
  for (const auto& b : (*reply)["backends"]) {
    table.add({b["vip"].get<std::string>(), b["address"].get<std::string>(),
               std::to_string(b["weight"].get<std::uint32_t>()),
               b["drained"].get<bool>() ? "yes" : "no", b["health"].get<std::string>(),
               b["state"].get<std::string>(),
               std::to_string(b["effective_weight"].get<std::uint32_t>())});
  }
  if (table.empty()) {
    std::cout << "no backends\n";
    return;
  }
  table.print(std::cout);
}

CLI::App* with_target(CLI::App* command, BackendArgs& args) {
  command->add_option("vip", args.vip, "ADDRESS:PORT/PROTOCOL, e.g. 198.18.0.10:80/tcp")
      ->required();
  command->add_option("address", args.address, "backend address, e.g. 198.18.1.1")->required();
  return command;
}

}  // namespace

void add_backend_commands(CLI::App& app, Context& ctx) {
  CLI::App* backend = app.add_subcommand("backend", "add, remove, weigh, drain and list backends");
  backend->require_subcommand(1);
  auto args = std::make_shared<BackendArgs>();

  CLI::App* add = with_target(backend->add_subcommand("add", "add a backend to a VIP"), *args);
  add->add_option("--weight", args->weight, "relative share of new flows, 0..65535 (default 1)");
  add->add_flag("--drained", args->drained, "add it drained (weight kept, no new flows)");
  args->check.add_to(add);
  add->callback([&ctx, args] {
    nlohmann::json body{{"address", args->address}, {"weight", args->weight}};
    if (args->drained) body["drained"] = true;
    if (auto check = args->check.to_json()) body["health_check"] = *check;
    report(ctx, ctx.call({"POST", with_query("/v1/backends", {{"vip", args->vip}}), body.dump()}));
  });

  CLI::App* remove = with_target(
      backend->add_subcommand("remove", "remove a backend (its flows move to the others)"), *args);
  remove->callback([&ctx, args] {
    report(ctx, ctx.call({"DELETE", backend_query("/v1/backends", *args), ""}));
  });

  CLI::App* weight =
      with_target(backend->add_subcommand("weight", "set a backend's weight"), *args);
  weight->add_option("weight", args->weight, "0..65535 (0: no new flows, like drain)")->required();
  weight->callback([&ctx, args] {
    const nlohmann::json body{{"weight", args->weight}};
    report(ctx, ctx.call({"PUT", backend_query("/v1/backends/weight", *args), body.dump()}));
  });

  CLI::App* drain = with_target(
      backend->add_subcommand("drain", "stop new flows to a backend; existing flows stay"), *args);
  drain->callback([&ctx, args] {
    report(ctx, ctx.call({"POST", backend_query("/v1/backends/drain", *args), ""}));
  });

  CLI::App* undrain = with_target(
      backend->add_subcommand("undrain", "let a drained backend take new flows again"), *args);
  undrain->callback([&ctx, args] {
    report(ctx, ctx.call({"POST", backend_query("/v1/backends/undrain", *args), ""}));
  });

  auto list_vip = std::make_shared<std::string>();
  CLI::App* list = backend->add_subcommand("list", "list backends (of one VIP, or all)");
  list->add_option("vip", *list_vip, "ADDRESS:PORT/PROTOCOL (optional)");
  add_json_flag(list, ctx);
  list->callback([&ctx, list_vip] { backend_list(ctx, *list_vip); });
}

}  // namespace sluice::ctl

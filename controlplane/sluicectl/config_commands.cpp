// sluicectl config validate FILE: the daemon's own loader and validator, offline.
#include <memory>

#include "sluice/config/validate.hpp"
#include "sluice/config/yaml.hpp"
#include "sluicectl/context.hpp"

namespace sluice::ctl {
namespace {

void validate(Context& ctx, const std::string& path) {
  Result<config::State> state = config::load_yaml_file(path);
  if (state.ok()) {
    if (Status intent = config::validate_desired(state.value()); !intent.ok()) {
      state = intent.error();
    }
  }
  if (!state.ok()) {
    if (ctx.json) {
      Context::print_json(nlohmann::json{{"valid", false}, {"error", state.error().message}});
    } else {
      std::cerr << state.error().message << "\n";
    }
    ctx.exit_code = kExitRefused;
    return;
  }
  std::size_t backends = 0;
  for (const config::Vip& vip : state->vips)
    backends += vip.backends.size();
  if (ctx.json) {
    Context::print_json(nlohmann::json{{"valid", true},
                                       {"vips", state->vips.size()},
                                       {"backends", backends},
                                       {"dataplanes", state->dataplanes.size()}});
    return;
  }
  std::cout << path << ": valid (" << state->vips.size() << " VIPs, " << backends << " backends, "
            << state->dataplanes.size() << " dataplanes)\n";
}

}  // namespace

void add_config_commands(CLI::App& app, Context& ctx) {
  CLI::App* config = app.add_subcommand("config", "work with configuration files");
  config->require_subcommand(1);
  auto path = std::make_shared<std::string>();
  CLI::App* command = config->add_subcommand(
      "validate", "check a YAML file offline, as the daemon would at start (no daemon needed)");
  command->add_option("file", *path, "YAML file")->required();
  add_json_flag(command, ctx);
  command->callback([&ctx, path] { validate(ctx, *path); });
}

}  // namespace sluice::ctl

// sluicectl: the operator's CLI, a client of sluice-controlplane's API (docs/operations.md).
#include <CLI/CLI.hpp>

#include "sluicectl/context.hpp"

int main(int argc, char** argv) {
  using namespace sluice::ctl;
  Context ctx;
  CLI::App app{
      "sluicectl: operate Sluice through sluice-controlplane's API.\n"
      "Exit codes: 0 ok, 1 usage, 2 input refused, 3 daemon/dataplane unreachable,\n"
      "4 not found, 5 already exists, 6 daemon error, 7 permission denied."};
  app.add_option("--socket,-s", ctx.socket, "API socket of sluice-controlplane")
      ->envname("SLUICE_SOCKET")
      ->capture_default_str();
  app.add_option("--timeout", ctx.timeout_s, "seconds to wait for the daemon")
      ->capture_default_str();
  app.require_subcommand(1);
  app.fallthrough();

  add_vip_commands(app, ctx);
  add_backend_commands(app, ctx);
  add_status_command(app, ctx);
  add_stats_command(app, ctx);
  add_explain_command(app, ctx);
  add_health_command(app, ctx);
  add_config_commands(app, ctx);
  add_host_commands(app, ctx);
  add_top_command(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  return ctx.exit_code;
}

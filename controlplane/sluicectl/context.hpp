// What every sluicectl command shares: global flags, the call to the daemon, and the mapping
// of failures to exit codes and to messages that say what to fix.
#pragma once

#include <chrono>
#include <iostream>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "sluicectl/api_client.hpp"
#include "sluicectl/exit_codes.hpp"

namespace sluice::ctl {

inline constexpr const char* kDefaultSocket = "/run/sluice/controlplane.sock";

struct Context {
  std::string socket = kDefaultSocket;
  bool json = false;
  double timeout_s = 10;
  int exit_code = kExitOk;

  // Calls the daemon. On success (2xx) returns the body; otherwise prints why to stderr, sets
  // exit_code and returns nullopt.
  std::optional<nlohmann::json> call(const ApiRequest& request);

  // Prints `body` as JSON (for --json).
  static void print_json(const nlohmann::json& body);
};

// Adds --json to a read command.
inline void add_json_flag(CLI::App* command, Context& ctx) {
  command->add_flag("--json", ctx.json, "print the API's JSON instead of a table");
}

void add_vip_commands(CLI::App& app, Context& ctx);
void add_backend_commands(CLI::App& app, Context& ctx);
void add_status_command(CLI::App& app, Context& ctx);
void add_stats_command(CLI::App& app, Context& ctx);
void add_explain_command(CLI::App& app, Context& ctx);
void add_health_command(CLI::App& app, Context& ctx);
void add_config_commands(CLI::App& app, Context& ctx);
void add_host_commands(CLI::App& app, Context& ctx);
void add_top_command(CLI::App& app, Context& ctx);

}  // namespace sluice::ctl

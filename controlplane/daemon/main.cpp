// sluice-controlplane: argument parsing and logging set-up; daemon.cpp does the rest.
#include <spdlog/spdlog.h>

#include <variant>

#include "daemon/daemon.hpp"
#include "daemon/options.hpp"

int main(int argc, char** argv) {
  std::variant<sluice::cp::DaemonOptions, int> parsed =
      sluice::cp::parse_daemon_options(argc, argv);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const auto& options = std::get<sluice::cp::DaemonOptions>(parsed);
  spdlog::set_level(spdlog::level::from_str(options.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  return sluice::cp::run_daemon(options);
}

// sluice-dataplane [EAL options] -- [options]: CPU check, EAL, arguments, launch. Nothing else.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <string>
#include <vector>

#include "app.hpp"
#include "eal.hpp"
#include "options.hpp"
#include "signals.hpp"
#include "sluice/cpu_features.hpp"

int main(int argc, char** argv) {
  if (const sluice::Status cpu = sluice::check_cpu_features(); !cpu) {
    std::fprintf(stderr, "sluice-dataplane: %s\n", cpu.error().message.c_str());
    return 1;
  }
  using namespace sluice::dataplane;
  // EAL arguments come before "--", ours after it. "sluice-dataplane --help" alone is ours too.
  std::vector<std::string> eal_args{argv[0]};
  std::vector<std::string> app_args{argv[0]};
  int i = 1;
  for (; i < argc && std::string(argv[i]) != "--"; ++i)
    eal_args.emplace_back(argv[i]);
  for (++i; i < argc; ++i)
    app_args.emplace_back(argv[i]);
  if (eal_args.size() == 2 && (eal_args[1] == "--help" || eal_args[1] == "-h")) {
    app_args.push_back("--help");
  }

  // Parse our options before EAL starts, so a typo costs no hugepages.
  const ParsedOptions parsed = parse_options(app_args);
  if (!parsed.options) return parsed.exit_code;
  const Options& options = *parsed.options;

  spdlog::set_default_logger(spdlog::stderr_color_mt("sluice-dataplane"));
  spdlog::set_level(spdlog::level::from_str(options.log_level));
  install_stop_signal_handlers();

  auto eal = Eal::init(eal_args);
  if (!eal) {
    spdlog::error("{}", eal.error().message);
    return 1;
  }
  if (auto status = run_dataplane(options, **eal); !status) {
    spdlog::error("{}", status.error().message);
    return 1;
  }
  return 0;
}

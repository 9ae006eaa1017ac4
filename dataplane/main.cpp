// sluice-dataplane [EAL options] -- [options]: CPU check, arguments, what a dead predecessor
// left, EAL, launch, and on the way out the files DPDK itself leaves behind. Nothing else.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <string>
#include <vector>

#include "app.hpp"
#include "eal.hpp"
#include "options.hpp"
#include "runtime_files.hpp"
#include "signals.hpp"
#include "sluice/cpu_features.hpp"

namespace {

using namespace sluice::dataplane;

// Before EAL: refuse to start beside a live primary of the same prefix (EAL would fail with
// "Cannot init config" and no hint), and remove what a dead one left.
bool prepare_files(const EalFiles& files) {
  if (!files.shared) return true;
  if (const auto pid = live_primary(files)) {
    spdlog::error(
        "another DPDK primary process (pid {}) runs with --file-prefix {}: stop it or give this "
        "dataplane another --file-prefix",
        *pid, files.prefix);
    return false;
  }
  auto removed = remove_leftovers(files);
  if (!removed) {
    spdlog::error("{}", removed.error().message);
    return false;
  }
  if (!removed->empty() || !removed->kept.empty()) {
    spdlog::warn("removed what a dead dataplane left: {}", removed->describe(files.prefix));
  }
  return true;
}

// After rte_eal_cleanup: DPDK keeps its hugepage files (and so the hugepages) and its runtime
// directory even after a clean exit; release them.
void release_files(const EalFiles& files) {
  if (!files.shared) return;
  auto removed = remove_leftovers(files, Caller::its_primary_after_cleanup);
  if (!removed) {
    spdlog::warn("could not release the DPDK files: {}", removed.error().message);
  } else if (!removed->empty()) {
    spdlog::info("released {}", removed->describe(files.prefix));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (const sluice::Status cpu = sluice::check_cpu_features(); !cpu) {
    std::fprintf(stderr, "sluice-dataplane: %s\n", cpu.error().message.c_str());
    return 1;
  }
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

  const EalFiles files = eal_files(eal_args, hugetlbfs_mounts());
  if (options.remove_leftovers) {
    if (!files.shared) return 0;
    auto removed = remove_leftovers(files);
    if (!removed) {
      spdlog::error("{}", removed.error().message);
      return 1;
    }
    spdlog::info("removed {}", removed->describe(files.prefix));
    return 0;
  }
  if (!prepare_files(files)) return 1;
  install_stop_signal_handlers();

  auto eal = Eal::init(eal_args);
  if (!eal) {
    spdlog::error("{}", eal.error().message);
    return 1;
  }
  const sluice::Status status = run_dataplane(options, **eal);
  eal.value().reset();  // rte_eal_cleanup
  release_files(files);
  if (!status) {
    spdlog::error("{}", status.error().message);
    return 1;
  }
  return 0;
}

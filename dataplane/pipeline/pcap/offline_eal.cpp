#include "pipeline/pcap/offline_eal.hpp"

#include <rte_eal.h>
#include <rte_errno.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>
#include <vector>

namespace sluice::pipeline {
namespace {

// The runtime directory (/var/run/dpdk/<prefix>) is ours alone: leave nothing behind.
void remove_runtime_dir(const std::string& dir) {
  std::error_code ignored;
  if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
}

}  // namespace

Result<std::unique_ptr<OfflineEal>> OfflineEal::start(const std::string& program,
                                                      std::size_t memory_mb) {
  std::vector<std::string> args = {program,
                                   "--no-huge",
                                   "--no-pci",
                                   "--no-shconf",
                                   "--no-telemetry",
                                   "-l",
                                   "0",
                                   "-m",
                                   std::to_string(memory_mb),
                                   "--file-prefix",
                                   program + "-" + std::to_string(::getpid()),
                                   "--log-level",
                                   "lib.eal:error"};
  std::vector<char*> argv;
  for (std::string& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0) {
    const int error = rte_errno;
    remove_runtime_dir(rte_eal_get_runtime_dir());
    return Error{std::string("rte_eal_init failed: ") + rte_strerror(error)};
  }
  return std::unique_ptr<OfflineEal>(new OfflineEal());
}

OfflineEal::~OfflineEal() {
  const std::string dir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  remove_runtime_dir(dir);
}

}  // namespace sluice::pipeline

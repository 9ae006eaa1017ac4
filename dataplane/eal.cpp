#include "eal.hpp"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>

#include <cstring>

namespace sluice::dataplane {

Result<std::unique_ptr<Eal>> Eal::init(const std::vector<std::string>& args) {
  // rte_eal_init may permute argv; give it private copies.
  std::vector<std::string> storage = args;
  std::vector<char*> argv;
  argv.reserve(storage.size() + 1);
  for (auto& a : storage)
    argv.push_back(a.data());
  argv.push_back(nullptr);

  if (rte_eal_init(static_cast<int>(storage.size()), argv.data()) < 0) {
    return Error{std::string("EAL initialisation failed: ") + rte_strerror(rte_errno)};
  }
  std::unique_ptr<Eal> eal(new Eal());
  eal->main_ = rte_get_main_lcore();
  unsigned lcore = 0;
  RTE_LCORE_FOREACH_WORKER(lcore) {
    eal->workers_.push_back(lcore);
  }
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--file-prefix") eal->file_prefix_ = args[i + 1];
  }
  for (const auto& a : args) {
    if (a.starts_with("--file-prefix="))
      eal->file_prefix_ = a.substr(std::strlen("--file-prefix="));
  }
  if (eal->file_prefix_.empty()) eal->file_prefix_ = "rte";
  return eal;
}

Eal::~Eal() {
  rte_eal_cleanup();
}

}  // namespace sluice::dataplane

// The DPDK Environment Abstraction Layer as an RAII handle: rte_eal_init on creation,
// rte_eal_cleanup on destruction. Errors come back as values; nothing here calls rte_exit.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sluice/result.hpp"

namespace sluice::dataplane {

class Eal {
 public:
  // `args` are the EAL arguments, program name first (what precedes "--" on the command line).
  [[nodiscard]] static Result<std::unique_ptr<Eal>> init(const std::vector<std::string>& args);

  Eal(const Eal&) = delete;
  Eal& operator=(const Eal&) = delete;
  ~Eal();

  // Worker lcores (every enabled lcore except the main one), in id order.
  [[nodiscard]] const std::vector<unsigned>& worker_lcores() const { return workers_; }
  [[nodiscard]] unsigned main_lcore() const { return main_; }
  [[nodiscard]] const std::string& file_prefix() const { return file_prefix_; }

 private:
  Eal() = default;
  std::vector<unsigned> workers_;
  unsigned main_ = 0;
  std::string file_prefix_;
};

}  // namespace sluice::dataplane

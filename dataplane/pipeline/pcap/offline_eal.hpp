// A minimal EAL for offline use (sluice-pcap, pipeline unit tests): one lcore, no hugepages
// (--no-huge; --in-memory would conflict with the legacy memory mode that implies),
// no PCI, nothing shared with other DPDK processes. RAII: rte_eal_cleanup on destruction.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "sluice/result.hpp"

namespace sluice::pipeline {

class OfflineEal {
 public:
  // `memory_mb`: the --no-huge memory (-m). The file prefix is made unique with the pid.
  [[nodiscard]] static Result<std::unique_ptr<OfflineEal>> start(const std::string& program,
                                                                 std::size_t memory_mb);
  OfflineEal(const OfflineEal&) = delete;
  OfflineEal& operator=(const OfflineEal&) = delete;
  ~OfflineEal();

 private:
  OfflineEal() = default;
};

}  // namespace sluice::pipeline

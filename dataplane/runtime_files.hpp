// The files a DPDK primary process leaves behind, and their removal once it is dead.
//
// A primary with --file-prefix P keeps its hugepage memory in files P"map_"N in the hugetlbfs
// directory (--huge-dir, else every hugetlbfs mount) and its runtime state (config, fbarray_*,
// hugepage_info, mp_socket, dpdk_telemetry.v2) in /var/run/dpdk/P/. DPDK 22.11 removes neither,
// not even at a clean exit: the hugepages stay allocated until the files are deleted, so a
// dataplane that stopped (or was SIGKILLed) and is not started again with the same prefix keeps
// its whole --socket-mem. Checked on the lab VM: --socket-mem 256 left 128 files (256 MiB) after
// SIGTERM and after SIGKILL; a start with the same prefix replaces them, one with another prefix
// does not.
//
// remove_leftovers() deletes them only when nobody holds them: the prefix's primary must be
// gone (no process holds the write lock DPDK keeps on its `config` file), and each file must
// not be locked (DPDK takes a shared flock on every hugepage and fbarray file it maps,
// secondaries such as dpdk-dumpcap included) nor, for a socket, be listened on. No DPDK here:
// this runs before rte_eal_init and after rte_eal_cleanup.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sluice/result.hpp"

namespace sluice::dataplane {

struct EalFiles {
  std::string prefix = "rte";
  std::string runtime_dir;             // /var/run/dpdk/<prefix> (as DPDK chooses it)
  std::vector<std::string> huge_dirs;  // where <prefix>map_* may be
  bool shared = true;  // false with --in-memory or --no-shconf: DPDK creates no files
};

// The files `eal_args` (program name first, as given to rte_eal_init) make DPDK use.
// `hugetlbfs_mounts` are the mount points to look in when there is no --huge-dir.
[[nodiscard]] EalFiles eal_files(const std::vector<std::string>& eal_args,
                                 const std::vector<std::string>& hugetlbfs_mounts);
// Mount points of hugetlbfs file systems (/proc/mounts).
[[nodiscard]] std::vector<std::string> hugetlbfs_mounts();

// The pid of the live primary process of the prefix, if any.
[[nodiscard]] std::optional<pid_t> live_primary(const EalFiles& files);

struct Leftovers {
  std::size_t hugepage_files = 0;
  std::uint64_t hugepage_bytes = 0;
  std::size_t runtime_files = 0;
  bool runtime_dir_removed = false;
  std::vector<std::string> kept;  // held by a live process (a secondary of the dead primary)

  [[nodiscard]] bool empty() const { return hugepage_files == 0 && runtime_files == 0; }
  [[nodiscard]] std::string describe(const std::string& prefix) const;
};

enum class Caller {
  anyone,                     // before rte_eal_init, or another process (--remove-leftovers)
  its_primary_after_cleanup,  // the primary itself on its way out: its own sockets go too
};

// Removes what a dead primary with the prefix left. An Error, and nothing removed, when a live
// primary holds the prefix (its message names the pid). Locks this process holds itself do not
// count as held.
[[nodiscard]] Result<Leftovers> remove_leftovers(const EalFiles& files,
                                                 Caller caller = Caller::anyone);

}  // namespace sluice::dataplane

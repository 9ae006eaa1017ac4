#include "runtime_files.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sluice/unique_fd.hpp"

namespace sluice::dataplane {
namespace {

namespace fs = std::filesystem;

// "--name value" or "--name=value"; advances i past what it used.
std::optional<std::string> option_value(const std::vector<std::string>& args, std::size_t& i,
                                        const std::string& name) {
  const std::string& a = args[i];
  if (a == name && i + 1 < args.size()) return args[++i];
  if (a.starts_with(name + "=")) return a.substr(name.size() + 1);
  return std::nullopt;
}

// Where DPDK 22.11 puts its runtime directory (eal_create_runtime_dir).
std::string runtime_root() {
  if (::getuid() == 0) return "/var/run";
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  return xdg != nullptr ? xdg : "/tmp";
}

// <prefix>map_<digits>: a hugepage file of this prefix (eal_get_hugefile_path).
bool is_hugepage_file(const std::string& name, const std::string& prefix) {
  const std::string head = prefix + "map_";
  if (!name.starts_with(head) || name.size() == head.size()) return false;
  for (std::size_t i = head.size(); i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
  }
  return true;
}

enum class Removal { removed, held, failed };

// Pids holding a lock on the file (dev, inode), other than this process, from /proc/locks
// ("1: FLOCK  ADVISORY  READ 4242 fe:00:10961265 0 EOF": major and minor in hex).
std::vector<pid_t> other_lock_holders(dev_t dev, ino_t ino) {
  std::vector<pid_t> out;
  std::ifstream locks("/proc/locks");
  std::string line;
  while (std::getline(locks, line)) {
    std::istringstream f(line);
    std::string id, kind, mode, access, where;
    long pid = 0;
    if (!(f >> id >> kind) || kind == "->") continue;  // a waiter, not a holder
    if (!(f >> mode >> access >> pid >> where)) continue;
    unsigned major_dev = 0, minor_dev = 0;
    unsigned long inode = 0;
    if (std::sscanf(where.c_str(), "%x:%x:%lu", &major_dev, &minor_dev, &inode) != 3) continue;
    if (major_dev == ::major(dev) && minor_dev == ::minor(dev) && inode == ino &&
        pid != ::getpid()) {
      out.push_back(static_cast<pid_t>(pid));
    }
  }
  return out;
}

// A regular file, unless another live process holds a lock on it (DPDK takes a flock on every
// hugepage and fbarray file it maps). Locks of this process itself (the files of its own EAL,
// after rte_eal_cleanup) do not count. `holder` names who keeps a file that stays.
Removal remove_unlocked(const std::string& path, std::uint64_t* bytes, pid_t* holder) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return errno == ENOENT ? Removal::removed : Removal::failed;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Removal::failed;
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return Removal::failed;
    const std::vector<pid_t> others = other_lock_holders(st.st_dev, st.st_ino);
    if (!others.empty()) {
      *holder = others.front();
      return Removal::held;
    }
  }
  if (bytes != nullptr) *bytes = static_cast<std::uint64_t>(st.st_size);
  return ::unlink(path.c_str()) == 0 || errno == ENOENT ? Removal::removed : Removal::failed;
}

std::string kept_entry(const std::string& path, pid_t holder) {
  return holder > 0 ? path + " (pid " + std::to_string(holder) + ")" : path;
}

// Whether a process listens on the Unix socket at `path` (whatever its socket type).
bool socket_alive(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return true;  // cannot tell: keep it
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  for (const int type : {SOCK_SEQPACKET, SOCK_DGRAM, SOCK_STREAM}) {
    UniqueFd s(::socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!s) return true;
    if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return true;
    if (errno == EPROTOTYPE) continue;  // another socket type: try the next
    return errno == EAGAIN;             // listening, backlog full
  }
  return true;
}

Removal remove_socket(const std::string& path) {
  if (socket_alive(path)) return Removal::held;
  return ::unlink(path.c_str()) == 0 || errno == ENOENT ? Removal::removed : Removal::failed;
}

}  // namespace

std::vector<std::string> hugetlbfs_mounts() {
  std::vector<std::string> out;
  std::ifstream mounts("/proc/mounts");
  std::string line;
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string device, mount_point, type;
    if (fields >> device >> mount_point >> type && type == "hugetlbfs") {
      out.push_back(mount_point);
    }
  }
  return out;
}

EalFiles eal_files(const std::vector<std::string>& eal_args,
                   const std::vector<std::string>& hugetlbfs_mount_points) {
  EalFiles f;
  std::vector<std::string> huge_dirs;
  for (std::size_t i = 1; i < eal_args.size(); ++i) {
    if (auto v = option_value(eal_args, i, "--file-prefix")) {
      f.prefix = *v;
    } else if (auto d = option_value(eal_args, i, "--huge-dir")) {
      huge_dirs.push_back(*d);
    } else if (eal_args[i] == "--in-memory" || eal_args[i] == "--no-shconf") {
      f.shared = false;
    }
  }
  // EAL refuses such a prefix anyway; never let it point the removal at a parent directory.
  if (f.prefix.empty() || f.prefix.find('/') != std::string::npos || f.prefix == "." ||
      f.prefix == "..") {
    f.shared = false;
  }
  f.runtime_dir = runtime_root() + "/dpdk/" + f.prefix;
  f.huge_dirs = huge_dirs.empty() ? hugetlbfs_mount_points : huge_dirs;
  return f;
}

std::optional<pid_t> live_primary(const EalFiles& files) {
  const std::string config = files.runtime_dir + "/config";
  UniqueFd fd(::open(config.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return std::nullopt;
  struct flock probe {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  probe.l_start = 0;
  probe.l_len = 0;  // the whole file: overlaps the range the primary locks
  if (::fcntl(fd.get(), F_GETLK, &probe) != 0) return std::nullopt;
  if (probe.l_type == F_UNLCK) return std::nullopt;
  return probe.l_pid;
}

std::string Leftovers::describe(const std::string& prefix) const {
  std::string out = std::to_string(hugepage_files) + " hugepage files (" +
                    std::to_string(hugepage_bytes >> 20) + " MiB) and " +
                    std::to_string(runtime_files) + " runtime files of --file-prefix " + prefix;
  if (!kept.empty()) {
    out += "; kept " + std::to_string(kept.size()) +
           " files held by a live process (a secondary such as dpdk-dumpcap), e.g. " + kept.front();
  }
  return out;
}

Result<Leftovers> remove_leftovers(const EalFiles& files, Caller caller) {
  if (const auto pid = live_primary(files)) {
    return Error{"a DPDK primary process (pid " + std::to_string(*pid) +
                 ") runs with --file-prefix " + files.prefix + "; nothing removed"};
  }
  Leftovers out;
  std::error_code ec;
  for (const std::string& dir : files.huge_dirs) {
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const std::string name = entry.path().filename().string();
      if (!is_hugepage_file(name, files.prefix)) continue;
      std::uint64_t bytes = 0;
      pid_t holder = 0;
      if (remove_unlocked(entry.path().string(), &bytes, &holder) == Removal::removed) {
        ++out.hugepage_files;
        out.hugepage_bytes += bytes;
      } else {
        out.kept.push_back(kept_entry(entry.path().string(), holder));
      }
    }
  }
  // The runtime directory: `config` last, and only when nothing else is held (a live
  // secondary still maps it).
  bool config_present = false;
  for (const auto& entry : fs::directory_iterator(files.runtime_dir, ec)) {
    const std::string path = entry.path().string();
    if (entry.path().filename() == "config") {
      config_present = true;
      continue;
    }
    const auto type = entry.symlink_status(ec).type();
    Removal r = Removal::held;
    pid_t holder = 0;
    const bool own_socket =
        caller == Caller::its_primary_after_cleanup &&
        (entry.path().filename() == "mp_socket" || entry.path().filename() == "dpdk_telemetry.v2");
    if (own_socket) {
      // Still served by this process's telemetry thread (rte_eal_cleanup leaves it running).
      r = ::unlink(path.c_str()) == 0 ? Removal::removed : Removal::failed;
    } else if (type == fs::file_type::socket) {
      r = remove_socket(path);
    } else if (type == fs::file_type::regular) {
      r = remove_unlocked(path, nullptr, &holder);
    }
    if (r == Removal::removed) {
      ++out.runtime_files;
    } else {
      out.kept.push_back(kept_entry(path, holder));
    }
  }
  if (config_present && out.kept.empty()) {
    pid_t holder = 0;
    if (remove_unlocked(files.runtime_dir + "/config", nullptr, &holder) == Removal::removed) {
      ++out.runtime_files;
    } else {
      out.kept.push_back(kept_entry(files.runtime_dir + "/config", holder));
    }
  }
  if (out.kept.empty() && fs::exists(files.runtime_dir, ec)) {
    out.runtime_dir_removed = ::rmdir(files.runtime_dir.c_str()) == 0;
  }
  return out;
}

}  // namespace sluice::dataplane

#include "sluice/atomic_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace sluice {
namespace {

constexpr std::string_view kTemporaryInfix = ".tmp.";

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Parses "<pid>.<n>" (the part after PATH.tmp.); 0 when it is not that.
pid_t temporary_owner(std::string_view suffix) {
  const auto dot = suffix.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == suffix.size()) return 0;
  pid_t pid = 0;
  const auto [end, ec] = std::from_chars(suffix.data(), suffix.data() + dot, pid);
  if (ec != std::errc{} || end != suffix.data() + dot || pid <= 0) return 0;
  unsigned long sequence = 0;
  const std::string_view rest = suffix.substr(dot + 1);
  const auto [end2, ec2] = std::from_chars(rest.data(), rest.data() + rest.size(), sequence);
  if (ec2 != std::errc{} || end2 != rest.data() + rest.size()) return 0;
  return pid;
}

}  // namespace

int FileSystemCalls::open(const char* path, int flags, mode_t mode) const {
  return ::open(path, flags, mode);
}
ssize_t FileSystemCalls::write(int fd, const void* data, std::size_t size) const {
  return ::write(fd, data, size);
}
int FileSystemCalls::fsync(int fd) const {
  return ::fsync(fd);
}
int FileSystemCalls::close(int fd) const {
  return ::close(fd);
}
int FileSystemCalls::rename(const char* from, const char* to) const {
  return ::rename(from, to);
}
int FileSystemCalls::unlink(const char* path) const {
  return ::unlink(path);
}

const FileSystemCalls& system_file_calls() {
  static const FileSystemCalls calls;
  return calls;
}

std::string_view to_string(ReplaceStep step) {
  switch (step) {
    case ReplaceStep::done:
      return "done";
    case ReplaceStep::open_directory:
      return "open directory";
    case ReplaceStep::create:
      return "create";
    case ReplaceStep::write:
      return "write";
    case ReplaceStep::fsync:
      return "fsync";
    case ReplaceStep::close:
      return "close";
    case ReplaceStep::rename:
      return "rename";
    case ReplaceStep::sync_directory:
      return "fsync directory";
  }
  return "?";
}

ReplaceResult replace_file_atomic(const std::string& path, std::string_view content, mode_t mode,
                                  const FileSystemCalls& calls) {
  static std::atomic<unsigned> sequence{0};
  const std::string tmp = path + std::string(kTemporaryInfix) + std::to_string(::getpid()) + "." +
                          std::to_string(sequence++);
  const std::string dir = directory_of(path);
  int dir_fd = -1;
  int fd = -1;
  // Undoes what was done so far; `what` names the step and the file it was done to.
  const auto fail = [&](ReplaceStep step, const std::string& what,
                        const std::string& why) -> ReplaceResult {
    if (fd >= 0) calls.close(fd);
    if (step >= ReplaceStep::write && step <= ReplaceStep::rename) calls.unlink(tmp.c_str());
    if (dir_fd >= 0) calls.close(dir_fd);
    return {step, "cannot save " + path + ": " + what + ": " + why};
  };

  dir_fd = calls.open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (dir_fd < 0) return fail(ReplaceStep::open_directory, "open " + dir, std::strerror(errno));
  fd = calls.open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return fail(ReplaceStep::create, "create " + tmp, std::strerror(errno));
  for (std::string_view left = content; !left.empty();) {
    const ssize_t n = calls.write(fd, left.data(), left.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = n < 0 ? std::strerror(errno) : "the file system took no byte";
      return fail(ReplaceStep::write,
                  "write " + tmp + " (" + std::to_string(content.size() - left.size()) + " of " +
                      std::to_string(content.size()) + " bytes written)",
                  why);
    }
    left.remove_prefix(static_cast<std::size_t>(n));
  }
  if (calls.fsync(fd) != 0) return fail(ReplaceStep::fsync, "fsync " + tmp, std::strerror(errno));
  const int closed = calls.close(fd);
  fd = -1;
  if (closed != 0) return fail(ReplaceStep::close, "close " + tmp, std::strerror(errno));
  if (calls.rename(tmp.c_str(), path.c_str()) != 0) {
    return fail(ReplaceStep::rename, "rename " + tmp + " to " + path, std::strerror(errno));
  }
  // Makes the rename itself durable: without it a power cut may bring back the old content.
  if (calls.fsync(dir_fd) != 0) {
    return fail(ReplaceStep::sync_directory, "replaced, but fsync of the directory " + dir,
                std::strerror(errno));
  }
  calls.close(dir_fd);
  return {};
}

std::vector<std::string> remove_stale_temporaries(const std::string& path) {
  std::vector<std::string> removed;
  const std::filesystem::path target(path);
  const std::string prefix = target.filename().string() + std::string(kTemporaryInfix);
  std::error_code ec;
  const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : ".";
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(prefix)) continue;
    const pid_t owner = temporary_owner(std::string_view(name).substr(prefix.size()));
    if (owner == 0) continue;
    // Ours is stale too (a predecessor with the same pid, as in a container); another live
    // process may still be writing its own.
    if (owner != ::getpid() && (::kill(owner, 0) == 0 || errno != ESRCH)) continue;
    std::error_code remove_ec;
    if (std::filesystem::remove(entry.path(), remove_ec)) removed.push_back(entry.path().string());
  }
  return removed;
}

}  // namespace sluice

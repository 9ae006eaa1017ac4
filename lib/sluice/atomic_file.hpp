// Replacing a file's content so that a crash at any moment leaves the old content or the new
// one, never a mix, and a failure at any step (disk full, I/O error) leaves the old content.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

// The system calls a replacement makes, so a test can make any one of them fail (ENOSPC, EIO)
// the way the kernel would. Each behaves like the call it names, errno included.
class FileSystemCalls {
 public:
  virtual ~FileSystemCalls() = default;
  virtual int open(const char* path, int flags, mode_t mode) const;
  virtual ssize_t write(int fd, const void* data, std::size_t size) const;
  virtual int fsync(int fd) const;
  virtual int close(int fd) const;
  virtual int rename(const char* from, const char* to) const;
  virtual int unlink(const char* path) const;
};

// The real ones.
[[nodiscard]] const FileSystemCalls& system_file_calls();

// Where a replacement stopped.
enum class ReplaceStep : std::uint8_t {
  done,            // PATH holds the new content, durably
  open_directory,  // PATH's directory could not be opened; nothing was written
  create,          // the temporary file could not be created
  write,           // ... written (ENOSPC: a partial write is removed)
  fsync,           // ... flushed to disk
  close,           // ... closed (NFS and some file systems report write errors here)
  rename,          // it could not replace PATH
  sync_directory,  // PATH was replaced, but the rename may not survive a power cut
};
[[nodiscard]] std::string_view to_string(ReplaceStep step);

struct [[nodiscard]] ReplaceResult {
  ReplaceStep step = ReplaceStep::done;
  std::string error;  // "cannot save PATH: write PATH.tmp.1.2: No space left on device"

  [[nodiscard]] bool ok() const { return step == ReplaceStep::done; }
  // PATH already holds the new content (only when the directory sync failed). For any other
  // failure PATH is untouched and no temporary file is left.
  [[nodiscard]] bool replaced() const { return step == ReplaceStep::sync_directory; }
};

// Writes `content` to PATH.tmp.<pid>.<n> (mode `mode`), fsyncs it, renames it over PATH and
// fsyncs PATH's directory (opened before anything is written, so a directory that cannot be
// opened changes nothing). Safe to call from several threads (each uses its own temporary
// name); the last rename wins, so callers serialise their updates.
[[nodiscard]] ReplaceResult replace_file_atomic(const std::string& path, std::string_view content,
                                                mode_t mode,
                                                const FileSystemCalls& calls = system_file_calls());

// A process killed between creating its temporary file and renaming it leaves PATH.tmp.* behind
// (on a small disk that space is what the next save needs). Removes every PATH.tmp.<pid>.<n>
// whose process no longer runs, and this process's own (a predecessor with the same pid): call
// it before this process saves PATH. Returns the names removed; other files are never touched.
[[nodiscard]] std::vector<std::string> remove_stale_temporaries(const std::string& path);

}  // namespace sluice

#include "sluice/atomic_file.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace sluice {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/sluice-atomic-test-XXXXXX";
    if (::mkdtemp(pattern) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] std::string file(const std::string& name) const { return path_ + "/" + name; }
  [[nodiscard]] std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(path_))
      out.push_back(e.path().filename().string());
    return out;
  }

 private:
  std::string path_;
};

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Writes `chunk` bytes at most per call, and fails the write whose number is `fail_write`
// (1-based; 0: none) with ENOSPC, or returns 0 from it when `zero` is set.
class ShortWrites : public FileSystemCalls {
 public:
  ShortWrites(std::size_t chunk, int fail_write, bool zero = false)
      : chunk_(chunk), fail_write_(fail_write), zero_(zero) {}
  ssize_t write(int fd, const void* data, std::size_t size) const override {
    if (++writes_ == fail_write_) {
      if (zero_) return 0;
      errno = ENOSPC;
      return -1;
    }
    return FileSystemCalls::write(fd, data, std::min(size, chunk_));
  }
  mutable int writes_ = 0;

 private:
  std::size_t chunk_;
  int fail_write_;
  bool zero_;
};

TEST(AtomicFile, ReplacesTheContentAndLeavesOnlyTheFile) {
  TempDir dir;
  const std::string path = dir.file("state.yaml");
  std::ofstream(path) << "old\n";
  const ReplaceResult r = replace_file_atomic(path, "new content\n", 0640);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(read_all(path), "new content\n");
  EXPECT_THAT(dir.names(), UnorderedElementsAre("state.yaml"));
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::others_all,
            std::filesystem::perms::none);
}

TEST(AtomicFile, ShortWritesAreContinuedUntilEveryByteIsWritten) {
  TempDir dir;
  const std::string path = dir.file("state.yaml");
  const std::string content(10000, 'x');
  const ShortWrites calls(7, 0);
  const ReplaceResult r = replace_file_atomic(path, content, 0640, calls);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(read_all(path), content);
  EXPECT_EQ(calls.writes_, 10000 / 7 + 1);
}

TEST(AtomicFile, DiskFullAfterAPartialWriteKeepsTheOldContentAndNoTemporary) {
  TempDir dir;
  const std::string path = dir.file("state.yaml");
  std::ofstream(path) << "old\n";
  const ShortWrites calls(100, 3);  // 200 bytes reach the disk, then ENOSPC
  const ReplaceResult r = replace_file_atomic(path, std::string(1000, 'x'), 0640, calls);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.step, ReplaceStep::write);
  EXPECT_FALSE(r.replaced());
  EXPECT_THAT(r.error, HasSubstr("cannot save " + path + ": write " + path + ".tmp."));
  EXPECT_THAT(r.error, HasSubstr("(200 of 1000 bytes written): No space left on device"));
  EXPECT_EQ(read_all(path), "old\n");
  EXPECT_THAT(dir.names(), UnorderedElementsAre("state.yaml"));
}

TEST(AtomicFile, AWriteThatTakesNothingIsAnErrorNotALoop) {
  TempDir dir;
  const std::string path = dir.file("state.yaml");
  const ShortWrites calls(100, 2, /*zero=*/true);
  const ReplaceResult r = replace_file_atomic(path, std::string(1000, 'x'), 0640, calls);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.step, ReplaceStep::write);
  EXPECT_THAT(r.error, HasSubstr("the file system took no byte"));
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(dir.names().empty());
}

TEST(AtomicFile, AMissingDirectoryChangesNothing) {
  const ReplaceResult r = replace_file_atomic("/nonexistent-dir/state.yaml", "x", 0640);
  EXPECT_EQ(r.step, ReplaceStep::open_directory);
  EXPECT_THAT(r.error, HasSubstr("open /nonexistent-dir: No such file or directory"));
}

pid_t exited_process() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

TEST(AtomicFile, StaleTemporariesOfDeadWritersAreRemovedOthersKept) {
  TempDir dir;
  const std::string path = dir.file("state.yaml");
  const std::string dead = std::to_string(exited_process());
  const std::string self = std::to_string(::getpid());
  for (const std::string& name : std::vector<std::string>{
           "state.yaml", "state.yaml.tmp." + dead + ".0", "state.yaml.tmp." + dead + ".17",
           "state.yaml.tmp." + self + ".3",  // a predecessor with this process's pid
           "state.yaml.tmp.1.0",             // pid 1 runs: it may be writing
           "state.yaml.tmp.junk", "state.yaml.tmp." + dead, "other.yaml.tmp." + dead + ".0",
           "state.yaml.bak"}) {
    std::ofstream(dir.file(name)) << "x";
  }
  const std::vector<std::string> removed = remove_stale_temporaries(path);
  EXPECT_THAT(removed,
              UnorderedElementsAre(path + ".tmp." + dead + ".0", path + ".tmp." + dead + ".17",
                                   path + ".tmp." + self + ".3"));
  EXPECT_THAT(dir.names(), UnorderedElementsAre("state.yaml", "state.yaml.tmp.1.0",
                                                "state.yaml.tmp.junk", "state.yaml.tmp." + dead,
                                                "other.yaml.tmp." + dead + ".0", "state.yaml.bak"));
}

}  // namespace
}  // namespace sluice

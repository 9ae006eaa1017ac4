// runtime_files: which files a DPDK primary leaves and their removal, on temporary directories
// standing in for the hugetlbfs mount and /var/run/dpdk/<prefix>. "Live" processes are forked
// children that hold the locks DPDK holds (fcntl on config, flock on mapped files).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "runtime_files.hpp"

namespace sluice::dataplane {
namespace {

namespace fs = std::filesystem;

class Dirs : public ::testing::Test {
 protected:
  Dirs() {
    char templ[] = "/tmp/sluice-rtf-test-XXXXXX";
    root_ = ::mkdtemp(templ) != nullptr ? templ : "/nonexistent";
    fs::create_directories(root_ + "/huge");
    fs::create_directories(root_ + "/run/p1");
    files_.prefix = "p1";
    files_.runtime_dir = root_ + "/run/p1";
    files_.huge_dirs = {root_ + "/huge"};
  }
  ~Dirs() override {
    for (const pid_t c : children_) {
      ::kill(c, SIGKILL);
      ::waitpid(c, nullptr, 0);
    }
    fs::remove_all(root_);
  }

  std::string touch(const std::string& relative, std::size_t size = 0) {
    const std::string path = root_ + "/" + relative;
    std::ofstream(path) << std::string(size, 'x');
    return path;
  }

  // A child process that locks `path` (flock shared, or fcntl write lock on the first bytes as
  // DPDK's primary does on config) and lives until the test ends.
  pid_t hold(const std::string& path, bool fcntl_write_lock) {
    int ready[2];
    EXPECT_EQ(::pipe(ready), 0);
    const pid_t child = ::fork();
    if (child == 0) {
      const int fd = ::open(path.c_str(), O_RDWR);
      bool locked = false;
      if (fcntl_write_lock) {
        struct flock l {};
        l.l_type = F_WRLCK;
        l.l_whence = SEEK_SET;
        l.l_start = 0;
        l.l_len = 8;
        locked = ::fcntl(fd, F_SETLK, &l) == 0;
      } else {
        locked = ::flock(fd, LOCK_SH) == 0;
      }
      const char c = locked ? '1' : '0';
      (void)!::write(ready[1], &c, 1);
      ::pause();
      ::_exit(0);
    }
    char c = 0;
    EXPECT_EQ(::read(ready[0], &c, 1), 1);
    EXPECT_EQ(c, '1');
    ::close(ready[0]);
    ::close(ready[1]);
    children_.push_back(child);
    return child;
  }

  std::string root_;
  EalFiles files_;
  std::vector<pid_t> children_;
};

int bind_unix(const std::string& path) {
  const int s = ::socket(AF_UNIX, SOCK_SEQPACKET, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  EXPECT_EQ(::bind(s, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  return s;
}

TEST(EalFiles, PrefixHugeDirAndSharing) {
  const auto f = eal_files({"sluice-dataplane", "-l", "0-1", "--file-prefix", "sluice",
                            "--huge-dir", "/mnt/huge", "--socket-mem=512"},
                           {"/dev/hugepages"});
  EXPECT_EQ(f.prefix, "sluice");
  EXPECT_TRUE(f.runtime_dir.ends_with("/dpdk/sluice")) << f.runtime_dir;
  EXPECT_EQ(f.huge_dirs, std::vector<std::string>{"/mnt/huge"});
  EXPECT_TRUE(f.shared);

  const auto d = eal_files({"x", "--file-prefix=a", "--no-huge"}, {"/dev/hugepages", "/mnt/h"});
  EXPECT_EQ(d.prefix, "a");
  EXPECT_EQ(d.huge_dirs, (std::vector<std::string>{"/dev/hugepages", "/mnt/h"}));

  EXPECT_EQ(eal_files({"x"}, {}).prefix, "rte");
  EXPECT_FALSE(eal_files({"x", "--in-memory"}, {}).shared);
  EXPECT_FALSE(eal_files({"x", "--no-shconf"}, {}).shared);
  for (const char* bad : {"", "..", "a/b"}) {
    EXPECT_FALSE(eal_files({"x", "--file-prefix", bad}, {}).shared) << bad;
  }
}

TEST_F(Dirs, ADeadPrimarysFilesGoOthersStay) {
  touch("huge/p1map_0", 4096);
  touch("huge/p1map_17", 4096);
  touch("huge/p1map_x");       // not a hugepage file name
  touch("huge/p10map_0");      // another prefix
  touch("huge/otherp1map_0");  // another prefix
  touch("run/p1/config", 64);
  touch("run/p1/fbarray_memzone");
  touch("run/p1/hugepage_info");
  ::close(bind_unix(files_.runtime_dir + "/mp_socket"));  // stale: nobody listens

  ASSERT_FALSE(live_primary(files_));
  auto removed = remove_leftovers(files_);
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_EQ(removed->hugepage_files, 2u);
  EXPECT_EQ(removed->hugepage_bytes, 8192u);
  EXPECT_EQ(removed->runtime_files, 4u);
  EXPECT_TRUE(removed->kept.empty());
  EXPECT_TRUE(removed->runtime_dir_removed);
  EXPECT_FALSE(fs::exists(files_.runtime_dir));
  EXPECT_TRUE(fs::exists(root_ + "/huge/p1map_x"));
  EXPECT_TRUE(fs::exists(root_ + "/huge/p10map_0"));
  EXPECT_TRUE(fs::exists(root_ + "/huge/otherp1map_0"));
}

TEST_F(Dirs, ALivePrimaryKeepsEverything) {
  const std::string page = touch("huge/p1map_0", 4096);
  const std::string config = touch("run/p1/config", 64);
  const pid_t primary = hold(config, true);
  ASSERT_EQ(live_primary(files_), primary);
  auto removed = remove_leftovers(files_);
  ASSERT_FALSE(removed.ok());
  EXPECT_NE(removed.error().message.find("pid " + std::to_string(primary)), std::string::npos)
      << removed.error().message;
  EXPECT_TRUE(fs::exists(page));
  EXPECT_TRUE(fs::exists(config));
}

TEST_F(Dirs, FilesALiveSecondaryMapsStayAndSoDoesConfig) {
  const std::string held = touch("huge/p1map_0", 4096);
  touch("huge/p1map_1", 4096);
  const std::string fbarray = touch("run/p1/fbarray_memseg-2048k-0-0");
  touch("run/p1/config", 64);
  const pid_t secondary = hold(held, false);
  hold(fbarray, false);
  auto removed = remove_leftovers(files_);
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_EQ(removed->hugepage_files, 1u);
  EXPECT_TRUE(fs::exists(held));
  EXPECT_TRUE(fs::exists(fbarray));
  EXPECT_TRUE(fs::exists(files_.runtime_dir + "/config")) << "a secondary still maps it";
  ASSERT_EQ(removed->kept.size(), 2u);
  EXPECT_NE(removed->describe("p1").find("(pid " + std::to_string(secondary) + ")"),
            std::string::npos)
      << removed->describe("p1");
}

TEST_F(Dirs, ASocketSomeoneListensOnStays) {
  const int live = bind_unix(files_.runtime_dir + "/mp_socket_4242_1");
  ASSERT_EQ(::listen(live, 4), 0);
  auto removed = remove_leftovers(files_);
  ASSERT_TRUE(removed.ok());
  EXPECT_TRUE(fs::exists(files_.runtime_dir + "/mp_socket_4242_1"));
  ::close(live);
}

TEST_F(Dirs, OwnLocksDoNotCount) {
  // The primary on its way out: rte_eal_cleanup leaves some of its own files locked.
  const std::string page = touch("huge/p1map_0", 4096);
  const int fd = ::open(page.c_str(), O_RDONLY);
  ASSERT_EQ(::flock(fd, LOCK_SH), 0);
  const int telemetry = bind_unix(files_.runtime_dir + "/dpdk_telemetry.v2");
  ASSERT_EQ(::listen(telemetry, 4), 0);
  auto removed = remove_leftovers(files_, Caller::its_primary_after_cleanup);
  ASSERT_TRUE(removed.ok());
  EXPECT_FALSE(fs::exists(page));
  EXPECT_FALSE(fs::exists(files_.runtime_dir));
  ::close(fd);
  ::close(telemetry);
}

}  // namespace
}  // namespace sluice::dataplane

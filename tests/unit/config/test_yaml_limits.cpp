// The YAML loaders under hostile input: alias bombs, huge files, memory exhaustion. Each case
// runs in a child process so that a regression (unbounded memory or time, an uncaught
// exception) fails the test instead of taking the test runner down.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "sluice/config/yaml.hpp"

#if defined(__SANITIZE_ADDRESS__)  // GCC
#define SLUICE_ASAN 1
#elif defined(__has_feature)  // clang
#if __has_feature(address_sanitizer)
#define SLUICE_ASAN 1
#endif
#endif
#ifndef SLUICE_ASAN
#define SLUICE_ASAN 0
#endif

namespace sluice::config {
namespace {

constexpr bool kUnderAddressSanitizer = SLUICE_ASAN != 0;

using ::testing::HasSubstr;
using ::testing::StartsWith;

struct ChildRun {
  bool exited = false;  // false: killed by a signal (abort, the alarm)
  int status = 0;       // exit status or signal number
  std::string output;   // what the child wrote
  long max_rss_kb = 0;  // the child's peak resident set
  double seconds = 0;
};

// Limits this process's address space to what it uses now plus `extra_mb`.
void cap_memory(unsigned long extra_mb) {
  std::FILE* statm = std::fopen("/proc/self/statm", "r");
  unsigned long pages = 0;
  const bool read = statm != nullptr && std::fscanf(statm, "%lu", &pages) == 1;
  if (statm != nullptr) std::fclose(statm);
  if (!read) return;
  rlimit limit{};
  ::getrlimit(RLIMIT_AS, &limit);
  limit.rlim_cur = pages * static_cast<unsigned long>(::sysconf(_SC_PAGESIZE)) + (extra_mb << 20);
  ::setrlimit(RLIMIT_AS, &limit);
}

// Runs fn() in a child that dies after `alarm_s` and may allocate about `extra_mb` MB more than
// it starts with (a regression fails the test instead of eating the machine's memory); fn's
// return value (or what it threw) is the child's output.
ChildRun run_in_child(const std::function<std::string()>& fn, unsigned alarm_s,
                      unsigned long extra_mb = 1024) {
  int fds[2];
  if (::pipe(fds) != 0) return {};
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    ::alarm(alarm_s);
    cap_memory(extra_mb);
    std::string out;
    try {
      out = fn();
    } catch (const std::exception& e) {
      out = std::string("uncaught exception: ") + e.what();
    }
    const ssize_t n = ::write(fds[1], out.data(), out.size());
    ::_exit(n == static_cast<ssize_t>(out.size()) ? 0 : 3);
  }
  ::close(fds[1]);
  ChildRun run;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
    run.output.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  rusage usage{};
  ::wait4(pid, &status, 0, &usage);
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.exited = WIFEXITED(status);
  run.status = run.exited ? WEXITSTATUS(status) : WTERMSIG(status);
  run.max_rss_kb = usage.ru_maxrss;
  return run;
}

long own_rss_kb() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

std::string error_of(const Result<State>& r) {
  return r.ok() ? std::string("loaded") : r.error().message;
}

// 1000 backends written once and reused by 500 VIPs through an alias: 45 KB of YAML that
// expands to 500,000 backends.
std::string alias_bomb() {
  std::string text =
      "dataplane: {next_hop_mac: \"02:00:00:00:00:01\", tunnel_source_v4: 198.18.0.1}\n"
      "vips:\n"
      "  - address: 198.18.0.1\n"
      "    port: 80\n"
      "    protocol: tcp\n"
      "    backends: &many\n";
  for (int i = 0; i < 1000; ++i) {
    text += "      - {address: 10.1." + std::to_string(i / 250) + "." +
            std::to_string(i % 250 + 1) + "}\n";
  }
  for (int i = 0; i < 500; ++i) {
    text += "  - {address: 10.9." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) +
            ", port: 80, protocol: tcp, backends: *many}\n";
  }
  return text;
}

TEST(YamlLimits, AliasBombIsRefusedFastWithBoundedMemory) {
  const std::string bomb = alias_bomb();
  ASSERT_LT(bomb.size(), 64u * 1024);
  const long before_kb = own_rss_kb();
  const ChildRun run =
      run_in_child([&] { return error_of(load_yaml_string(bomb, "bomb.yaml")); }, 20);
  ASSERT_TRUE(run.exited && run.status == 0)
      << "child " << (run.exited ? "exited " : "killed by signal ") << run.status;
  EXPECT_EQ(run.output,
            "bomb.yaml:6:15: YAML anchors and aliases (&many) are not supported: write each value "
            "out in full");
  EXPECT_LT(run.seconds, 5.0);
  // The child starts as a copy of this process; the refusal builds no node.
  EXPECT_LT(run.max_rss_kb - before_kb, 32 * 1024) << "peak " << run.max_rss_kb << " KiB";
}

// Found by fuzz-yaml: yaml-cpp 0.7 loops forever, allocating, on a ',' outside a flow
// collection (jbeder/yaml-cpp#1040): one byte to /v1/config/validate took a core and all memory.
TEST(YamlLimits, StrayCommaIsASyntaxErrorNotAHang) {
  for (const auto& [text, error] : std::vector<std::pair<std::string, std::string>>{
           {",", "x.yaml:1:1: YAML syntax error: unexpected ','"},
           {"- a\n,", "x.yaml:2:1: YAML syntax error: unexpected ','"},
           {"#1\n\n,\n\n0: x", "x.yaml:3:1: YAML syntax error: unexpected ','"},
       }) {
    const ChildRun run =
        run_in_child([&, text = text] { return error_of(load_yaml_string(text, "x.yaml")); }, 10);
    ASSERT_TRUE(run.exited && run.status == 0)
        << text << ": child " << (run.exited ? "exited " : "killed by signal ") << run.status;
    EXPECT_EQ(run.output, error) << text;
  }
}

TEST(YamlLimits, FileAboveTheLimitIsRefusedWithoutReadingIt) {
  const std::string path = ::testing::TempDir() + "sluice-huge-" + std::to_string(::getpid());
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(::ftruncate(::fileno(f), 100 << 20), 0);  // sparse: 100 MiB of nothing
    std::fclose(f);
  }
  const ChildRun run = run_in_child([&] { return error_of(load_yaml_file(path)); }, 20);
  std::filesystem::remove(path);
  ASSERT_TRUE(run.exited && run.status == 0) << run.status;
  EXPECT_EQ(run.output, path +
                            ": 104857600 bytes is above the limit of 16777216 bytes (16 MiB) "
                            "for a config file");
}

TEST(YamlLimits, EndlessInputIsCutAtTheLimit) {
  // Not a regular file: no size to look at, so the reader stops one byte past the limit.
  const ChildRun run = run_in_child([] { return error_of(load_yaml_file("/dev/zero")); }, 20);
  ASSERT_TRUE(run.exited && run.status == 0) << run.status;
  EXPECT_EQ(run.output,
            "/dev/zero: more than 16777216 bytes (16 MiB), the limit for a config file");
}

TEST(YamlLimits, TextAboveTheLimitIsRefused) {
  const std::string text(kMaxYamlBytes + 1, '#');
  EXPECT_EQ(error_of(load_yaml_string(text, "<request body>")),
            "<request body>: 16777217 bytes is above the limit of 16777216 bytes (16 MiB) for a "
            "config file");
}

TEST(YamlLimits, OutOfMemoryIsAnErrorNotAnAbort) {
  // ASan's allocator ends the process when the address-space limit is reached, where libc's
  // fails the allocation (bad_alloc); the release build runs this test.
  if (kUnderAddressSanitizer) GTEST_SKIP() << "ASan aborts on allocator exhaustion";
  std::string text = "vips:\n";
  for (int i = 0; i < 60000; ++i) {
    text += "  - {address: 10." + std::to_string(i >> 16) + "." + std::to_string((i >> 8) & 255) +
            "." + std::to_string(i & 255) + ", port: 80, protocol: tcp}\n";
  }
  // Room for this process and a little more, far less than the ~50 MB the text needs.
  const ChildRun run =
      run_in_child([&] { return error_of(load_yaml_string(text, "big.yaml")); }, 60, 24);
  ASSERT_TRUE(run.exited && run.status == 0)
      << "child " << (run.exited ? "exited " : "killed by signal ") << run.status;
  EXPECT_THAT(run.output, StartsWith("big.yaml: out of memory while loading"));
}

}  // namespace
}  // namespace sluice::config

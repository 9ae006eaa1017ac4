#include "announce/bird_process.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace sluice::cp {
namespace {

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
  return "ended";
}

}  // namespace

Status BirdProcess::start(const std::vector<std::string>& argv) {
  if (argv.empty()) return Error{"controlplane.bgp.bird_command: empty"};
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) return Error{std::string("bird_command: fork: ") + std::strerror(errno)};
  if (child == 0) {
    // Only async-signal-safe calls from here to exec.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ::_exit(126);
    if (::getppid() != parent) ::_exit(126);  // the parent died before prctl took effect
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  pid_ = child;
  return ok_status();
}

bool BirdProcess::running(std::string& ended) {
  if (pid_ <= 0) {
    ended = "not started";
    return false;
  }
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  ended = r == pid_ ? describe_exit(status) : std::string("waitpid: ") + std::strerror(errno);
  pid_ = 0;
  return false;
}

void BirdProcess::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = 0;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = 0;
}

}  // namespace sluice::cp

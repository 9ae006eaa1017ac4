// BIRD run as the control plane's child (controlplane.bgp.bird_command), bound to its life: the
// child asks the kernel for SIGKILL when the thread that started it ends
// (prctl(PR_SET_PDEATHSIG)), so a control plane that is killed takes BIRD with it; the router
// then sees the BGP session drop (TCP reset at once, BFD otherwise) and withdraws this host's
// routes even though the dataplane may still run.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "sluice/result.hpp"

namespace sluice::cp {

class BirdProcess {
 public:
  BirdProcess() = default;
  ~BirdProcess() { stop(); }
  BirdProcess(const BirdProcess&) = delete;
  BirdProcess& operator=(const BirdProcess&) = delete;

  // fork + exec of `argv` (argv[0] searched in PATH). Call from a thread that lives as long as
  // BIRD should.
  [[nodiscard]] Status start(const std::vector<std::string>& argv);
  // True while the child runs; reaps it (and describes how it ended in `ended`) otherwise.
  [[nodiscard]] bool running(std::string& ended);
  // SIGTERM, then SIGKILL after `grace`; reaps it.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(2000));

  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = 0;
};

}  // namespace sluice::cp

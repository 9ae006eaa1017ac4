// Two network namespaces joined by a veth pair, under 198.18.0.0/15 with no route out:
//   <prefix>c  198.18.100.1/30  the control plane (health checks start here)
//   <prefix>b  198.18.100.2/30  the backends, each backend address a /32 on the veth
// Torn down in the destructor; stale ones from a crashed run are removed first (and by
// tools/cleanup-leftovers, which knows the "sl-" prefix).
#pragma once

#include <signal.h>
#include <unistd.h>

#include <cctype>

#include <string>
#include <vector>

#include "process.hpp"

namespace sluice::cp::testing {

class BackendNetwork {
 public:
  explicit BackendNetwork(const std::vector<std::string>& backend_addresses)
      : prefix_("sl-cp" + std::to_string(::getpid())) {
    remove_stale();
    const std::string c = client_ns(), b = backend_ns();
    ok_ = sh("ip netns add " + c) == 0 && sh("ip netns add " + b) == 0 &&
          sh("ip -n " + c + " link set lo up") == 0 && sh("ip -n " + b + " link set lo up") == 0 &&
          sh("ip link add " + prefix_ + "c netns " + c + " type veth peer name " + prefix_ +
             "b netns " + b) == 0 &&
          sh("ip -n " + c + " addr add 198.18.100.1/30 dev " + prefix_ + "c") == 0 &&
          sh("ip -n " + b + " addr add 198.18.100.2/30 dev " + prefix_ + "b") == 0 &&
          sh("ip -n " + c + " link set " + prefix_ + "c up") == 0 &&
          sh("ip -n " + b + " link set " + prefix_ + "b up") == 0 &&
          sh("ip -n " + c + " route add 198.18.1.0/24 via 198.18.100.2") == 0;
    for (const std::string& a : backend_addresses) {
      ok_ = ok_ && sh("ip -n " + b + " addr add " + a + "/32 dev " + prefix_ + "b") == 0;
    }
  }
  ~BackendNetwork() {
    sh("ip netns del " + client_ns() + " 2>/dev/null");
    sh("ip netns del " + backend_ns() + " 2>/dev/null");
  }
  BackendNetwork(const BackendNetwork&) = delete;
  BackendNetwork& operator=(const BackendNetwork&) = delete;

  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] std::string client_ns() const { return prefix_ + "c"; }
  [[nodiscard]] std::string backend_ns() const { return prefix_ + "b"; }

  // argv prefix that runs a program inside a namespace.
  [[nodiscard]] static std::vector<std::string> in(const std::string& ns,
                                                   std::vector<std::string> argv) {
    std::vector<std::string> out = {"/usr/sbin/ip", "netns", "exec", ns};
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
  }

 private:
  // Namespaces of earlier runs whose process is gone ("sl-cp<pid>c" / "sl-cp<pid>b").
  static void remove_stale() {
    const Output list = capture("ip netns list", false);
    std::size_t pos = 0;
    while ((pos = list.text.find("sl-cp", pos)) != std::string::npos) {
      std::size_t end = pos + 5;
      while (end < list.text.size() && std::isdigit(static_cast<unsigned char>(list.text[end])))
        ++end;
      const std::string pid = list.text.substr(pos + 5, end - pos - 5);
      if (!pid.empty() && end < list.text.size() &&
          (list.text[end] == 'c' || list.text[end] == 'b') && ::kill(std::stoi(pid), 0) != 0) {
        sh("ip netns del " + list.text.substr(pos, end - pos + 1) + " 2>/dev/null");
      }
      pos = end;
    }
  }

  std::string prefix_;
  bool ok_ = false;
};

}  // namespace sluice::cp::testing

// A router and an LB host, each a network namespace running a real BIRD2, joined by a veth
// under 198.18.0.0/15 with no route out:
//   sl-ann-<pid>-r  198.18.200.1/30  router: BIRD, AS 65000, BGP + BFD to the host, the RFC 8326
//                                    import rule, ECMP into its kernel table (merge paths on)
//   sl-ann-<pid>-h  198.18.200.2/30  LB host: where the control plane runs (and starts the
//                                    host's BIRD, AS 65001, through bird_command)
// The host's bird.conf is the one docs/tier.md tells operators to write. The router is queried
// on its control socket (no birdc process per poll). Everything is torn down in the destructor;
// namespaces of earlier runs whose process is gone are removed first.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "announce/bird_client.hpp"
#include "harness/process.hpp"
#include "temp_dir.hpp"

namespace sluice::cp::testing {

class BirdLab {
 public:
  explicit BirdLab(const TempDir& dir) : dir_(dir), tag_("sl-ann-" + std::to_string(::getpid())) {
    remove_stale();
    const std::string r = router_ns(), h = host_ns();
    const std::string rif = "slann" + std::to_string(::getpid()) + "r";
    const std::string hif = "slann" + std::to_string(::getpid()) + "h";
    ok_ = sh("ip netns add " + r) == 0 && sh("ip netns add " + h) == 0 &&
          sh("ip -n " + r + " link set lo up") == 0 && sh("ip -n " + h + " link set lo up") == 0 &&
          sh("ip link add " + rif + " netns " + r + " type veth peer name " + hif + " netns " +
             h) == 0 &&
          sh("ip -n " + r + " addr add 198.18.200.1/30 dev " + rif) == 0 &&
          sh("ip -n " + h + " addr add 198.18.200.2/30 dev " + hif) == 0 &&
          sh("ip -n " + r + " link set " + rif + " up") == 0 &&
          sh("ip -n " + h + " link set " + hif + " up") == 0 &&
          sh("ip netns exec " + r + " sysctl -qw net.ipv4.ip_forward=1") == 0 &&
          sh("ip netns exec " + r + " sysctl -qw net.ipv4.fib_multipath_hash_policy=1") == 0;
    std::ofstream(dir_.file("router-bird.conf")) << router_config();
    std::ofstream(dir_.file("host-bird.conf")) << host_config();
    if (!ok_) return;
    router_ = std::make_unique<Process>(
        std::vector<std::string>{"/usr/sbin/ip", "netns", "exec", r, "/usr/sbin/bird", "-f", "-c",
                                 dir_.file("router-bird.conf"), "-s", router_socket()},
        dir_.file("router-bird.log"));
  }
  ~BirdLab() {
    if (router_) router_->stop(SIGTERM);
    // `ip netns del` leaves a namespace alive while a process still runs in it.
    for (const std::string& ns : {host_ns(), router_ns()}) {
      sh("ip netns pids " + ns + " 2>/dev/null | xargs -r kill -9 2>/dev/null");
      sh("ip netns del " + ns + " 2>/dev/null");
    }
  }
  BirdLab(const BirdLab&) = delete;
  BirdLab& operator=(const BirdLab&) = delete;

  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] std::string router_ns() const { return tag_ + "-r"; }
  [[nodiscard]] std::string host_ns() const { return tag_ + "-h"; }
  [[nodiscard]] std::string router_socket() const { return dir_.file("router-bird.ctl"); }
  [[nodiscard]] std::string host_socket() const { return dir_.file("host-bird.ctl"); }
  [[nodiscard]] std::string host_config_path() const { return dir_.file("host-bird.conf"); }
  [[nodiscard]] std::string include_v4() const { return dir_.file("sluice-vips4.conf"); }
  [[nodiscard]] std::string include_v6() const { return dir_.file("sluice-vips6.conf"); }
  // What the control plane's bird_command runs.
  [[nodiscard]] std::vector<std::string> host_bird_command() const {
    return {"/usr/sbin/bird", "-f", "-c", host_config_path(), "-s", host_socket()};
  }

  // One command on the router's control socket; "" when it does not answer.
  [[nodiscard]] std::string router(const std::string& command) const {
    auto reply = bird_command(router_socket(), command, std::chrono::milliseconds(1000));
    if (!reply.ok()) return "";
    std::string out;
    for (const BirdReplyLine& l : reply->lines)
      out += std::to_string(l.code) + " " + l.text + "\n";
    return out;
  }
  // The router holds a route to exactly `prefix` (learnt from the host).
  [[nodiscard]] bool router_has_route(const std::string& prefix) const {
    return router("show route " + prefix).find("1007 " + prefix) != std::string::npos;
  }
  [[nodiscard]] bool session_up() const {
    auto reply = bird_command(router_socket(), "show protocols", std::chrono::milliseconds(1000));
    if (!reply.ok()) return false;
    for (const BirdProtocol& p : parse_show_protocols(*reply)) {
      if (p.name == "lb1") return p.session_up();
    }
    return false;
  }

 private:
  static std::string router_config() {
    return R"(router id 198.18.200.1;
protocol device { scan time 10; }
protocol bfd { interface "slann*" { interval 100 ms; multiplier 3; }; }
protocol kernel { ipv4 { export all; }; merge paths on; }
filter sluice_import {
  if (65535,0) ~ bgp_community then bgp_local_pref = 0;
  accept;
}
protocol bgp lb1 {
  local 198.18.200.1 as 65000;
  neighbor 198.18.200.2 as 65001;
  hold time 3; connect delay time 1; connect retry time 2; error wait time 1,2;
  bfd on;
  ipv4 { import filter sluice_import; export none; };
}
)";
  }
  std::string host_config() const {
    return "router id 198.18.200.2;\n"
           "protocol device { scan time 10; }\n"
           "protocol bfd { interface \"slann*\" { interval 100 ms; multiplier 3; }; }\n"
           "protocol static sluice_vips4 {\n  ipv4;\n  include \"" +
           include_v4() +
           "\";\n}\n"
           "protocol static sluice_vips6 {\n  ipv6;\n  include \"" +
           include_v6() +
           "\";\n}\n"
           "protocol bgp router1 {\n"
           "  local 198.18.200.2 as 65001;\n"
           "  neighbor 198.18.200.1 as 65000;\n"
           "  hold time 3; connect delay time 1; connect retry time 2; error wait time 1,2;\n"
           "  bfd on;\n"
           "  ipv4 { import none; export where proto ~ \"sluice_vips*\"; };\n"
           "}\n";
  }
  // Namespaces "sl-ann-<pid>-r|h" of earlier runs whose process is gone.
  static void remove_stale() {
    const Output list = capture("ip netns list", false);
    std::size_t pos = 0;
    while ((pos = list.text.find("sl-ann-", pos)) != std::string::npos) {
      std::size_t end = pos + 7;
      while (end < list.text.size() && std::isdigit(static_cast<unsigned char>(list.text[end])))
        ++end;
      const std::string pid = list.text.substr(pos + 7, end - pos - 7);
      if (!pid.empty() && end + 1 < list.text.size() && list.text[end] == '-' &&
          ::kill(std::stoi(pid), 0) != 0) {
        const std::string ns = list.text.substr(pos, end - pos + 2);
        sh("ip netns pids " + ns + " 2>/dev/null | xargs -r kill -9 2>/dev/null");
        sh("ip netns del " + ns + " 2>/dev/null");
      }
      pos = end;
    }
  }

  const TempDir& dir_;
  std::string tag_;
  bool ok_ = false;
  std::unique_ptr<Process> router_;
};

}  // namespace sluice::cp::testing

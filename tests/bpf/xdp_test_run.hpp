// Runs a loaded XDP program once over a frame with BPF_PROG_TEST_RUN and returns its action
// and the frame as the program left it.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

namespace sluice::bpf::testing {

struct XdpRun {
  int action = -1;
  std::vector<std::byte> output;
};

// Records a gtest failure (action -1) when the kernel refuses the run. `ingress_ifindex` 0: the
// frame arrives on the current namespace's loopback (the kernel's default); otherwise on that
// interface (receive queue 0), whose namespace the program's helpers (socket and FIB lookups)
// then see.
[[nodiscard]] XdpRun run_xdp(int program_fd, std::span<const std::byte> frame,
                             int ingress_ifindex = 0);

[[nodiscard]] std::vector<std::byte> from_hex(std::string_view hex);
[[nodiscard]] std::string to_hex(std::span<const std::byte> bytes);

}  // namespace sluice::bpf::testing

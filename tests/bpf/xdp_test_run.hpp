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

// Aborts the test (gtest fatal failure) when the kernel refuses the run.
[[nodiscard]] XdpRun run_xdp(int program_fd, std::span<const std::byte> frame);

[[nodiscard]] std::vector<std::byte> from_hex(std::string_view hex);
[[nodiscard]] std::string to_hex(std::span<const std::byte> bytes);

}  // namespace sluice::bpf::testing

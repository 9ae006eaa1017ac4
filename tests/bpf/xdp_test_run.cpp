#include "xdp_test_run.hpp"

#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <cstring>
#include <string>

namespace sluice::bpf::testing {

XdpRun run_xdp(int program_fd, std::span<const std::byte> frame, int ingress_ifindex) {
  XdpRun run;
  std::vector<std::byte> in(frame.begin(), frame.end());
  run.output.resize(frame.size() + 256);  // decap shrinks; room to spare anyway
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.data(), .data_out = run.output.data(),
              .data_size_in = static_cast<std::uint32_t>(in.size()),
              .data_size_out = static_cast<std::uint32_t>(run.output.size()), .repeat = 1);
  // The kernel wants data = data_meta = 0 and data_end = the frame's size in a context.
  xdp_md context{};
  if (ingress_ifindex != 0) {
    context.data_end = static_cast<std::uint32_t>(in.size());
    context.ingress_ifindex = static_cast<std::uint32_t>(ingress_ifindex);
    opts.ctx_in = &context;
    opts.ctx_size_in = sizeof(context);
  }
  const int err = bpf_prog_test_run_opts(program_fd, &opts);
  EXPECT_EQ(err, 0) << "BPF_PROG_TEST_RUN failed: " << std::strerror(-err);
  run.output.resize(err == 0 ? opts.data_size_out : 0);
  run.action = err == 0 ? static_cast<int>(opts.retval) : -1;
  return run;
}

std::vector<std::byte> from_hex(std::string_view hex) {
  std::vector<std::byte> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<std::byte>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

std::string to_hex(std::span<const std::byte> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::byte b : bytes) {
    out += kDigits[std::to_integer<unsigned>(b) >> 4];
    out += kDigits[std::to_integer<unsigned>(b) & 0xf];
  }
  return out;
}

}  // namespace sluice::bpf::testing

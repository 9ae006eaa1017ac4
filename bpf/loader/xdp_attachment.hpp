// Attaching an XDP program to an interface, as an RAII handle that detaches on destruction
// (only if the program there is still ours), and querying what is attached now.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "sluice/unique_fd.hpp"
#include "sluice/result.hpp"

namespace sluice::bpf {

enum class AttachMode : std::uint8_t {
  native,         // XDP_FLAGS_DRV_MODE: in the driver (veth, most NICs); fails if unsupported
  skb,            // XDP_FLAGS_SKB_MODE: generic, after the skb is built; works everywhere
  native_or_skb,  // native, falling back to skb when the driver refuses
};

// The XDP program attached to an interface right now.
struct AttachedProgram {
  std::uint32_t id = 0;
  std::string name;  // kernel program name (at most 15 characters)
  bool native = false;
  UniqueFd fd;
};

// What is attached to `ifindex`, nullopt when nothing is.
[[nodiscard]] Result<std::optional<AttachedProgram>> query_attached_program(int ifindex);

class XdpAttachment {
 public:
  XdpAttachment(int ifindex, UniqueFd program, bool native)
      : ifindex_(ifindex), program_(std::move(program)), native_(native) {}
  XdpAttachment(XdpAttachment&&) noexcept = default;
  XdpAttachment& operator=(XdpAttachment&& other) noexcept;
  XdpAttachment(const XdpAttachment&) = delete;
  XdpAttachment& operator=(const XdpAttachment&) = delete;
  ~XdpAttachment();

  [[nodiscard]] int ifindex() const { return ifindex_; }
  [[nodiscard]] bool native() const { return native_; }
  // Leaves the program attached after this handle is gone (a CLI that exits after attaching).
  void release() { program_.reset(); }
  // Detaches now if the program on the interface is still ours.
  [[nodiscard]] Status detach();

 private:
  int ifindex_ = 0;
  UniqueFd program_;  // invalid once released or detached
  bool native_ = false;
};

// Attaches `program_fd` to `ifindex`. With `replace` set, atomically swaps out exactly that
// program (it must be attached in the same mode); without it, fails if any program is there.
[[nodiscard]] Result<XdpAttachment> attach_xdp(int ifindex, int program_fd, AttachMode mode,
                                               const AttachedProgram* replace = nullptr);

// Detaches `program` (as returned by query_attached_program) if it is still attached.
[[nodiscard]] Status detach_xdp(int ifindex, const AttachedProgram& program);

}  // namespace sluice::bpf

#include "loader/xdp_attachment.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <unistd.h>

#include "loader/libbpf_error.hpp"

namespace sluice::bpf {
namespace {

std::uint32_t mode_flag(bool native) {
  return native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
}

// Detaches only when the program on the interface is `program_fd`, so a handle never removes
// a program that someone attached after it.
int detach_if_ours(int ifindex, int program_fd, bool native) {
  LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = program_fd);
  return bpf_xdp_detach(ifindex, mode_flag(native) | XDP_FLAGS_REPLACE, &opts);
}

int attach_in_mode(int ifindex, int program_fd, bool native, const AttachedProgram* replace) {
  if (replace == nullptr)
    return bpf_xdp_attach(ifindex, program_fd, mode_flag(native) | XDP_FLAGS_UPDATE_IF_NOEXIST,
                          nullptr);
  LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = replace->fd.get());
  return bpf_xdp_attach(ifindex, program_fd, mode_flag(native) | XDP_FLAGS_REPLACE, &opts);
}

}  // namespace

Result<std::optional<AttachedProgram>> query_attached_program(int ifindex) {
  LIBBPF_OPTS(bpf_xdp_query_opts, query);
  if (int err = bpf_xdp_query(ifindex, 0, &query); err < 0)
    return libbpf_error("querying the XDP program of ifindex " + std::to_string(ifindex), err);
  const std::uint32_t id = query.drv_prog_id ? query.drv_prog_id : query.skb_prog_id;
  if (id == 0) return std::optional<AttachedProgram>{};

  AttachedProgram program;
  program.id = id;
  program.native = query.drv_prog_id != 0;
  program.fd = UniqueFd(bpf_prog_get_fd_by_id(id));
  if (!program.fd.valid())
    return libbpf_error("opening XDP program id " + std::to_string(id), errno);
  bpf_prog_info info{};
  std::uint32_t info_length = sizeof(info);
  if (int err = bpf_obj_get_info_by_fd(program.fd.get(), &info, &info_length); err < 0)
    return libbpf_error("reading XDP program info", err);
  program.name = info.name;
  return std::optional<AttachedProgram>(std::move(program));
}

XdpAttachment& XdpAttachment::operator=(XdpAttachment&& other) noexcept {
  if (this != &other) {
    (void)detach();
    ifindex_ = other.ifindex_;
    program_ = std::move(other.program_);
    native_ = other.native_;
  }
  return *this;
}

XdpAttachment::~XdpAttachment() {
  (void)detach();
}

Status XdpAttachment::detach() {
  if (!program_.valid()) return ok_status();
  const int err = detach_if_ours(ifindex_, program_.get(), native_);
  program_.reset();
  if (err < 0) return libbpf_error("detaching XDP from ifindex " + std::to_string(ifindex_), err);
  return ok_status();
}

Result<XdpAttachment> attach_xdp(int ifindex, int program_fd, AttachMode mode,
                                 const AttachedProgram* replace) {
  // The handle keeps its own descriptor so that it can detach exactly this program later.
  UniqueFd own(dup(program_fd));
  if (!own.valid()) return libbpf_error("duplicating the program descriptor", errno);

  const std::string where = " on ifindex " + std::to_string(ifindex);
  if (mode != AttachMode::skb) {
    const int err = attach_in_mode(ifindex, own.get(), true, replace);
    if (err == 0) return XdpAttachment(ifindex, std::move(own), true);
    if (mode == AttachMode::native)
      return libbpf_error("attaching XDP in native mode" + where, err);
  }
  const int err = attach_in_mode(ifindex, own.get(), false, replace);
  if (err < 0) return libbpf_error("attaching XDP in skb mode" + where, err);
  return XdpAttachment(ifindex, std::move(own), false);
}

Status detach_xdp(int ifindex, const AttachedProgram& program) {
  if (int err = detach_if_ours(ifindex, program.fd.get(), program.native); err < 0)
    return libbpf_error(
        "detaching XDP program " + program.name + " from ifindex " + std::to_string(ifindex), err);
  return ok_status();
}

}  // namespace sluice::bpf

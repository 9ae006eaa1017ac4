/* Passes every frame. Attached to the peer of a veth whose own XDP program answers with
 * XDP_TX (sluice-decap sending a packet on to its second hop): on this kernel a veth delivers
 * XDP_TX frames to its peer only when the peer runs an XDP program (GRO on the peer is not
 * enough: the frames wait in its ring until something else polls it). Labs and tests only;
 * real NICs need nothing of the kind. Attach: ip link set dev PEER xdpdrv obj xdp_pass.bpf.o sec
 * xdp */
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int sluice_xdp_pass(struct xdp_md* ctx) {
  (void)ctx;
  return XDP_PASS;
}

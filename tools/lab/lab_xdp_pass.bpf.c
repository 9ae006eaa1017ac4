// XDP_PASS for every packet, on the router's side of each backend's veth (tools/lab/lib/
// backends.sh). A backend's sluice-decap sends a packet on to a second hop with XDP_TX on its
// eth0; a veth delivers an XDP_TX'd frame to its peer only when the peer runs an XDP program
// (the frame goes into the peer's XDP ring, and only then is its NAPI woken; GRO alone is not
// enough here: the frames stay in the ring). Self-contained: no headers, `clang -target bpf`.
__attribute__((section("xdp"), used)) int lab_xdp_pass(void* ctx) {
  (void)ctx;
  return 2;  // XDP_PASS
}
char lab_license[] __attribute__((section("license"), used)) = "GPL";

/* Map keys, values and counter tables shared by the XDP programs (C, clang -target bpf) and
 * the C++ loader (bpf/loader). Defined once here; the C++ side checks sizes and offsets with
 * static_assert in bpf/loader/map_layout.hpp. Plain C: no C++ in this file. */
#ifndef SLUICE_BPF_MAPS_H
#define SLUICE_BPF_MAPS_H

#include <linux/types.h>

/* Address families, equal to sluice::AddressFamily. */
#define SLUICE_FAMILY_V4 4
#define SLUICE_FAMILY_V6 6

/* Map names. The steering maps are pinned by name (LIBBPF_PIN_BY_NAME) under the libbpf pin
 * root, /sys/fs/bpf by default, so the dataplane can fill them after the af_xdp PMD loaded the
 * program. Kernel map names hold at most 15 characters. */
#define SLUICE_VIP_MAP_NAME "sluice_vips"
#define SLUICE_VIP_ADDR_MAP_NAME "sluice_vip_addr"
#define SLUICE_STEER_STATS_MAP_NAME "sluice_steer_ct"
#define SLUICE_XSK_MAP_NAME "xsks_map" /* the af_xdp PMD looks this name up */
#define SLUICE_DECAP_CONFIG_MAP_NAME "decap_config"
#define SLUICE_DECAP_ADDR_MAP_NAME "decap_addrs"
#define SLUICE_DECAP_STATS_MAP_NAME "decap_stats"
#define SLUICE_DECAP_PROG_NAME "sluice_decap"
#define SLUICE_STEER_PROG_NAME "sluice_steer"

#define SLUICE_MAX_VIPS 4096 /* sluice::kMaxVips (lib/sluice/limits.hpp), checked in map_layout.hpp */
#define SLUICE_MAX_XSK_QUEUES 64
#define SLUICE_MAX_TUNNEL_ADDRS 64

/* A VIP as the steering program matches it: (destination address, destination port, protocol).
 * port 0 matches every port of that protocol. */
struct sluice_vip_key {
  __u8 address[16]; /* network order; IPv4 in bytes 0..3, bytes 4..15 zero */
  __be16 port;      /* network order; 0 = any port */
  __u8 protocol;    /* IPPROTO_TCP, IPPROTO_UDP, ... */
  __u8 family;      /* SLUICE_FAMILY_V4 or SLUICE_FAMILY_V6 */
};

struct sluice_vip_value {
  __u32 vip_id; /* the dataplane's identifier for the VIP; informational (bpftool map dump) */
};

/* An address alone: the VIP addresses (for fragments and ICMP, which carry no usable port) and
 * the backend's own tunnel endpoints in the decap program. */
struct sluice_addr_key {
  __u8 address[16]; /* network order; IPv4 in bytes 0..3, bytes 4..15 zero */
  __u8 family;      /* SLUICE_FAMILY_V4 or SLUICE_FAMILY_V6 */
  __u8 reserved[3]; /* always zero: the key is hashed as bytes */
};

/* One per-CPU slot per counter; each slot means exactly one outcome. */
struct sluice_counter {
  __u64 packets;
  __u64 bytes;
};

/* Steering verdicts, X(identifier, description). Every packet increments exactly one. */
#define SLUICE_STEER_VERDICTS(X)                                                          \
  X(redirect_vip, "TCP/UDP to a VIP (address, port, protocol) sent to the AF_XDP socket") \
  X(redirect_fragment, "IP fragment to a VIP address sent to the AF_XDP socket")          \
  X(redirect_icmp, "ICMP/ICMPv6 to a VIP address sent to the AF_XDP socket")              \
  X(pass_no_socket, "VIP packet, but no AF_XDP socket on this queue: passed to kernel")   \
  X(pass_not_ip, "not IPv4/IPv6 (ARP, LLDP, ...): passed to the kernel")                  \
  X(pass_not_vip, "IP packet not addressed to a VIP: passed to the kernel")               \
  X(pass_malformed, "truncated or invalid headers: passed to the kernel to judge")

#define SLUICE_STEER_ENUM(id, desc) SLUICE_STEER_##id,
enum sluice_steer_verdict { SLUICE_STEER_VERDICTS(SLUICE_STEER_ENUM) SLUICE_STEER_VERDICT_COUNT };
#undef SLUICE_STEER_ENUM

/* Decap program configuration: one entry at index 0 of an array map. */
struct sluice_decap_config {
  __be16 gue_port;        /* network order; UDP destination port of GUE; 0 = no GUE decap */
  __u8 match_any_address; /* 1: decapsulate whatever the outer destination; 0: only addresses
                             in the decap_addrs map */
  __u8 reserved;
};

/* Decap outcomes, X(identifier, description). Every packet increments exactly one. */
#define SLUICE_DECAP_OUTCOMES(X)                                                          \
  X(decap_ipip, "IPv4 in IPv4 (protocol 4) decapsulated")                                 \
  X(decap_6in4, "IPv6 in IPv4 (protocol 41) decapsulated")                                \
  X(decap_ip6ip6, "IPv6 in IPv6 (next header 41) decapsulated")                           \
  X(decap_4in6, "IPv4 in IPv6 (next header 4) decapsulated")                              \
  X(decap_gue_v4, "GUE with an inner IPv4 packet decapsulated")                           \
  X(decap_gue_v6, "GUE with an inner IPv6 packet decapsulated")                           \
  X(pass_not_tunnel, "not a tunnel packet (or not IP): passed unchanged")                 \
  X(pass_not_local, "tunnel packet to an address that is not ours: passed unchanged")     \
  X(pass_outer_fragment, "fragmented outer packet: passed to the kernel to reassemble")   \
  X(drop_malformed_outer, "outer IP/UDP/GUE header invalid or truncated: dropped")        \
  X(drop_malformed_inner, "inner IP header invalid, truncated or of the wrong family")    \
  X(drop_gue_unsupported, "GUE control message or unknown GUE payload protocol: dropped") \
  X(drop_adjust_failed, "bpf_xdp_adjust_head failed: dropped")

#define SLUICE_DECAP_ENUM(id, desc) SLUICE_DECAP_##id,
enum sluice_decap_outcome { SLUICE_DECAP_OUTCOMES(SLUICE_DECAP_ENUM) SLUICE_DECAP_OUTCOME_COUNT };
#undef SLUICE_DECAP_ENUM

/* GUE (draft-ietf-intarea-gue) variant 0 header. Variant 1 carries the IP header directly. */
struct sluice_gue_header {
  __u8 version_control_hlen; /* version:2, control:1, hlen:5 (options length in 32-bit words) */
  __u8 proto;                /* inner IP protocol: 4 = IPv4, 41 = IPv6 */
  __be16 flags;
};

#endif /* SLUICE_BPF_MAPS_H */

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
#define SLUICE_DECAP_SOURCE_MAP_NAME "decap_sources"
#define SLUICE_DECAP_HOP_STATS_MAP_NAME "decap_hop_stats"
#define SLUICE_DECAP_PROG_NAME "sluice_decap"
#define SLUICE_STEER_PROG_NAME "sluice_steer"

#define SLUICE_MAX_VIPS \
  4096 /* sluice::kMaxVips (lib/sluice/limits.hpp), checked in map_layout.hpp */
#define SLUICE_MAX_XSK_QUEUES 64
#define SLUICE_MAX_TUNNEL_ADDRS 64
#define SLUICE_MAX_TUNNEL_SOURCES 64

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
#define SLUICE_DECAP_OUTCOMES(X)                                                           \
  X(decap_ipip, "IPv4 in IPv4 (protocol 4) decapsulated")                                  \
  X(decap_6in4, "IPv6 in IPv4 (protocol 41) decapsulated")                                 \
  X(decap_ip6ip6, "IPv6 in IPv6 (next header 41) decapsulated")                            \
  X(decap_4in6, "IPv4 in IPv6 (next header 4) decapsulated")                               \
  X(decap_gue_v4, "GUE with an inner IPv4 packet decapsulated")                            \
  X(decap_gue_v6, "GUE with an inner IPv6 packet decapsulated")                            \
  X(redirect_second_hop, "GUE with a second hop, no local connection: sent on to the hop") \
  X(pass_not_tunnel, "not a tunnel packet (or not IP): passed unchanged")                  \
  X(pass_not_local, "tunnel packet to an address that is not ours: passed unchanged")      \
  X(pass_outer_fragment, "fragmented outer packet: passed to the kernel to reassemble")    \
  X(drop_malformed_outer, "outer IP/UDP/GUE header invalid or truncated: dropped")         \
  X(drop_malformed_inner, "inner IP header invalid, truncated or of the wrong family")     \
  X(drop_gue_unsupported, "GUE control message or unknown GUE payload protocol: dropped")  \
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

/* Second-chance forwarding: a GUE header whose private data names a second hop (the backend
 * that owned the flow before the load balancer's table changed). The private data fills the
 * whole hlen (no GUE flags, so no extension fields) and starts right after the GUE header:
 *   magic 0x53 ('S'), type 0x01 (IPv4 hop, hlen 2) or 0x02 (IPv6 hop, hlen 5), flags (0x80 =
 *   USED: already sent on once, never again), reserved 0, then the hop's 4 or 16 address bytes.
 * The hop has the outer header's family. Private data of any other form is ignored. */
#define SLUICE_GUE_HOP_MAGIC 0x53
#define SLUICE_GUE_HOP_TYPE_V4 0x01
#define SLUICE_GUE_HOP_TYPE_V6 0x02
#define SLUICE_GUE_HOP_USED 0x80
#define SLUICE_GUE_HOP_HLEN_V4 2 /* 32-bit words of private data */
#define SLUICE_GUE_HOP_HLEN_V6 5

struct sluice_gue_hop {
  __u8 magic; /* SLUICE_GUE_HOP_MAGIC */
  __u8 type;  /* SLUICE_GUE_HOP_TYPE_V4 / _V6 */
  __u8 flags; /* SLUICE_GUE_HOP_USED; other bits 0 (ignored, kept) */
  __u8 reserved;
  /* followed by the hop's address: 4 bytes (type 0x01) or 16 bytes (type 0x02) */
};

/* What happened to a GUE packet that carries a second hop, X(identifier, description). Each
 * such packet that passed the outer and inner checks increments exactly one, in
 * decap_hop_stats; it also counts once in decap_stats (decap_gue_* when delivered,
 * redirect_second_hop when sent on). */
#define SLUICE_SECOND_HOP_OUTCOMES(X)                                                         \
  X(delivered_socket, "a local socket matches (established, time-wait, request, SYN cookie)") \
  X(delivered_syn, "inner TCP SYN (without ACK): a new connection, delivered here")           \
  X(delivered_hop_used, "the hop is marked USED (sent on once already): delivered here")      \
  X(not_eligible, "outer source is not a configured tunnel source: delivered here")           \
  X(not_tcp, "inner packet is not TCP (or is a fragment): delivered here")                    \
  X(redirected, "no local connection: sent on to the second hop")                             \
  X(redirect_no_route, "no route/neighbour to the hop (or a VLAN-tagged frame): delivered")   \
  X(redirect_ttl, "outer TTL / hop limit would reach 0: delivered here")

#define SLUICE_SECOND_HOP_ENUM(id, desc) SLUICE_HOP_##id,
enum sluice_second_hop_outcome {
  SLUICE_SECOND_HOP_OUTCOMES(SLUICE_SECOND_HOP_ENUM) SLUICE_SECOND_HOP_OUTCOME_COUNT
};
#undef SLUICE_SECOND_HOP_ENUM

#endif /* SLUICE_BPF_MAPS_H */

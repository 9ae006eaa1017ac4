/* Backend decapsulation: removes the outer header Sluice adds (IPIP, 6in4, IP6IP6, 4in6, GUE)
 * and hands the original packet to the kernel, which owns the VIP on lo and answers the client
 * directly (DSR). The Ethernet header (and a VLAN tag) is kept; only its ethertype changes
 * when the inner family differs from the outer one.
 *
 * Only packets that look like tunnels are judged: anything else passes unchanged, so the
 * backend's kernel keeps seeing its own traffic as before. */
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>

#include "xdp_common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct sluice_decap_config);
} decap_config SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, SLUICE_MAX_TUNNEL_ADDRS);
  __type(key, struct sluice_addr_key);
  __type(value, __u32);
} decap_addrs SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, SLUICE_DECAP_OUTCOME_COUNT);
  __type(key, __u32);
  __type(value, struct sluice_counter);
} decap_stats SEC(".maps");

#define IPV4_FRAGMENT_MASK 0x3fff /* more-fragments flag and fragment offset */
#define GUE_VERSION_SHIFT 6
#define GUE_CONTROL_FLAG 0x20
#define GUE_HLEN_MASK 0x1f
#define IP_VERSION_SHIFT 4

enum tunnel_kind { TUNNEL_IP_IN_IP, TUNNEL_GUE };

/* What to remove and what is left. Offsets are from the start of the L3 header. */
struct tunnel {
  enum tunnel_kind kind;
  __u8 outer_family;  /* SLUICE_FAMILY_V4 / V6 */
  __u8 inner_family;  /* SLUICE_FAMILY_V4 / V6 */
  __u16 outer_length; /* bytes to strip: outer IP [+ UDP + GUE] */
  __u16 outer_end;    /* end of the outer datagram by its own length field */
  __u16 udp_offset;   /* GUE only */
};

/* Sentinel: keep parsing. Every other return is a final outcome. */
#define CONTINUE SLUICE_DECAP_OUTCOME_COUNT

static __always_inline int inner_family_of_protocol(__u8 protocol) {
  if (protocol == IPPROTO_IPIP) return SLUICE_FAMILY_V4;
  if (protocol == IPPROTO_IPV6) return SLUICE_FAMILY_V6;
  return 0;
}

static __always_inline int is_local_address(const struct sluice_decap_config* config,
                                            const void* address, __u8 family) {
  if (config->match_any_address) return 1;
  struct sluice_addr_key key = {};
  if (family == SLUICE_FAMILY_V4)
    __builtin_memcpy(key.address, address, 4);
  else
    __builtin_memcpy(key.address, address, 16);
  key.family = family;
  return bpf_map_lookup_elem(&decap_addrs, &key) != 0;
}

/* Reads the UDP header at l3 + udp_offset; returns 1 when it goes to the GUE port. */
static __always_inline int is_gue(void* l3, __u16 udp_offset, void* data_end,
                                  const struct sluice_decap_config* config) {
  if (!config->gue_port) return 0;
  struct udphdr* udp = l3 + udp_offset;
  if ((void*)(udp + 1) > data_end) return 0;
  return udp->dest == config->gue_port;
}

static __always_inline enum sluice_decap_outcome parse_outer_ipv4(
    void* l3, void* data_end, const struct sluice_decap_config* config, struct tunnel* tunnel) {
  struct iphdr* ip = l3;
  if ((void*)(ip + 1) > data_end) return SLUICE_DECAP_pass_not_tunnel;
  __u16 header_length = ip->ihl * 4;
  tunnel->outer_family = SLUICE_FAMILY_V4;
  tunnel->inner_family = inner_family_of_protocol(ip->protocol);
  if (tunnel->inner_family) {
    tunnel->kind = TUNNEL_IP_IN_IP;
  } else if (ip->protocol == IPPROTO_UDP && ip->version == 4 && ip->ihl >= 5 &&
             is_gue(l3, header_length, data_end, config)) {
    tunnel->kind = TUNNEL_GUE;
  } else {
    return SLUICE_DECAP_pass_not_tunnel;
  }

  if (ip->version != 4 || ip->ihl < 5) return SLUICE_DECAP_drop_malformed_outer;
  __u16 total_length = bpf_ntohs(ip->tot_len);
  if (total_length < header_length || l3 + total_length > data_end)
    return SLUICE_DECAP_drop_malformed_outer;
  if (ip->frag_off & bpf_htons(IPV4_FRAGMENT_MASK)) return SLUICE_DECAP_pass_outer_fragment;
  if (!is_local_address(config, &ip->daddr, SLUICE_FAMILY_V4)) return SLUICE_DECAP_pass_not_local;
  tunnel->outer_length = header_length;
  tunnel->udp_offset = header_length;
  tunnel->outer_end = total_length;
  return CONTINUE;
}

static __always_inline enum sluice_decap_outcome parse_outer_ipv6(
    void* l3, void* data_end, const struct sluice_decap_config* config, struct tunnel* tunnel) {
  struct ipv6hdr* ip = l3;
  if ((void*)(ip + 1) > data_end) return SLUICE_DECAP_pass_not_tunnel;
  tunnel->outer_family = SLUICE_FAMILY_V6;
  tunnel->inner_family = inner_family_of_protocol(ip->nexthdr);
  if (tunnel->inner_family) {
    tunnel->kind = TUNNEL_IP_IN_IP;
  } else if (ip->nexthdr == IPPROTO_UDP && is_gue(l3, sizeof(*ip), data_end, config)) {
    tunnel->kind = TUNNEL_GUE;
  } else {
    return SLUICE_DECAP_pass_not_tunnel; /* Sluice adds no extension headers */
  }

  if (ip->version != 6) return SLUICE_DECAP_drop_malformed_outer;
  __u32 total_length = sizeof(*ip) + bpf_ntohs(ip->payload_len);
  if (l3 + total_length > data_end) return SLUICE_DECAP_drop_malformed_outer;
  if (!is_local_address(config, &ip->daddr, SLUICE_FAMILY_V6)) return SLUICE_DECAP_pass_not_local;
  tunnel->outer_length = sizeof(*ip);
  tunnel->udp_offset = sizeof(*ip);
  tunnel->outer_end = total_length;
  return CONTINUE;
}

/* UDP + GUE after the outer IP header: sets the inner family and the bytes to strip. */
static __always_inline enum sluice_decap_outcome parse_gue(void* l3, void* data_end,
                                                           struct tunnel* tunnel) {
  struct udphdr* udp = l3 + tunnel->udp_offset;
  __u8* gue = (void*)(udp + 1);
  if ((void*)(gue + 1) > data_end) return SLUICE_DECAP_drop_malformed_outer;
  if (bpf_ntohs(udp->len) < sizeof(*udp) + 1 ||
      tunnel->udp_offset + bpf_ntohs(udp->len) > tunnel->outer_end)
    return SLUICE_DECAP_drop_malformed_outer;

  __u8 first = *gue;
  __u8 version = first >> GUE_VERSION_SHIFT;
  if (version == 1) {
    /* Variant 1: the IP header follows UDP directly; its version nibble names the family. */
    __u8 ip_version = first >> IP_VERSION_SHIFT;
    tunnel->inner_family = ip_version == 4   ? SLUICE_FAMILY_V4
                           : ip_version == 6 ? SLUICE_FAMILY_V6
                                             : 0;
    if (!tunnel->inner_family) return SLUICE_DECAP_drop_malformed_inner;
    tunnel->outer_length = tunnel->udp_offset + sizeof(*udp);
    return CONTINUE;
  }
  if (version != 0) return SLUICE_DECAP_drop_malformed_outer;

  struct sluice_gue_header* header = (void*)gue;
  if ((void*)(header + 1) > data_end) return SLUICE_DECAP_drop_malformed_outer;
  if (first & GUE_CONTROL_FLAG) return SLUICE_DECAP_drop_gue_unsupported;
  tunnel->inner_family = inner_family_of_protocol(header->proto);
  if (!tunnel->inner_family) return SLUICE_DECAP_drop_gue_unsupported;
  tunnel->outer_length =
      tunnel->udp_offset + sizeof(*udp) + sizeof(*header) + (first & GUE_HLEN_MASK) * 4;
  return CONTINUE;
}

/* Checks that a whole, well-formed inner packet of the announced family sits inside the
 * outer datagram. */
static __always_inline enum sluice_decap_outcome check_inner(void* l3, void* data_end,
                                                             const struct tunnel* tunnel) {
  if (tunnel->outer_length > tunnel->outer_end) return SLUICE_DECAP_drop_malformed_outer;
  void* inner = l3 + tunnel->outer_length;
  __u32 available = tunnel->outer_end - tunnel->outer_length;
  if (tunnel->inner_family == SLUICE_FAMILY_V4) {
    struct iphdr* ip = inner;
    if ((void*)(ip + 1) > data_end) return SLUICE_DECAP_drop_malformed_inner;
    __u32 length = bpf_ntohs(ip->tot_len);
    if (ip->version != 4 || ip->ihl < 5 || length < ip->ihl * 4u || length > available)
      return SLUICE_DECAP_drop_malformed_inner;
  } else {
    struct ipv6hdr* ip = inner;
    if ((void*)(ip + 1) > data_end) return SLUICE_DECAP_drop_malformed_inner;
    if (ip->version != 6 || sizeof(*ip) + bpf_ntohs(ip->payload_len) > available)
      return SLUICE_DECAP_drop_malformed_inner;
  }
  return CONTINUE;
}

static __always_inline enum sluice_decap_outcome success_outcome(const struct tunnel* tunnel) {
  int inner_v4 = tunnel->inner_family == SLUICE_FAMILY_V4;
  if (tunnel->kind == TUNNEL_GUE)
    return inner_v4 ? SLUICE_DECAP_decap_gue_v4 : SLUICE_DECAP_decap_gue_v6;
  if (tunnel->outer_family == SLUICE_FAMILY_V4)
    return inner_v4 ? SLUICE_DECAP_decap_ipip : SLUICE_DECAP_decap_6in4;
  return inner_v4 ? SLUICE_DECAP_decap_4in6 : SLUICE_DECAP_decap_ip6ip6;
}

/* The Ethernet header and an optional VLAN tag, saved before the head moves. */
struct l2_header {
  struct ethhdr eth;
  struct sluice_vlan_header vlan;
};

/* Moves the L2 header forward over the outer headers and sets the inner ethertype. */
static __always_inline enum sluice_decap_outcome strip_outer(struct xdp_md* ctx,
                                                             const struct sluice_l2* l2,
                                                             const struct tunnel* tunnel) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct l2_header saved;
  if (data + sizeof(saved) > data_end) return SLUICE_DECAP_drop_malformed_outer;
  __builtin_memcpy(&saved, data, sizeof(saved));

  __be16 inner_ethertype =
      bpf_htons(tunnel->inner_family == SLUICE_FAMILY_V4 ? ETH_P_IP : ETH_P_IPV6);
  int tagged = l2->l3_offset != sizeof(struct ethhdr);
  if (tagged)
    saved.vlan.encapsulated_proto = inner_ethertype;
  else
    saved.eth.h_proto = inner_ethertype;

  if (bpf_xdp_adjust_head(ctx, tunnel->outer_length)) return SLUICE_DECAP_drop_adjust_failed;
  data = (void*)(long)ctx->data;
  data_end = (void*)(long)ctx->data_end;
  if (data + sizeof(saved) > data_end) return SLUICE_DECAP_drop_adjust_failed;
  if (tagged)
    __builtin_memcpy(data, &saved, sizeof(saved));
  else
    __builtin_memcpy(data, &saved.eth, sizeof(saved.eth));
  return success_outcome(tunnel);
}

static __always_inline enum sluice_decap_outcome decapsulate(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct sluice_l2 l2;
  if (sluice_parse_l2(data, data_end, &l2) < 0) return SLUICE_DECAP_pass_not_tunnel;

  __u32 zero = 0;
  const struct sluice_decap_config* config = bpf_map_lookup_elem(&decap_config, &zero);
  if (!config) return SLUICE_DECAP_pass_not_tunnel;

  void* l3 = data + l2.l3_offset;
  struct tunnel tunnel = {};
  enum sluice_decap_outcome outcome;
  if (l2.l3_ethertype == bpf_htons(ETH_P_IP))
    outcome = parse_outer_ipv4(l3, data_end, config, &tunnel);
  else if (l2.l3_ethertype == bpf_htons(ETH_P_IPV6))
    outcome = parse_outer_ipv6(l3, data_end, config, &tunnel);
  else
    return SLUICE_DECAP_pass_not_tunnel;
  if (outcome != CONTINUE) return outcome;

  if (tunnel.kind == TUNNEL_GUE) {
    outcome = parse_gue(l3, data_end, &tunnel);
    if (outcome != CONTINUE) return outcome;
  }
  outcome = check_inner(l3, data_end, &tunnel);
  if (outcome != CONTINUE) return outcome;
  return strip_outer(ctx, &l2, &tunnel);
}

static __always_inline int is_drop(enum sluice_decap_outcome outcome) {
  return outcome == SLUICE_DECAP_drop_malformed_outer ||
         outcome == SLUICE_DECAP_drop_malformed_inner ||
         outcome == SLUICE_DECAP_drop_gue_unsupported || outcome == SLUICE_DECAP_drop_adjust_failed;
}

SEC("xdp")
int sluice_decap(struct xdp_md* ctx) {
  __u64 bytes = ctx->data_end - ctx->data;
  enum sluice_decap_outcome outcome = decapsulate(ctx);
  sluice_count(&decap_stats, outcome, bytes);
  return is_drop(outcome) ? XDP_DROP : XDP_PASS;
}

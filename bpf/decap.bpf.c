/* Backend decapsulation: removes the outer header Sluice adds (IPIP, 6in4, IP6IP6, 4in6, GUE)
 * and hands the original packet to the kernel, which owns the VIP on lo and answers the client
 * directly (DSR). The Ethernet header (and a VLAN tag) is kept; only its ethertype changes
 * when the inner family differs from the outer one.
 *
 * Only packets that look like tunnels are judged: anything else passes unchanged, so the
 * backend's kernel keeps seeing its own traffic as before.
 *
 * Second-chance forwarding: a GUE packet may name a second hop (the backend that owned the
 * flow before the load balancer's table changed; maps.h has the wire format). When its inner
 * TCP packet is not a SYN, comes from a configured Sluice tunnel source and matches no local
 * connection, the packet is sent on, still encapsulated, to the hop instead of being
 * delivered here (docs/second-chance.md). */
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
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

/* The Sluice tunnel sources (the load balancers' outer source addresses): only their packets
 * may be sent on to a second hop. Empty: none is. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, SLUICE_MAX_TUNNEL_SOURCES);
  __type(key, struct sluice_addr_key);
  __type(value, __u32);
} decap_sources SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, SLUICE_SECOND_HOP_OUTCOME_COUNT);
  __type(key, __u32);
  __type(value, struct sluice_counter);
} decap_hop_stats SEC(".maps");

#define IPV4_FRAGMENT_MASK 0x3fff /* more-fragments flag and fragment offset */
#define GUE_VERSION_SHIFT 6
#define GUE_CONTROL_FLAG 0x20
#define GUE_HLEN_MASK 0x1f
#define IP_VERSION_SHIFT 4
#define AF_INET 2 /* bpf_fib_lookup families; no libc socket.h in BPF C */
#define AF_INET6 10

enum tunnel_kind { TUNNEL_IP_IN_IP, TUNNEL_GUE };

/* What to remove and what is left. Offsets are from the start of the L3 header. */
struct tunnel {
  enum tunnel_kind kind;
  __u8 outer_family;  /* SLUICE_FAMILY_V4 / V6 */
  __u8 inner_family;  /* SLUICE_FAMILY_V4 / V6 */
  __u16 outer_length; /* bytes to strip: outer IP [+ UDP + GUE] */
  __u16 outer_end;    /* end of the outer datagram by its own length field */
  __u16 udp_offset;   /* GUE only */
  __u16 hop_offset;   /* GUE with a second hop: where struct sluice_gue_hop starts; 0 = none */
};

/* Sentinel: keep parsing. Every other return is a final outcome. */
#define CONTINUE SLUICE_DECAP_OUTCOME_COUNT

static __always_inline int inner_family_of_protocol(__u8 protocol) {
  if (protocol == IPPROTO_IPIP) return SLUICE_FAMILY_V4;
  if (protocol == IPPROTO_IPV6) return SLUICE_FAMILY_V6;
  return 0;
}

/* The key of an address in the decap_addrs and decap_sources maps. */
static __always_inline struct sluice_addr_key addr_key_of(const void* address, __u8 family) {
  struct sluice_addr_key key = {};
  if (family == SLUICE_FAMILY_V4)
    __builtin_memcpy(key.address, address, 4);
  else
    __builtin_memcpy(key.address, address, 16);
  key.family = family;
  return key;
}

static __always_inline int is_local_address(const struct sluice_decap_config* config,
                                            const void* address, __u8 family) {
  if (config->match_any_address) return 1;
  struct sluice_addr_key key = addr_key_of(address, family);
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

/* Private data that names a second hop: exactly the hlen of the outer family, no GUE flags
 * (so nothing but private data), the magic and the type of the outer family. Anything else
 * leaves hop_offset 0: the packet is an ordinary GUE packet. */
static __always_inline void find_second_hop(const struct sluice_gue_header* header, __u8 hlen,
                                            void* data_end, struct tunnel* tunnel) {
  int v4 = tunnel->outer_family == SLUICE_FAMILY_V4;
  if (hlen != (v4 ? SLUICE_GUE_HOP_HLEN_V4 : SLUICE_GUE_HOP_HLEN_V6) || header->flags) return;
  const struct sluice_gue_hop* hop = (const void*)(header + 1);
  if ((void*)(hop + 1) > data_end) return;
  if (hop->magic != SLUICE_GUE_HOP_MAGIC ||
      hop->type != (v4 ? SLUICE_GUE_HOP_TYPE_V4 : SLUICE_GUE_HOP_TYPE_V6))
    return;
  tunnel->hop_offset =
      tunnel->udp_offset + sizeof(struct udphdr) + sizeof(struct sluice_gue_header);
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
  __u8 hlen = first & GUE_HLEN_MASK;
  tunnel->outer_length = tunnel->udp_offset + sizeof(*udp) + sizeof(*header) + hlen * 4;
  find_second_hop(header, hlen, data_end, tunnel);
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

/* ---- Second-chance forwarding ---------------------------------------------------------- */

/* RFC 1624 eqn. 3 over `words` 16-bit words that changed from old[i] to new[i]. Both are raw
 * (network order) words: the one's-complement sum does not depend on the byte order. */
static __always_inline __u16 checksum_replace(__u16 check, const __u16* old, const __u16* new,
                                              int words) {
  __u32 sum = (__u16)~check;
#pragma unroll
  for (int i = 0; i < 16; ++i) {
    if (i >= words) break;
    sum += (__u16)~old[i];
    sum += new[i];
  }
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return (__u16)~sum;
}

static __always_inline int is_tunnel_source(const void* address, __u8 family) {
  struct sluice_addr_key key = addr_key_of(address, family);
  return bpf_map_lookup_elem(&decap_sources, &key) != 0;
}

/* 1 when the socket found for the inner packet takes it here: any socket but a listener, or a
 * listener for which the packet is the ACK of a valid SYN cookie. Releases the reference. */
static __always_inline int socket_takes_packet(struct bpf_sock* sk, void* ip, __u32 ip_length,
                                               struct tcphdr* tcp) {
  if (!sk) return 0;
  int takes = sk->state != BPF_TCP_LISTEN ||
              (tcp->ack && bpf_tcp_check_syncookie(sk, ip, ip_length, tcp, sizeof(*tcp)) == 0);
  bpf_sk_release(sk);
  return takes;
}

/* Judges the inner TCP packet at `inner`: a SYN, a local connection, or none. */
static __always_inline enum sluice_second_hop_outcome judge_inner(struct xdp_md* ctx, void* inner,
                                                                  void* data_end, __u8 family) {
  struct bpf_sock_tuple tuple = {};
  struct tcphdr* tcp;
  struct bpf_sock* sk;
  if (family == SLUICE_FAMILY_V4) {
    struct iphdr* ip = inner;
    if ((void*)(ip + 1) > data_end) return SLUICE_HOP_not_tcp;
    if (ip->protocol != IPPROTO_TCP || (ip->frag_off & bpf_htons(IPV4_FRAGMENT_MASK)))
      return SLUICE_HOP_not_tcp;
    tcp = inner + ip->ihl * 4;
    if ((void*)(tcp + 1) > data_end) return SLUICE_HOP_not_tcp;
    if (tcp->syn && !tcp->ack) return SLUICE_HOP_delivered_syn;
    tuple.ipv4.saddr = ip->saddr;
    tuple.ipv4.daddr = ip->daddr;
    tuple.ipv4.sport = tcp->source;
    tuple.ipv4.dport = tcp->dest;
    sk = bpf_skc_lookup_tcp(ctx, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
    return socket_takes_packet(sk, ip, sizeof(*ip), tcp) ? SLUICE_HOP_delivered_socket
                                                         : SLUICE_HOP_redirected;
  }
  struct ipv6hdr* ip = inner;
  if ((void*)(ip + 1) > data_end) return SLUICE_HOP_not_tcp;
  if (ip->nexthdr != IPPROTO_TCP) return SLUICE_HOP_not_tcp; /* extension headers, fragments */
  tcp = (void*)(ip + 1);
  if ((void*)(tcp + 1) > data_end) return SLUICE_HOP_not_tcp;
  if (tcp->syn && !tcp->ack) return SLUICE_HOP_delivered_syn;
  __builtin_memcpy(tuple.ipv6.saddr, &ip->saddr, 16);
  __builtin_memcpy(tuple.ipv6.daddr, &ip->daddr, 16);
  tuple.ipv6.sport = tcp->source;
  tuple.ipv6.dport = tcp->dest;
  sk = bpf_skc_lookup_tcp(ctx, &tuple, sizeof(tuple.ipv6), BPF_F_CURRENT_NETNS, 0);
  return socket_takes_packet(sk, ip, sizeof(*ip), tcp) ? SLUICE_HOP_delivered_socket
                                                       : SLUICE_HOP_redirected;
}

/* The route to the hop, from this backend's address (the outer destination). */
static __always_inline enum sluice_second_hop_outcome route_to_hop(struct xdp_md* ctx, void* l3,
                                                                   void* data_end,
                                                                   const struct tunnel* tunnel,
                                                                   const void* hop_address,
                                                                   struct bpf_fib_lookup* fib) {
  const struct udphdr* udp = l3 + tunnel->udp_offset;
  if ((void*)(udp + 1) > data_end) return SLUICE_HOP_redirect_no_route; /* checked before */
  fib->ifindex = ctx->ingress_ifindex;
  fib->l4_protocol = IPPROTO_UDP;
  fib->sport = udp->source;
  fib->dport = udp->dest;
  fib->tot_len = tunnel->outer_end;
  if (tunnel->outer_family == SLUICE_FAMILY_V4) {
    const struct iphdr* ip = l3;
    if (ip->ttl <= 1) return SLUICE_HOP_redirect_ttl;
    fib->family = AF_INET;
    fib->tos = ip->tos;
    fib->ipv4_src = ip->daddr;
    __builtin_memcpy(&fib->ipv4_dst, hop_address, 4);
  } else {
    const struct ipv6hdr* ip = l3;
    if (ip->hop_limit <= 1) return SLUICE_HOP_redirect_ttl;
    fib->family = AF_INET6;
    __builtin_memcpy(fib->ipv6_src, &ip->daddr, 16);
    __builtin_memcpy(fib->ipv6_dst, hop_address, 16);
  }
  if (bpf_fib_lookup(ctx, fib, sizeof(*fib), 0) != BPF_FIB_LKUP_RET_SUCCESS)
    return SLUICE_HOP_redirect_no_route;
  return SLUICE_HOP_redirected;
}

/* What to do with a GUE packet that names a second hop. SLUICE_HOP_redirected leaves the
 * route in `fib`; every other outcome delivers the packet here. */
static __always_inline enum sluice_second_hop_outcome judge_second_hop(struct xdp_md* ctx, void* l3,
                                                                       void* data_end,
                                                                       const struct sluice_l2* l2,
                                                                       const struct tunnel* tunnel,
                                                                       struct bpf_fib_lookup* fib) {
  const struct sluice_gue_hop* hop = l3 + tunnel->hop_offset;
  const __u8* hop_address = (const void*)(hop + 1);
  if ((void*)(hop_address + 16) > data_end) return SLUICE_HOP_not_tcp; /* not reached: inner */
  if (hop->flags & SLUICE_GUE_HOP_USED) return SLUICE_HOP_delivered_hop_used;

  const void* outer_source;
  if (tunnel->outer_family == SLUICE_FAMILY_V4)
    outer_source = &((const struct iphdr*)l3)->saddr;
  else
    outer_source = &((const struct ipv6hdr*)l3)->saddr;
  if (!is_tunnel_source(outer_source, tunnel->outer_family)) return SLUICE_HOP_not_eligible;

  enum sluice_second_hop_outcome outcome =
      judge_inner(ctx, l3 + tunnel->outer_length, data_end, tunnel->inner_family);
  if (outcome != SLUICE_HOP_redirected) return outcome;
  /* XDP_TX keeps the frame as it is apart from the MACs: a VLAN tag would have to be chosen
   * for the hop's route, which this program does not do. */
  if (l2->l3_offset != sizeof(struct ethhdr)) return SLUICE_HOP_redirect_no_route;
  return route_to_hop(ctx, l3, data_end, tunnel, hop_address, fib);
}

/* Rewrites the packet for the hop in place: outer source := the outer destination, outer
 * destination := the hop, TTL / hop limit - 1, USED set, checksums updated, MACs from the
 * route. Returns the XDP action. */
static __always_inline int send_to_hop(struct xdp_md* ctx, const struct tunnel* tunnel,
                                       const struct bpf_fib_lookup* fib) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct ethhdr* eth = data;
  void* l3 = (void*)(eth + 1);
  struct udphdr* udp = l3 + tunnel->udp_offset;
  struct sluice_gue_hop* hop = l3 + tunnel->hop_offset;
  __u8* hop_address = (void*)(hop + 1);
  if ((void*)(udp + 1) > data_end || (void*)(hop_address + 16) > data_end) return XDP_ABORTED;

  __u16 old_flags = *(__u16*)&hop->flags; /* flags and reserved: one checksum word */
  hop->flags |= SLUICE_GUE_HOP_USED;
  __u16 new_flags = *(__u16*)&hop->flags;
  /* A zero UDP checksum (none, as Sluice sends over IPv4) stays zero; any other is updated
   * for the pseudo-header's addresses and the flags word. */
  int has_udp_check = udp->check != 0;
  __u16 udp_check = checksum_replace(udp->check, &old_flags, &new_flags, 1);

  if (tunnel->outer_family == SLUICE_FAMILY_V4) {
    struct iphdr* ip = l3;
    if ((void*)(ip + 1) > data_end) return XDP_ABORTED;
    __u32 old_addresses[2] = {ip->saddr, ip->daddr};
    __u32 new_addresses[2] = {ip->daddr, 0};
    __builtin_memcpy(&new_addresses[1], hop_address, 4);
    __u16 old_ttl = *(__u16*)&ip->ttl; /* TTL and protocol: one checksum word */
    ip->ttl -= 1;
    __u16 new_ttl = *(__u16*)&ip->ttl;
    ip->saddr = new_addresses[0];
    ip->daddr = new_addresses[1];
    __u16 check = checksum_replace(ip->check, (__u16*)old_addresses, (__u16*)new_addresses, 4);
    ip->check = checksum_replace(check, &old_ttl, &new_ttl, 1);
    udp_check = checksum_replace(udp_check, (__u16*)old_addresses, (__u16*)new_addresses, 4);
  } else {
    struct ipv6hdr* ip = l3;
    if ((void*)(ip + 1) > data_end) return XDP_ABORTED;
    __u8 old_addresses[32];
    __u8 new_addresses[32];
    __builtin_memcpy(old_addresses, &ip->saddr, 32); /* saddr and daddr are adjacent */
    __builtin_memcpy(new_addresses, &ip->daddr, 16);
    __builtin_memcpy(new_addresses + 16, hop_address, 16);
    __builtin_memcpy(&ip->saddr, new_addresses, 32);
    ip->hop_limit -= 1; /* not in the pseudo-header */
    udp_check = checksum_replace(udp_check, (__u16*)old_addresses, (__u16*)new_addresses, 16);
  }
  if (has_udp_check) udp->check = udp_check ? udp_check : 0xffff; /* a computed 0 goes as ~0 */

  __builtin_memcpy(eth->h_dest, fib->dmac, ETH_ALEN);
  __builtin_memcpy(eth->h_source, fib->smac, ETH_ALEN);
  if (fib->ifindex == ctx->ingress_ifindex) return XDP_TX;
  return bpf_redirect(fib->ifindex, 0);
}

static __always_inline enum sluice_decap_outcome decapsulate(struct xdp_md* ctx, __u64 bytes,
                                                             int* action) {
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

  if (tunnel.hop_offset) {
    struct bpf_fib_lookup fib = {};
    enum sluice_second_hop_outcome hop_outcome =
        judge_second_hop(ctx, l3, data_end, &l2, &tunnel, &fib);
    sluice_count(&decap_hop_stats, hop_outcome, bytes);
    if (hop_outcome == SLUICE_HOP_redirected) {
      *action = send_to_hop(ctx, &tunnel, &fib);
      return SLUICE_DECAP_redirect_second_hop;
    }
  }
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
  int action = XDP_PASS;
  enum sluice_decap_outcome outcome = decapsulate(ctx, bytes, &action);
  sluice_count(&decap_stats, outcome, bytes);
  return is_drop(outcome) ? XDP_DROP : action;
}

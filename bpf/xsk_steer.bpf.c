/* AF_XDP steering: loaded by the DPDK af_xdp PMD (xdp_prog=) on the NIC that Sluice shares
 * with the host kernel. Packets for a VIP go to the AF_XDP socket of the receiving queue;
 * everything else (ARP, NDP, SSH, BGP, health-check replies) stays with the kernel.
 *
 * A packet is for a VIP when (destination, destination port, protocol) or (destination, port 0,
 * protocol) is in sluice_vips, or when it is an IP fragment or ICMP message whose destination
 * address is in sluice_vip_addr. The dataplane keeps both maps equal to its VIP set. */
#include <linux/icmpv6.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include "xdp_common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
  __uint(type, BPF_MAP_TYPE_XSKMAP);
  __uint(max_entries, SLUICE_MAX_XSK_QUEUES);
  __type(key, __u32);
  __type(value, __u32);
} xsks_map SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, SLUICE_MAX_VIPS);
  __type(key, struct sluice_vip_key);
  __type(value, struct sluice_vip_value);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_vips SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, SLUICE_MAX_VIPS);
  __type(key, struct sluice_addr_key);
  __type(value, __u32); /* number of VIP keys with this address; informational */
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_vip_addr SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, SLUICE_STEER_VERDICT_COUNT);
  __type(key, __u32);
  __type(value, struct sluice_counter);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_steer_ct SEC(".maps");

#define IPV6_MAX_EXTENSION_HEADERS 4
#define IPV4_FRAGMENT_MASK 0x3fff /* more-fragments flag and fragment offset */
#define NDP_FIRST_TYPE 133        /* router solicitation */
#define NDP_LAST_TYPE 137         /* redirect */

/* The L3/L4 facts the decision needs. */
struct steer_packet {
  struct sluice_vip_key key; /* port filled for TCP/UDP only */
  int is_fragment;
  int is_icmp;
};

static __always_inline int is_vip_address(const struct sluice_vip_key* key) {
  struct sluice_addr_key address = {};
  __builtin_memcpy(address.address, key->address, sizeof(address.address));
  address.family = key->family;
  return bpf_map_lookup_elem(&sluice_vip_addr, &address) != 0;
}

static __always_inline int is_vip_service(struct sluice_vip_key* key) {
  if (bpf_map_lookup_elem(&sluice_vips, key)) return 1;
  __be16 port = key->port;
  key->port = 0;
  int found = bpf_map_lookup_elem(&sluice_vips, key) != 0;
  key->port = port;
  return found;
}

/* Reads the destination port of TCP/UDP at `l4`. Returns -1 when the header is truncated. */
static __always_inline int read_destination_port(void* l4, void* data_end, __u8 protocol,
                                                 __be16* port) {
  if (protocol == IPPROTO_TCP) {
    struct tcphdr* tcp = l4;
    if ((void*)(tcp + 1) > data_end) return -1;
    *port = tcp->dest;
  } else if (protocol == IPPROTO_UDP) {
    struct udphdr* udp = l4;
    if ((void*)(udp + 1) > data_end) return -1;
    *port = udp->dest;
  }
  return 0;
}

/* Returns 0 and fills `packet`, or -1 for a malformed header. */
static __always_inline int parse_ipv4(void* l3, void* data_end, struct steer_packet* packet) {
  struct iphdr* ip = l3;
  if ((void*)(ip + 1) > data_end) return -1;
  if (ip->version != 4 || ip->ihl < 5) return -1;
  __builtin_memcpy(packet->key.address, &ip->daddr, sizeof(ip->daddr));
  packet->key.family = SLUICE_FAMILY_V4;
  packet->key.protocol = ip->protocol;
  packet->is_icmp = ip->protocol == IPPROTO_ICMP;
  if (ip->frag_off & bpf_htons(IPV4_FRAGMENT_MASK)) {
    packet->is_fragment = 1;
    return 0;
  }
  return read_destination_port(l3 + ip->ihl * 4, data_end, ip->protocol, &packet->key.port);
}

static __always_inline int is_ndp(void* l4, void* data_end) {
  struct icmp6hdr* icmp = l4;
  if ((void*)(icmp + 1) > data_end) return 0;
  return icmp->icmp6_type >= NDP_FIRST_TYPE && icmp->icmp6_type <= NDP_LAST_TYPE;
}

static __always_inline int parse_ipv6(void* l3, void* data_end, struct steer_packet* packet) {
  struct ipv6hdr* ip = l3;
  if ((void*)(ip + 1) > data_end) return -1;
  if (ip->version != 6) return -1;
  __builtin_memcpy(packet->key.address, &ip->daddr, sizeof(ip->daddr));
  packet->key.family = SLUICE_FAMILY_V6;

  __u8 next = ip->nexthdr;
  void* cursor = ip + 1;
#pragma unroll
  for (int i = 0; i < IPV6_MAX_EXTENSION_HEADERS; i++) {
    if (next == IPPROTO_FRAGMENT) {
      packet->is_fragment = 1;
      struct ipv6_opt_hdr* fragment = cursor;
      if ((void*)(fragment + 1) > data_end) return -1;
      packet->key.protocol = fragment->nexthdr;
      packet->is_icmp = fragment->nexthdr == IPPROTO_ICMPV6;
      return 0;
    }
    if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING && next != IPPROTO_DSTOPTS) break;
    struct ipv6_opt_hdr* option = cursor;
    if ((void*)(option + 1) > data_end) return -1;
    next = option->nexthdr;
    cursor += (option->hdrlen + 1) * 8;
  }
  packet->key.protocol = next;
  if (next == IPPROTO_ICMPV6) {
    /* Neighbour discovery to a VIP address belongs to the host that owns the address. */
    packet->is_icmp = !is_ndp(cursor, data_end);
    return 0;
  }
  return read_destination_port(cursor, data_end, next, &packet->key.port);
}

static __always_inline enum sluice_steer_verdict classify(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct sluice_l2 l2;
  if (sluice_parse_l2(data, data_end, &l2) < 0) return SLUICE_STEER_pass_malformed;

  struct steer_packet packet = {};
  void* l3 = data + l2.l3_offset;
  if (l2.l3_ethertype == bpf_htons(ETH_P_IP)) {
    if (parse_ipv4(l3, data_end, &packet) < 0) return SLUICE_STEER_pass_malformed;
  } else if (l2.l3_ethertype == bpf_htons(ETH_P_IPV6)) {
    if (parse_ipv6(l3, data_end, &packet) < 0) return SLUICE_STEER_pass_malformed;
  } else {
    return SLUICE_STEER_pass_not_ip;
  }

  if (packet.is_fragment)
    return is_vip_address(&packet.key) ? SLUICE_STEER_redirect_fragment : SLUICE_STEER_pass_not_vip;
  if (packet.is_icmp)
    return is_vip_address(&packet.key) ? SLUICE_STEER_redirect_icmp : SLUICE_STEER_pass_not_vip;
  return is_vip_service(&packet.key) ? SLUICE_STEER_redirect_vip : SLUICE_STEER_pass_not_vip;
}

SEC("xdp")
int sluice_steer(struct xdp_md* ctx) {
  __u64 bytes = ctx->data_end - ctx->data;
  enum sluice_steer_verdict verdict = classify(ctx);
  int action = XDP_PASS;
  if (verdict == SLUICE_STEER_redirect_vip || verdict == SLUICE_STEER_redirect_fragment ||
      verdict == SLUICE_STEER_redirect_icmp) {
    /* The low bits of flags are the action when the queue has no socket: give it to the
     * kernel rather than lose it (the dataplane is restarting or not bound yet). */
    action = bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
    if (action != XDP_REDIRECT) verdict = SLUICE_STEER_pass_no_socket;
  }
  sluice_count(&sluice_steer_ct, verdict, bytes);
  return action;
}

/* Helpers shared by the XDP programs: Ethernet (+ one 802.1Q/802.1ad tag) parsing and per-CPU
 * counters. BPF C only. */
#ifndef SLUICE_BPF_XDP_COMMON_H
#define SLUICE_BPF_XDP_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/types.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "maps.h"

struct sluice_vlan_header {
  __be16 tci;
  __be16 encapsulated_proto;
};

/* Where the L3 header starts and which ethertype announces it. */
struct sluice_l2 {
  __u16 l3_offset;     /* 14, or 18 with a VLAN tag */
  __be16 l3_ethertype; /* network order */
};

/* Returns 0 and fills `l2`, or -1 when the frame is shorter than its L2 header. A second tag
 * (QinQ) is reported as its ethertype, which no caller treats as IP. */
static __always_inline int sluice_parse_l2(void* data, void* data_end, struct sluice_l2* l2) {
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end) return -1;
  l2->l3_offset = sizeof(*eth);
  l2->l3_ethertype = eth->h_proto;
  if (eth->h_proto == bpf_htons(ETH_P_8021Q) || eth->h_proto == bpf_htons(ETH_P_8021AD)) {
    struct sluice_vlan_header* vlan = (void*)(eth + 1);
    if ((void*)(vlan + 1) > data_end) return -1;
    l2->l3_offset += sizeof(*vlan);
    l2->l3_ethertype = vlan->encapsulated_proto;
  }
  return 0;
}

static __always_inline void sluice_count(void* counter_map, __u32 index, __u64 bytes) {
  struct sluice_counter* counter = bpf_map_lookup_elem(counter_map, &index);
  if (!counter) return;
  counter->packets += 1; /* per-CPU slot: one writer, no atomics */
  counter->bytes += bytes;
}

#endif /* SLUICE_BPF_XDP_COMMON_H */

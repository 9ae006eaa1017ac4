#!/usr/bin/env bash
# xsk_steer.bpf.o loaded by the real DPDK af_xdp PMD (xdp_prog=), the way the dataplane runs
# it: testpmd on one end of a veth in its own namespace, the VIP written into the pinned map,
# then 1000 VIP SYNs and 500 ssh SYNs from the other end. All VIP packets must reach DPDK and
# the ssh ones the kernel. Bounded: testpmd runs under `timeout`, namespaces go on exit.
#
# Usage: af_xdp_pmd_test.sh /path/to/xsk_steer.bpf.o      (root; needs dpdk-testpmd)
set -euo pipefail
((EUID == 0)) || { echo "SKIP: needs root (namespaces, XDP)"; exit 77; }

object=${1:?usage: $0 /path/to/xsk_steer.bpf.o}
command -v dpdk-testpmd >/dev/null || { echo "SKIP: dpdk-testpmd not installed"; exit 77; }
python=/usr/bin/python3
sender=sluice-pmd-tx-$$
receiver=sluice-pmd-rx-$$
prefix=sluice-bpf-pmd-$$
work=$(mktemp -d)
vip_count=1000
other_count=500

cleanup() {
  ip netns del "$sender" 2>/dev/null || true
  ip netns del "$receiver" 2>/dev/null || true
  rm -rf "$work" "/var/run/dpdk/$prefix"
}
trap cleanup EXIT

ip netns add "$sender"
ip netns add "$receiver"
ip link add veth0 netns "$sender" type veth peer name veth0 netns "$receiver"
ip -n "$sender" link set veth0 up
ip -n "$receiver" link set veth0 up
ip -n "$receiver" addr add 198.18.201.2/24 dev veth0
mac=$(ip -n "$receiver" -j link show veth0 | jq -r '.[0].address')

# sluice_vip_key for 198.18.0.10 TCP/80 and sluice_addr_key for 198.18.0.10 (bpf/maps.h).
vip_key="c6 12 00 0a $(printf '00 %.0s' {1..12}) 00 50 06 04"
addr_key="c6 12 00 0a $(printf '00 %.0s' {1..12}) 04 00 00 00"

# Everything that needs the bpffs runs in one mount namespace: the PMD pins the maps there.
ip netns exec "$receiver" sh -c "
  mount -t bpf bpf /sys/fs/bpf
  timeout 25 dpdk-testpmd -l 0-1 --main-lcore 0 --no-pci --no-huge -m 512 --file-prefix $prefix \
    --vdev net_af_xdp0,iface=veth0,start_queue=0,queue_count=1,xdp_prog=$object \
    -- --total-num-mbufs=8192 --forward-mode=rxonly --stats-period=1 -a >$work/testpmd.log 2>&1 &
  pmd=\$!
  for i in \$(seq 100); do ip link show veth0 | grep -q 'prog/xdp' && break; sleep 0.1; done
  bpftool map update pinned /sys/fs/bpf/sluice_vips key hex $vip_key value hex 00 00 00 00
  bpftool map update pinned /sys/fs/bpf/sluice_vip_addr key hex $addr_key value hex 01 00 00 00
  touch $work/ready
  while [ ! -e $work/sent ]; do sleep 0.2; done
  sleep 1
  bpftool -j map dump pinned /sys/fs/bpf/sluice_steer_ct >$work/counters.json
  kill -INT \$pmd
  wait \$pmd
" &
receiver_job=$!

for _ in $(seq 150); do [[ -e $work/ready ]] && break; sleep 0.1; done
[[ -e $work/ready ]] || { echo "FAIL: the PMD did not attach the program"; cat "$work/testpmd.log"; exit 1; }
ip netns exec "$sender" timeout 60 "$python" -c "
import logging
logging.getLogger('scapy.runtime').setLevel(logging.ERROR)
from scapy.all import Ether, IP, TCP, sendp, conf
conf.verb = 0
vip = [Ether(dst='$mac')/IP(src='198.18.201.1', dst='198.18.0.10')/TCP(sport=1024 + i, dport=80, flags='S')
       for i in range($vip_count)]
ssh = [Ether(dst='$mac')/IP(src='198.18.201.1', dst='198.18.201.2')/TCP(sport=1024 + i, dport=22, flags='S')
       for i in range($other_count)]
sendp(vip + ssh, iface='veth0')
"
touch "$work/sent"
wait "$receiver_job" || true

counter() { jq "[.[] | select(.formatted.key == $1) | .formatted.values[].value.packets] | add" "$work/counters.json"; }
redirected=$(counter 0)  # SLUICE_STEER_redirect_vip
passed=$(counter 5)      # SLUICE_STEER_pass_not_vip
dpdk_rx=$(grep -A2 'Accumulated forward statistics' "$work/testpmd.log" | grep -o 'RX-packets: *[0-9]*' | grep -o '[0-9]*$')
echo "redirect_vip=$redirected pass_not_vip=$passed testpmd_rx=$dpdk_rx (sent $vip_count VIP, $other_count ssh)"

failures=0
((redirected == vip_count)) || { echo "FAIL: redirect_vip $redirected != $vip_count"; failures=1; }
((dpdk_rx == vip_count)) || { echo "FAIL: DPDK received $dpdk_rx != $vip_count"; failures=1; }
((passed >= other_count)) || { echo "FAIL: pass_not_vip $passed < $other_count"; failures=1; }
((failures == 0)) && echo "PASS: every VIP packet reached DPDK, every ssh packet the kernel"
exit "$failures"

#!/usr/bin/env bash
# The decap program attached for real: two namespaces over a veth, the VIP on the backend's lo,
# an HTTP server there, and from the other side one encapsulated SYN per tunnel type. The
# backend must answer with a SYN-ACK from the VIP straight to the client (DSR). Then, with the
# program detached, the same SYN must get no answer: the decap is what makes it work.
#
# Usage: dsr_namespace_test.sh /path/to/sluice-decap      (root; namespaces removed on exit)
set -euo pipefail
((EUID == 0)) || { echo "SKIP: needs root (namespaces, XDP)"; exit 77; }

decap=${1:?usage: $0 /path/to/sluice-decap}
here=$(cd "$(dirname "$0")" && pwd)
probe="$here/../../tools/lab/dsr_probe.py"
python=/usr/bin/python3

client=sluice-dsr-client-$$
backend=sluice-dsr-backend-$$
vip4=198.18.0.10
vip6=2001:db8::10
client4=198.18.200.1
backend4=198.18.200.2
client6=2001:db8:200::1
backend6=2001:db8:200::2
server_pid=
webroot=$(mktemp -d)

cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null || true
  ip netns del "$client" 2>/dev/null || true
  ip netns del "$backend" 2>/dev/null || true
  rm -rf "$webroot"
}
trap cleanup EXIT

in_client() { ip netns exec "$client" "$@"; }
in_backend() { ip netns exec "$backend" "$@"; }

ip netns add "$client"
ip netns add "$backend"
ip link add veth0 netns "$client" type veth peer name veth0 netns "$backend"
for ns in "$client" "$backend"; do
  ip -n "$ns" link set lo up
  ip -n "$ns" link set veth0 up
done
ip -n "$client" addr add "$client4/24" dev veth0
ip -n "$client" addr add "$client6/64" dev veth0 nodad
ip -n "$backend" addr add "$backend4/24" dev veth0
ip -n "$backend" addr add "$backend6/64" dev veth0 nodad
ip -n "$backend" addr add "$vip4/32" dev lo
ip -n "$backend" addr add "$vip6/128" dev lo
# The VIP is on lo: never answer ARP for it on veth0, and accept packets to it from anywhere.
for key in all.arp_ignore=1 all.arp_announce=2 all.rp_filter=0 default.rp_filter=0 \
           veth0.arp_ignore=1 veth0.arp_announce=2 veth0.rp_filter=0; do
  in_backend sysctl -qw "net.ipv4.conf.$key"
done

echo "backend" > "$webroot/index.html"
(cd "$webroot" && exec ip netns exec "$backend" "$python" -m http.server 80 --bind :: >/dev/null 2>&1) &
server_pid=$!
for _ in $(seq 50); do
  in_backend ss -Hltn 'sport = :80' | grep -q LISTEN && break
  sleep 0.1
done
in_backend ss -Hltn 'sport = :80' | grep -q LISTEN || { echo "FAIL: HTTP server did not start"; exit 1; }

"$decap" --help >/dev/null
in_backend "$decap" attach --iface veth0 --mode native \
  --tunnel-address "$backend4" --tunnel-address "$backend6"
backend_mac=$(ip -n "$backend" -j link show veth0 | jq -r '.[0].address')

failures=0
# name  encap  outer-src  outer-dst  client  vip  counter
cases=(
  "ipip   ip  $client4 $backend4 $client4 $vip4 decap_ipip"
  "6in4   ip  $client4 $backend4 $client6 $vip6 decap_6in4"
  "ip6ip6 ip  $client6 $backend6 $client6 $vip6 decap_ip6ip6"
  "4in6   ip  $client6 $backend6 $client4 $vip4 decap_4in6"
  "gue-v4 gue $client4 $backend4 $client4 $vip4 decap_gue_v4"
  "gue-v6 gue $client6 $backend6 $client6 $vip6 decap_gue_v6"
)
for case in "${cases[@]}"; do
  read -r name encap outer_src outer_dst client_addr vip counter <<<"$case"
  if in_client timeout 10 "$python" "$probe" --iface veth0 --dst-mac "$backend_mac" \
       --outer-src "$outer_src" --backend "$outer_dst" --client "$client_addr" --vip "$vip" \
       --encap "$encap" --timeout 3; then
    packets=$(in_backend "$decap" stats --iface veth0 --json | jq ".counters.$counter.packets")
    if ((packets >= 1)); then
      echo "PASS: $name: SYN-ACK from the VIP, $counter = $packets"
    else
      echo "FAIL: $name: answered, but $counter did not move"; failures=$((failures + 1))
    fi
  else
    echo "FAIL: $name: no SYN-ACK from the VIP"; failures=$((failures + 1))
  fi
done

# A tunnel packet for an address that is not the backend's passes through untouched.
in_client timeout 10 "$python" "$probe" --iface veth0 --dst-mac "$backend_mac" --send-only \
  --outer-src "$client4" --backend 198.18.200.99 --client "$client4" --vip "$vip4"
not_local=$(in_backend "$decap" stats --iface veth0 --json | jq '.counters.pass_not_local.packets')
if ((not_local >= 1)); then echo "PASS: other tunnel address passed, pass_not_local = $not_local"
else echo "FAIL: pass_not_local did not move"; failures=$((failures + 1)); fi

# Without the program the backend kernel cannot decapsulate (no ipip module): no answer.
in_backend "$decap" detach --iface veth0
if in_client timeout 10 "$python" "$probe" --iface veth0 --dst-mac "$backend_mac" \
     --outer-src "$client4" --backend "$backend4" --client "$client4" --vip "$vip4" --timeout 2 2>/dev/null; then
  echo "FAIL: SYN-ACK without the decap program: the test proves nothing"; failures=$((failures + 1))
else
  echo "PASS: no answer once detached"
fi

if ((failures)); then echo "$failures failure(s)"; exit 1; fi
echo "all DSR cases passed"

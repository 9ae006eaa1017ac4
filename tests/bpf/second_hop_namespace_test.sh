#!/usr/bin/env bash
# Second-chance forwarding with real traffic: a client, two backends A and B (both holding the
# VIP on lo, both running sluice-decap and an HTTP-less TCP server that records what it
# receives) on one bridge. The client opens a real TCP connection to the VIP, routed plainly to
# A. Then one data segment of that connection arrives at B GUE-encapsulated from the load
# balancer's address, as after a table change:
#   1. without a second hop: B delivers it to its own kernel, A never sees the data;
#   2. naming A as the second hop: B finds no connection, sends the packet on to A (XDP_TX on
#      its veth, through the bridge), A delivers it, A's server receives the data.
# The counters of both programs must show it (redirected / redirect_second_hop on B,
# delivered_hop_used on A). Then the same over an IPv6 outer header with an IPv6 client, with
# B's program in generic (skb) mode, and with the route to A through another interface of B
# (bpf_redirect instead of XDP_TX).
#
# What B needs (also written in docs/second-chance.md):
#   - forwarding on its interface (net.ipv4.conf.b0.forwarding=1, net.ipv6...): bpf_fib_lookup
#     refuses otherwise;
#   - a valid neighbour entry for A (here: B pings A first);
#   - XDP_TX on a veth: the frame goes to the veth's peer (here pb, a bridge port), which must
#     run an XDP program (bpf/xdp_pass.bpf.o: `ip link set dev pb xdpdrv obj xdp_pass.bpf.o
#     sec xdp`). GRO on the peer is not enough on this kernel; case 0 shows it.
#
# Usage: second_hop_namespace_test.sh /path/to/sluice-decap /path/to/xdp_pass.bpf.o
#        (root; namespaces removed on exit; SCD_DEBUG=SECONDS keeps them that long on failure)
set -euo pipefail
((EUID == 0)) || { echo "SKIP: needs root (namespaces, XDP)"; exit 77; }

decap=${1:?usage: $0 /path/to/sluice-decap /path/to/xdp_pass.bpf.o}
xdp_pass=${2:?usage: $0 /path/to/sluice-decap /path/to/xdp_pass.bpf.o}
here=$(cd "$(dirname "$0")" && pwd)
probe="$here/second_hop_probe.py"
python=/usr/bin/python3
"$python" -c 'import scapy' 2>/dev/null || { echo "SKIP: needs python3-scapy"; exit 77; }

client=scd-client-$$
a=scd-a-$$
b=scd-b-$$
br=scd-br-$$
vip4=198.18.0.10
vip6=2001:db8::10
client4=198.18.210.1
lb4=198.18.210.2
a4=198.18.210.11
b4=198.18.210.12
client6=2001:db8:210::1
lb6=2001:db8:210::2
a6=2001:db8:210::11
b6=2001:db8:210::12
run_dir=/tmp/scd/second-hop-$$
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for ns in "$client" "$a" "$b" "$br"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$run_dir"
}
trap cleanup EXIT
mkdir -p "$run_dir"

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

for ns in "$client" "$a" "$b" "$br"; do
  ip netns add "$ns"
  ip -n "$ns" link set lo up
done
ip -n "$br" link add br0 type bridge
ip -n "$br" link set br0 up
# name in the host namespace, its bridge port, its address suffix
for spec in "$client c0 pc" "$a a0 pa" "$b b0 pb"; do
  read -r ns ifname port <<<"$spec"
  ip link add "$ifname" netns "$ns" type veth peer name "$port" netns "$br"
  ip -n "$br" link set "$port" master br0
  ip -n "$br" link set "$port" up
  ip -n "$ns" link set "$ifname" up
done
ip -n "$client" addr add "$client4/24" dev c0
ip -n "$client" addr add "$client6/64" dev c0 nodad
ip -n "$client" route add "$vip4/32" via "$a4"
ip -n "$client" route add "$vip6/128" via "$a6"
for spec in "$a a0 $a4 $a6" "$b b0 $b4 $b6"; do
  read -r ns ifname addr4 addr6 <<<"$spec"
  ip -n "$ns" addr add "$addr4/24" dev "$ifname"
  ip -n "$ns" addr add "$addr6/64" dev "$ifname" nodad
  ip -n "$ns" addr add "$vip4/32" dev lo
  ip -n "$ns" addr add "$vip6/128" dev lo
  for key in all.arp_ignore=1 all.arp_announce=2 all.rp_filter=0 default.rp_filter=0 \
             "$ifname.arp_ignore=1" "$ifname.arp_announce=2" "$ifname.rp_filter=0"; do
    in_ns "$ns" sysctl -qw "net.ipv4.conf.$key"
  done
  # A TCP server on the VIP that appends whatever it receives to $run_dir/<ns>.
  (exec ip netns exec "$ns" "$python" -c '
import socket, sys, threading
out = sys.argv[1]
def serve(conn):
    with conn:
        conn.settimeout(10)
        try:
            while data := conn.recv(4096):
                with open(out, "ab") as f:
                    f.write(data)
        except OSError:
            pass
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 80))
s.listen(16)
while True:
    threading.Thread(target=serve, args=(s.accept()[0],), daemon=True).start()
' "$run_dir/$ns") &
  pids+=($!)
done
# B sends on: forwarding on its interface, and A's neighbour entry resolved (a ping).
in_ns "$b" sysctl -qw net.ipv4.conf.b0.forwarding=1 net.ipv6.conf.b0.forwarding=1
in_ns "$b" ping -c1 -W2 "$a4" >/dev/null
in_ns "$b" ping -c1 -W2 "$a6" >/dev/null
for ns in "$a" "$b"; do
  for _ in $(seq 50); do
    in_ns "$ns" ss -Hltn 'sport = :80' | grep -q LISTEN && break
    sleep 0.1
  done
  in_ns "$ns" ss -Hltn 'sport = :80' | grep -q LISTEN || { echo "FAIL: server in $ns did not start"; exit 1; }
done

in_ns "$a" "$decap" attach --iface a0 --tunnel-address "$a4" --tunnel-address "$a6" \
  --tunnel-source "$lb4" --tunnel-source "$lb6" >/dev/null
in_ns "$b" "$decap" attach --iface b0 --tunnel-address "$b4" --tunnel-address "$b6" \
  --tunnel-source "$lb4" --tunnel-source "$lb6" >/dev/null
b_mac=$(ip -n "$b" -j link show b0 | jq -r '.[0].address')

counter() { # ns table name
  in_ns "$1" "$decap" stats --iface "${1:4:1}0" --json | jq ".$2.$3.packets"
}
received() { # ns payload: 0 when the server in ns got it
  grep -q "$2" "$run_dir/$1" 2>/dev/null
}
wait_received() { # ns payload [tenths of a second, default 100]
  for _ in $(seq "${3:-100}"); do received "$1" "$2" && return 0; sleep 0.1; done
  return 1
}
send() { # payload client vip lb backend [hop]
  local hop=()
  [[ -n ${6:-} ]] && hop=(--hop "$6")
  in_ns "$client" timeout 20 "$python" "$probe" --iface c0 --client "$2" --vip "$3" --lb "$4" \
    --backend "$5" --backend-mac "$b_mac" "${hop[@]}" --payload "$1" --hold 2 >/dev/null
}

failures=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# A bad --tunnel-source is refused, naming the flag, and the attached program stays.
if out=$(in_ns "$b" "$decap" attach --iface b0 --tunnel-source 198.18.999.1 2>&1); then
  fail "attach accepted --tunnel-source 198.18.999.1"
elif [[ $out == *"--tunnel-source: '198.18.999.1'"* ]] && ip -n "$b" link show b0 | grep -q sluice_decap; then
  pass "a bad --tunnel-source is refused: $out"
else
  fail "a bad --tunnel-source: unexpected answer '$out'"
fi

# 0. What the lab needs on a veth (INFO only: kernel behaviour, not ours). XDP_TX from b0 goes
#    to its peer pb. Without NAPI on pb (GRO off, no XDP program) the kernel drops the frame
#    (b0's xdp_tx_errors); with GRO on but no XDP program it queues the frame but does not
#    poll pb (veth kicks the peer after XDP_TX only when the peer runs XDP): the frame waits
#    until other traffic polls pb. With an XDP program on pb (xdp_pass.bpf.o) it goes at once.
tx_errors() { in_ns "$b" ethtool -S b0 | awk '/xdp_tx_errors/ {print $2}'; }
in_ns "$br" ethtool -K pb gro off >/dev/null
errors=$(tx_errors)
send gro-off "$client4" "$vip4" "$lb4" "$b4" "$a4"
if wait_received "$a" gro-off 30; then echo "INFO: GRO off, no XDP on the peer: XDP_TX reached A"
else echo "INFO: GRO off, no XDP on the peer: XDP_TX did not reach A (xdp_tx_errors $errors -> $(tx_errors))"; fi
in_ns "$br" ethtool -K pb gro on >/dev/null
send gro-on "$client4" "$vip4" "$lb4" "$b4" "$a4"
if wait_received "$a" gro-on 30; then echo "INFO: GRO on, no XDP on the peer: XDP_TX reached A"
else echo "INFO: GRO on, no XDP on the peer: XDP_TX did not reach A within 3 s (xdp_tx_errors $(tx_errors))"; fi
ip -n "$br" link set dev pb xdpdrv obj "$xdp_pass" sec xdp
sleep 0.5
before=$(counter "$b" second_hop redirected)

# 1. No hop: B keeps it (its kernel has no such connection), A never gets it.
send no-hop "$client4" "$vip4" "$lb4" "$b4"
sleep 2
if received "$a" no-hop; then fail "without a hop the data reached A: the test proves nothing"
else pass "without a hop the data did not reach A"; fi
((before == $(counter "$b" second_hop redirected))) && pass "B sent nothing on without a hop" \
  || fail "B's redirected counter moved without a hop"

# 2. A named as the hop: the data reaches A's server through B.
used_before=$(counter "$a" second_hop delivered_hop_used)
send via-b-v4 "$client4" "$vip4" "$lb4" "$b4" "$a4"
if wait_received "$a" via-b-v4; then pass "IPv4: the data sent to B reached A's server"
else fail "IPv4: the data sent to B with hop A did not reach A"; fi
redirected=$(counter "$b" second_hop redirected)
main=$(counter "$b" counters redirect_second_hop)
used=$(counter "$a" second_hop delivered_hop_used)
((redirected == before + 1 && main >= 1)) && pass "B: redirected = $redirected, redirect_second_hop = $main" \
  || fail "B: redirected = $redirected (was $before), redirect_second_hop = $main"
((used == used_before + 1)) && pass "A: delivered_hop_used = $used" \
  || fail "A: delivered_hop_used = $used (was $used_before)"

# 3. The same over IPv6 (IPv6 outer, IPv6 client).
before=$(counter "$b" second_hop redirected)
send via-b-v6 "$client6" "$vip6" "$lb6" "$b6" "$a6"
if wait_received "$a" via-b-v6; then pass "IPv6: the data sent to B reached A's server"
else fail "IPv6: the data sent to B with hop A did not reach A"; fi
((before + 1 == $(counter "$b" second_hop redirected))) && pass "B: IPv6 packet counted redirected" \
  || fail "B: IPv6 packet not counted redirected"

# 4. Generic (skb) mode on B: XDP_TX goes out through the stack (dev_queue_xmit), so the veth
#    peer needs nothing: the XDP program on pb is removed first.
ip -n "$br" link set dev pb xdpdrv off
in_ns "$b" "$decap" attach --iface b0 --mode skb --tunnel-address "$b4" --tunnel-address "$b6" \
  --tunnel-source "$lb4" --tunnel-source "$lb6" >/dev/null
send via-b-skb "$client4" "$vip4" "$lb4" "$b4" "$a4"
if wait_received "$a" via-b-skb; then pass "skb mode on B, nothing on the peer: the data reached A"
else fail "skb mode on B: the data sent to B with hop A did not reach A"; fi
((1 == $(counter "$b" second_hop redirected))) && pass "B (skb mode): counted redirected" \
  || fail "B (skb mode): not counted redirected"

# 5. The route to the hop leaves by another interface: bpf_redirect to b1 (a second bridge,
#    br1, joins b1 and A's a1). A redirect goes through b1's ndo_xdp_xmit, which polls the
#    peer pb1 itself, so GRO on pb1 is enough there (INFO with GRO off, checked with GRO on).
ip -n "$br" link add br1 type bridge
ip -n "$br" link set br1 up
for spec in "$a a1 pa1 198.18.211.11" "$b b1 pb1 198.18.211.12"; do
  read -r ns ifname port addr <<<"$spec"
  ip link add "$ifname" netns "$ns" type veth peer name "$port" netns "$br"
  ip -n "$br" link set "$port" master br1
  ip -n "$br" link set "$port" up
  ip -n "$ns" link set "$ifname" up
  ip -n "$ns" addr add "$addr/24" dev "$ifname"
  in_ns "$ns" sysctl -qw "net.ipv4.conf.$ifname.rp_filter=0"
done
in_ns "$a" "$decap" attach --iface a1 --tunnel-address "$a4" >/dev/null
in_ns "$b" "$decap" attach --iface b0 --mode native --tunnel-address "$b4" \
  --tunnel-address "$b6" --tunnel-source "$lb4" --tunnel-source "$lb6" >/dev/null
ip -n "$br" link set dev pb xdpdrv obj "$xdp_pass" sec xdp
in_ns "$b" ping -c1 -W2 198.18.211.11 >/dev/null
ip -n "$b" route add "$a4/32" via 198.18.211.11 dev b1
in_ns "$br" ethtool -K pb1 gro off >/dev/null
send redirect-gro-off "$client4" "$vip4" "$lb4" "$b4" "$a4"
if wait_received "$a" redirect-gro-off 30; then echo "INFO: bpf_redirect, GRO off on the peer: reached A"
else echo "INFO: bpf_redirect, GRO off on the peer: did not reach A"; fi
in_ns "$br" ethtool -K pb1 gro on >/dev/null
send redirect-gro-on "$client4" "$vip4" "$lb4" "$b4" "$a4"
if wait_received "$a" redirect-gro-on; then pass "bpf_redirect to b1 with GRO on its peer: the data reached A"
else fail "bpf_redirect to b1 with GRO on its peer: the data did not reach A"; fi
on_a1=$(in_ns "$a" "$decap" stats --iface a1 --json | jq '.second_hop.delivered_hop_used.packets')
((on_a1 >= 1)) && pass "A took it on a1 (delivered_hop_used there = $on_a1)" \
  || fail "A's program on a1 counted no delivered_hop_used"
ip -n "$b" route del "$a4/32"

if ((failures)); then
  [[ -n ${SCD_DEBUG:-} ]] && sleep "$SCD_DEBUG"
  in_ns "$b" "$decap" stats --iface b0
  echo "$failures failure(s)"; exit 1
fi
echo "all second-hop cases passed"

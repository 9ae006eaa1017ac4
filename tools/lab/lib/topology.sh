# Namespaces, links, addresses, routes and sysctls. Idempotent: parts already there are kept.
# shellcheck shell=bash

lab_sysctl() {
  local ns=$1
  shift
  lab_in "$ns" sysctl -qw "$@" >/dev/null
}

lab_create_namespaces() {
  local ns
  for ns in "${LAB_ALL_NS[@]}"; do
    lab_ns_exists "$ns" || ip netns add "$ns"
    ip -n "$ns" link set lo up
  done
}

# A veth whose ends are created directly inside the two namespaces (never in the host's).
lab_link() {
  local ns_a=$1 if_a=$2 ns_b=$3 if_b=$4 mtu=$5
  ip -n "$ns_a" link show "$if_a" >/dev/null 2>&1 ||
    ip link add "$if_a" netns "$ns_a" mtu "$mtu" type veth peer name "$if_b" netns "$ns_b" mtu "$mtu"
  ip -n "$ns_a" link set "$if_a" up
  ip -n "$ns_b" link set "$if_b" up
}

lab_addr() {
  local ns=$1 dev=$2 cidr=$3
  if [[ $cidr == *:* ]]; then
    ip -n "$ns" -6 addr replace "$cidr" dev "$dev" nodad
  else
    ip -n "$ns" addr replace "$cidr" dev "$dev"
  fi
}

# Routes to the lab prefixes only: no default route anywhere.
lab_lab_routes() {
  local ns=$1 via4=$2 via6=$3
  ip -n "$ns" route replace 198.18.0.0/15 via "$via4"
  ip -n "$ns" -6 route replace 2001:db8::/32 via "$via6"
}

lab_setup_router() {
  local r=$LAB_NS_ROUTER
  lab_sysctl "$r" net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
    net.ipv4.fib_multipath_hash_policy=1 net.ipv6.fib_multipath_hash_policy=1
  ip -n "$r" link show br-be >/dev/null 2>&1 ||
    ip -n "$r" link add br-be mtu "$LAB_INNER_MTU" type bridge
  ip -n "$r" link set br-be up
  lab_addr "$r" br-be "$LAB_ROUTER_BE4/24"
  lab_addr "$r" br-be "$LAB_ROUTER_BE6/64"
}

lab_setup_client() {
  lab_link "$LAB_NS_CLIENT" eth0 "$LAB_NS_ROUTER" r-client 1500
  lab_addr "$LAB_NS_CLIENT" eth0 "$LAB_CLIENT4/24"
  lab_addr "$LAB_NS_CLIENT" eth0 "$LAB_CLIENT6/64"
  lab_addr "$LAB_NS_ROUTER" r-client "$LAB_ROUTER_CLIENT4/24"
  lab_addr "$LAB_NS_ROUTER" r-client "$LAB_ROUTER_CLIENT6/64"
  lab_lab_routes "$LAB_NS_CLIENT" "$LAB_ROUTER_CLIENT4" "$LAB_ROUTER_CLIENT6"
  # A veth "offloads" checksums by never computing them: the skb carries CHECKSUM_PARTIAL
  # through the router's kernel. The dataplane reads the bytes through AF_XDP and tunnels
  # them as they are, so the backend would drop every client segment as corrupt. A real
  # client NIC fills the checksum in; here the client's kernel has to.
  lab_in "$LAB_NS_CLIENT" ethtool -K eth0 tx off >/dev/null 2>&1 ||
    lab_die "ethtool -K eth0 tx off failed in $LAB_NS_CLIENT (is ethtool installed? tools/install-deps)"
}

lab_setup_lb_host() {
  lab_link "$LAB_NS_LB" eth0 "$LAB_NS_ROUTER" r-lb "$LAB_INNER_MTU"
  ip -n "$LAB_NS_ROUTER" link set r-lb address "$LAB_ROUTER_LB_MAC"
  lab_addr "$LAB_NS_LB" eth0 "$LAB_LB4/24"
  lab_addr "$LAB_NS_LB" eth0 "$LAB_LB6/64"
  lab_addr "$LAB_NS_ROUTER" r-lb "$LAB_ROUTER_LB4/24"
  lab_addr "$LAB_NS_ROUTER" r-lb "$LAB_ROUTER_LB6/64"
  lab_lab_routes "$LAB_NS_LB" "$LAB_ROUTER_LB4" "$LAB_ROUTER_LB6"
}

lab_setup_backend_link() {
  local be=$1 ns
  ns=$(lab_backend_ns "$be")
  lab_link "$ns" eth0 "$LAB_NS_ROUTER" "r-$be" "$LAB_INNER_MTU"
  ip -n "$LAB_NS_ROUTER" link set "r-$be" master br-be
  lab_addr "$ns" eth0 "$(lab_backend_addr4 "$be")/24"
  lab_addr "$ns" eth0 "$(lab_backend_addr6 "$be")/64"
  lab_lab_routes "$ns" "$LAB_ROUTER_BE4" "$LAB_ROUTER_BE6"
}

lab_topology_up() {
  lab_create_namespaces
  lab_setup_router
  lab_setup_client
  lab_setup_lb_host
  local be
  for be in "${LAB_BACKENDS[@]}"; do lab_setup_backend_link "$be"; done
}

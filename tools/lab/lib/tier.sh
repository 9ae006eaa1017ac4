# The tier lab (`lab up --hosts N`): N Sluice hosts lb1..lbN behind the router, which learns the
# VIPs from each host's BIRD2 over eBGP + BFD and installs one multipath route per VIP (L4
# hash); a three-member etcd cluster holds the shared state. See docs/lab.md, "The tier lab".
#
#   lab_tier_load                 reads $LAB_TIER_STATE: sets LAB_TIER, LAB_HOSTS, LAB_ALL_NS
#   lab_host_select I             points the lb.sh variables (LAB_NS_LB, sockets, ...) at host I
#   lab_tier_up N                 the whole tier, bounded wait until every host announces
#   lab_tier_host_start I         one host (new or again): link, BIRD, dataplane, control plane
#   lab_tier_host_signal I SIG    a signal to every process of host I
#   lab_etcd_start M / lab_etcd_kill M
#   lab_router_bird ARGS...       birdc against the router's BIRD
#   lab_tier_route_hosts [4|6]    the hosts the router's route to the VIP points at
# shellcheck shell=bash

LAB_TIER_STATE=$LAB_RUN_DIR/tier-hosts  # "1 2 3": the hosts this tier has (ever started)
LAB_TIER_MAX_HOSTS=16
# A backend's sluice-decap takes the tunnel sources of hosts 1..this (lib/backends.sh).
LAB_TUNNEL_SOURCE_HOSTS=${SLUICE_LAB_TUNNEL_SOURCE_HOSTS:-$LAB_TIER_MAX_HOSTS}
LAB_ROUTER_AS=65000
LAB_ROUTER_ID=$LAB_ROUTER_CLIENT4
LAB_ROUTER_BIRD_CONF=$LAB_RUN_DIR/router-bird.conf
LAB_ROUTER_BIRD_SOCKET=$LAB_RUN_DIR/router-bird.ctl
LAB_ROUTER_BIRD_PIDFILE=$LAB_RUN_DIR/router-bird.pid
# BGP and BFD timers (docs/lab.md): a silent host is out after 3 x 100 ms; a host that comes
# back is in again within a few seconds.
LAB_BFD_INTERVAL_MS=100
LAB_BFD_MULTIPLIER=3
LAB_BGP_HOLD_S=3
LAB_BGP_TIMERS="hold time $LAB_BGP_HOLD_S; connect delay time 1; connect retry time 2; error wait time 1,2;"
# etcd: members etcd1..3 on a bridge behind the router.
LAB_ETCD_MEMBERS=(1 2 3)
LAB_ROUTER_ETCD4=198.18.6.1
LAB_ROUTER_ETCD6=2001:db8:6::1
LAB_ETCD_CLIENT_PORT=2379
LAB_ETCD_PEER_PORT=2380
LAB_ETCD_PREFIX=/sluice/
# What the tier's dataplanes do when their queue is empty (sluice-dataplane --idle), when the
# dataplane has the option: N pollers on two cores would starve each other.
LAB_TIER_IDLE=${SLUICE_LAB_IDLE:-sleep}

lab_etcd_ns() { echo "${LAB_PREFIX}etcd$1"; }
lab_etcd_addr4() { echo "198.18.6.1$1"; }
lab_etcd_addr6() { echo "2001:db8:6::1$1"; }
lab_etcd_dir() { echo "$LAB_RUN_DIR/etcd$1"; }
lab_etcd_client_url() { echo "http://$(lab_etcd_addr4 "$1"):$LAB_ETCD_CLIENT_PORT"; }
lab_etcd_peer_url() { echo "http://$(lab_etcd_addr4 "$1"):$LAB_ETCD_PEER_PORT"; }
lab_etcd_endpoints() {
  local m
  local -a urls=()
  for m in "${LAB_ETCD_MEMBERS[@]}"; do urls+=("$(lab_etcd_client_url "$m")"); done
  echo "${urls[*]}"
}

# Host I: its own /24 and /64 to the router (198.18.1I.0/24 for I < 10, 198.18.(10+I) in
# general), AS 65000+I, and a fixed MAC on the router's port (the dataplane's next hop).
lab_host_ns() { echo "${LAB_PREFIX}lb$1"; }
lab_host_net() { echo $((10 + $1)); }
lab_host_addr4() { echo "198.18.$(lab_host_net "$1").2"; }
lab_host_addr6() { echo "2001:db8:$(lab_host_net "$1")::2"; }
lab_host_router4() { echo "198.18.$(lab_host_net "$1").1"; }
lab_host_router6() { echo "2001:db8:$(lab_host_net "$1")::1"; }
lab_host_router_if() { echo "r-lb$1"; }
lab_host_router_mac() { printf '02:5c:00:%02x:00:01\n' "$(lab_host_net "$1")"; }
lab_host_as() { echo $((LAB_ROUTER_AS + $1)); }
lab_host_dir() { echo "$LAB_RUN_DIR/lb$1"; }

lab_tier_load() {
  LAB_TIER=0
  LAB_HOSTS=()
  [[ -f $LAB_TIER_STATE ]] || return 0
  LAB_TIER=1
  read -r -a LAB_HOSTS <"$LAB_TIER_STATE" || true
  lab_tier_namespaces
}

# Every namespace of the tier (the single host's lb namespace is not part of it).
lab_tier_namespaces() {
  local be m i
  LAB_ALL_NS=("$LAB_NS_CLIENT" "$LAB_NS_ROUTER")
  for be in "${LAB_BACKENDS[@]}"; do LAB_ALL_NS+=("$(lab_backend_ns "$be")"); done
  for m in "${LAB_ETCD_MEMBERS[@]}"; do LAB_ALL_NS+=("$(lab_etcd_ns "$m")"); done
  for i in "${LAB_HOSTS[@]}"; do LAB_ALL_NS+=("$(lab_host_ns "$i")"); done
}

lab_tier_save() {
  mkdir -p "$LAB_RUN_DIR"
  printf '%s\n' "${LAB_HOSTS[*]}" >"$LAB_TIER_STATE.tmp"
  mv "$LAB_TIER_STATE.tmp" "$LAB_TIER_STATE"
  lab_tier_namespaces
}

lab_tier_has_host() { [[ " ${LAB_HOSTS[*]} " == *" $1 "* ]]; }

lab_tier_check_host() {
  [[ $1 =~ ^[0-9]+$ ]] && (($1 >= 1)) || lab_die "expected a host number, got '$1'"
  lab_tier_has_host "$1" || lab_die "no LB host $1 (hosts: ${LAB_HOSTS[*]:-none}; is the tier up?)"
}

# The variables lb.sh works with, for host I.
lab_host_select() {
  local i=$1
  LAB_HOST=$i
  LAB_NS_LB=$(lab_host_ns "$i")
  LAB_LB_DIR=$(lab_host_dir "$i")
  LAB_LB4=$(lab_host_addr4 "$i")
  LAB_LB6=$(lab_host_addr6 "$i")
  LAB_ROUTER_LB4=$(lab_host_router4 "$i")
  LAB_ROUTER_LB6=$(lab_host_router6 "$i")
  LAB_ROUTER_LB_MAC=$(lab_host_router_mac "$i")
  LAB_LB_FILE_PREFIX=${LAB_PREFIX}lb$i
  LAB_LB_HOST_NAME=lb$i
  LAB_LB_CONFIG=$LAB_LB_DIR/sluice.yaml
  LAB_LB_STATE_FILE=$LAB_LB_DIR/state.yaml
  LAB_LB_HOST_STATE_FILE=$LAB_LB_DIR/host.yaml
  LAB_LB_DATAPLANE_SOCKET=$LAB_LB_DIR/dataplane.sock
  LAB_LB_API_SOCKET=$LAB_LB_DIR/controlplane.sock
  LAB_LB_BIRD_CONF=$LAB_LB_DIR/bird.conf
  LAB_LB_BIRD_SOCKET=$LAB_LB_DIR/bird.ctl
  LAB_LB_VIPS4=$LAB_LB_DIR/sluice-vips4.conf
  LAB_LB_VIPS6=$LAB_LB_DIR/sluice-vips6.conf
}

# --- topology -------------------------------------------------------------------------------

lab_tier_setup_etcd_link() {
  local m=$1 ns
  ns=$(lab_etcd_ns "$m")
  lab_link "$ns" eth0 "$LAB_NS_ROUTER" "r-etcd$m" 1500
  ip -n "$LAB_NS_ROUTER" link set "r-etcd$m" master br-etcd
  lab_addr "$ns" eth0 "$(lab_etcd_addr4 "$m")/24"
  lab_addr "$ns" eth0 "$(lab_etcd_addr6 "$m")/64"
  lab_lab_routes "$ns" "$LAB_ROUTER_ETCD4" "$LAB_ROUTER_ETCD6"
}

lab_tier_setup_host_link() {
  local i=$1 ns rif
  ns=$(lab_host_ns "$i")
  rif=$(lab_host_router_if "$i")
  lab_ns_exists "$ns" || ip netns add "$ns"
  ip -n "$ns" link set lo up
  lab_link "$ns" eth0 "$LAB_NS_ROUTER" "$rif" "$LAB_INNER_MTU"
  ip -n "$LAB_NS_ROUTER" link set "$rif" address "$(lab_host_router_mac "$i")"
  lab_addr "$ns" eth0 "$(lab_host_addr4 "$i")/24"
  lab_addr "$ns" eth0 "$(lab_host_addr6 "$i")/64"
  lab_addr "$LAB_NS_ROUTER" "$rif" "$(lab_host_router4 "$i")/24"
  lab_addr "$LAB_NS_ROUTER" "$rif" "$(lab_host_router6 "$i")/64"
  lab_lab_routes "$ns" "$(lab_host_router4 "$i")" "$(lab_host_router6 "$i")"
  # No VIP on lo: a VIP packet that reaches this host's kernel instead of the dataplane (the
  # dataplane died or is not programmed yet, before BGP withdraws the host) is then dropped,
  # and the client's retransmission finds another host; with the VIP on lo the kernel would
  # answer it with a RST and break the connection. BIRD announces blackhole routes and needs
  # no address.
}

lab_tier_topology_up() {
  local ns be m i
  for ns in "${LAB_ALL_NS[@]}"; do
    lab_ns_exists "$ns" || ip netns add "$ns"
    ip -n "$ns" link set lo up
  done
  lab_setup_router
  ip -n "$LAB_NS_ROUTER" link show br-etcd >/dev/null 2>&1 ||
    ip -n "$LAB_NS_ROUTER" link add br-etcd type bridge
  ip -n "$LAB_NS_ROUTER" link set br-etcd up
  lab_addr "$LAB_NS_ROUTER" br-etcd "$LAB_ROUTER_ETCD4/24"
  lab_addr "$LAB_NS_ROUTER" br-etcd "$LAB_ROUTER_ETCD6/64"
  lab_setup_client
  for be in "${LAB_BACKENDS[@]}"; do lab_setup_backend_link "$be"; done
  for m in "${LAB_ETCD_MEMBERS[@]}"; do lab_tier_setup_etcd_link "$m"; done
  for i in "${LAB_HOSTS[@]}"; do lab_tier_setup_host_link "$i"; done
}

# --- etcd -----------------------------------------------------------------------------------

lab_etcd_pidfile() { echo "$(lab_etcd_dir "$1")/etcd.pid"; }

lab_etcd_start() {
  local m=$1 ns dir pidfile cluster n
  ns=$(lab_etcd_ns "$m")
  dir=$(lab_etcd_dir "$m")
  pidfile=$(lab_etcd_pidfile "$m")
  lab_pid_alive "$pidfile" "$ns" && return 0
  local -a members=()
  for n in "${LAB_ETCD_MEMBERS[@]}"; do members+=("etcd$n=$(lab_etcd_peer_url "$n")"); done
  cluster=$(IFS=,; echo "${members[*]}")
  mkdir -p "$dir"
  # With a data directory from an earlier start the member rejoins; the --initial-* flags are
  # then ignored.
  lab_in "$ns" setsid sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$pidfile" \
    etcd --name "etcd$m" --data-dir "$dir/data" \
    --listen-client-urls "$(lab_etcd_client_url "$m")" \
    --advertise-client-urls "$(lab_etcd_client_url "$m")" \
    --listen-peer-urls "$(lab_etcd_peer_url "$m")" \
    --initial-advertise-peer-urls "$(lab_etcd_peer_url "$m")" \
    --initial-cluster "$cluster" --initial-cluster-state new \
    --initial-cluster-token "${LAB_PREFIX}etcd" --logger zap \
    </dev/null >>"$dir/etcd.log" 2>&1 &
  for _ in $(seq 50); do [[ -s $pidfile ]] && break; sleep 0.02; done
}

lab_etcd_kill() {
  local m=$1 pidfile
  pidfile=$(lab_etcd_pidfile "$m")
  if lab_pid_alive "$pidfile" "$(lab_etcd_ns "$m")"; then kill -9 "$(<"$pidfile")"; fi
  rm -f "$pidfile"
}

lab_etcd_healthy() {
  lab_in "$LAB_NS_ROUTER" curl -s --max-time 1 "$(lab_etcd_client_url "$1")/health" 2>/dev/null |
    jq -e '.health == "true"' >/dev/null 2>&1
}

# Bounded: every running member reports healthy (a member is healthy once the cluster has a
# leader).
lab_etcd_wait() {
  local m ok
  for _ in $(seq 100); do
    ok=1
    for m in "$@"; do lab_etcd_healthy "$m" || { ok=0; break; }; done
    ((ok)) && return 0
    sleep 0.2
  done
  lab_die "etcd member(s) $* not healthy after 20 s (see $LAB_RUN_DIR/etcd*/etcd.log)"
}

# --- BIRD -----------------------------------------------------------------------------------

lab_router_bird() { lab_in "$LAB_NS_ROUTER" birdc -s "$LAB_ROUTER_BIRD_SOCKET" "$@"; }

lab_router_bird_write_config() {
  local i
  {
    cat <<EOF
# The tier lab's router, written by tools/lab/lib/tier.sh (docs/lab.md). One eBGP session with
# BFD per Sluice host; equal routes to a VIP become one multipath kernel route (L4 hash).
log stderr all;
router id $LAB_ROUTER_ID;

protocol device { scan time 10; }

protocol kernel kernel4 {
  ipv4 { import none; export all; };
  merge paths on;
}
protocol kernel kernel6 {
  ipv6 { import none; export all; };
  merge paths on;
}

protocol bfd {
  interface "r-lb*" { interval $LAB_BFD_INTERVAL_MS ms; multiplier $LAB_BFD_MULTIPLIER; };
}

# Only host routes inside the lab's space; RFC 8326 GRACEFUL_SHUTDOWN makes a route the last
# resort, which takes a draining host out of the multipath route while its session stays up.
filter sluice_import4 {
  if net !~ [ 198.18.0.0/15{32,32} ] then reject;
  if (65535,0) ~ bgp_community then bgp_local_pref = 0;
  accept;
}
filter sluice_import6 {
  if net !~ [ 2001:db8::/32{128,128} ] then reject;
  if (65535,0) ~ bgp_community then bgp_local_pref = 0;
  accept;
}

template bgp sluice_host {
  local as $LAB_ROUTER_AS;
  bfd on;
  $LAB_BGP_TIMERS
  ipv4 { import filter sluice_import4; export none; };
  ipv6 { import filter sluice_import6; export none; };
}
EOF
    for i in "${LAB_HOSTS[@]}"; do
      printf 'protocol bgp lb%s from sluice_host {\n  neighbor %s as %s;\n  source address %s;\n}\n' \
        "$i" "$(lab_host_addr4 "$i")" "$(lab_host_as "$i")" "$(lab_host_router4 "$i")"
    done
  } >"$LAB_ROUTER_BIRD_CONF.tmp"
  mv "$LAB_ROUTER_BIRD_CONF.tmp" "$LAB_ROUTER_BIRD_CONF"
}

# Starts the router's BIRD, or makes the running one read its (rewritten) configuration.
lab_router_bird_start() {
  lab_router_bird_write_config
  if lab_pid_alive "$LAB_ROUTER_BIRD_PIDFILE" "$LAB_NS_ROUTER"; then
    lab_router_bird configure >/dev/null || lab_die "router BIRD refused $LAB_ROUTER_BIRD_CONF"
    return 0
  fi
  lab_in "$LAB_NS_ROUTER" bird -p -c "$LAB_ROUTER_BIRD_CONF" ||
    lab_die "router BIRD configuration invalid: $LAB_ROUTER_BIRD_CONF"
  rm -f "$LAB_ROUTER_BIRD_SOCKET"
  lab_in "$LAB_NS_ROUTER" setsid sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$LAB_ROUTER_BIRD_PIDFILE" \
    bird -f -c "$LAB_ROUTER_BIRD_CONF" -s "$LAB_ROUTER_BIRD_SOCKET" \
    </dev/null >>"$LAB_RUN_DIR/router-bird.log" 2>&1 &
  for _ in $(seq 50); do [[ -S $LAB_ROUTER_BIRD_SOCKET ]] && return 0; sleep 0.1; done
  lab_die "router BIRD did not open $LAB_ROUTER_BIRD_SOCKET (see $LAB_RUN_DIR/router-bird.log)"
}

# The host's BIRD: the two static protocols fed by the control plane's include files, one eBGP
# session with BFD to the router exporting only them (the shared decision in the brief).
lab_host_bird_write_config() {
  local i=$LAB_HOST
  [[ -f $LAB_LB_VIPS4 ]] || : >"$LAB_LB_VIPS4"
  [[ -f $LAB_LB_VIPS6 ]] || : >"$LAB_LB_VIPS6"
  cat >"$LAB_LB_BIRD_CONF.tmp" <<EOF
# LB host lb$i of the tier lab, written by tools/lab/lib/tier.sh (docs/lab.md). The control
# plane writes the include files (one route per announced VIP) and tells BIRD to reconfigure.
log stderr all;
router id $LAB_LB4;

protocol device { scan time 10; }

protocol bfd {
  interface "eth0" { interval $LAB_BFD_INTERVAL_MS ms; multiplier $LAB_BFD_MULTIPLIER; };
}

protocol static sluice_vips4 {
  ipv4;
  include "$LAB_LB_VIPS4";
}
protocol static sluice_vips6 {
  ipv6;
  include "$LAB_LB_VIPS6";
}

protocol bgp uplink {
  local $LAB_LB4 as $(lab_host_as "$i");
  neighbor $LAB_ROUTER_LB4 as $LAB_ROUTER_AS;
  bfd on;
  $LAB_BGP_TIMERS
  ipv4 { import none; export where proto ~ "sluice_vips*"; };
  ipv6 { import none; export where proto ~ "sluice_vips*"; next hop address $LAB_LB6; };
}
EOF
  mv "$LAB_LB_BIRD_CONF.tmp" "$LAB_LB_BIRD_CONF"
  lab_in "$LAB_NS_LB" bird -p -c "$LAB_LB_BIRD_CONF" ||
    lab_die "lb$i: BIRD configuration invalid: $LAB_LB_BIRD_CONF"
}

lab_host_bird_command() {
  echo bird -f -c "$LAB_LB_BIRD_CONF" -s "$LAB_LB_BIRD_SOCKET"
}

# Only when the control plane does not run BIRD itself (no bgp.bird_command): the lab runs it.
lab_host_bird_start() {
  local pidfile
  pidfile=$(lab_lb_pidfile bird)
  lab_pid_alive "$pidfile" "$LAB_NS_LB" && return 0
  rm -f "$LAB_LB_BIRD_SOCKET"
  # shellcheck disable=SC2046
  lab_in "$LAB_NS_LB" setsid sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$pidfile" \
    $(lab_host_bird_command) </dev/null >>"$LAB_LB_DIR/bird.log" 2>&1 &
  for _ in $(seq 50); do [[ -S $LAB_LB_BIRD_SOCKET ]] && return 0; sleep 0.1; done
  lab_die "lb$LAB_HOST: BIRD did not open $LAB_LB_BIRD_SOCKET (see $LAB_LB_DIR/bird.log)"
}

lab_host_bird() { lab_in "$LAB_NS_LB" birdc -s "$LAB_LB_BIRD_SOCKET" "$@"; }

# --- the router's view ------------------------------------------------------------------------

# The host numbers the router's route to the VIP points at, one per line, sorted.
lab_tier_route_hosts() {
  local family=${1:-4} route
  if [[ $family == 6 ]]; then
    route=$(ip -n "$LAB_NS_ROUTER" -6 -j route show "$LAB_VIP6/128" 2>/dev/null)
  else
    route=$(ip -n "$LAB_NS_ROUTER" -j route show "$LAB_VIP4/32" 2>/dev/null)
  fi
  jq -r '.[] | (.gateway // empty), (.nexthops // [] | .[].gateway)' <<<"${route:-[]}" |
    sed -nE 's/^198\.18\.([0-9]+)\.2$/\1/p; s/^2001:db8:([0-9]+)::2$/\1/p' |
    while read -r net; do echo $((net - 10)); done | sort -n
}

# Bounded: the router's IPv4 and IPv6 routes to the VIP include host I (it announces).
lab_tier_wait_announced() {
  local i=$1 timeout_s=${2:-30}
  for _ in $(seq $((timeout_s * 10))); do
    lab_tier_route_hosts 4 | grep -qx "$i" && lab_tier_route_hosts 6 | grep -qx "$i" && return 0
    sleep 0.1
  done
  return 1
}

# --- hosts ----------------------------------------------------------------------------------

# Does this build of the control plane take the tier's keys? `sluicectl config validate` checks
# a small file with just that key, as the daemon would at start (it refuses unknown keys). The
# lab writes only the keys it takes; before the tier's code is in, each host keeps its own state
# file with the same VIPs and nothing announces. Answers are cached per lab command.
declare -A LAB_TIER_FEATURE=()
lab_tier_controlplane_has() {
  local feature=$1 ctl probe
  if [[ -z ${LAB_TIER_FEATURE[$feature]:-} ]]; then
    LAB_TIER_FEATURE[$feature]=no
    if ctl=$(lab_binary sluicectl controlplane); then
      probe=$(mktemp "${TMPDIR:-/tmp}/sluice-lab-probe.XXXXXX.yaml")
      case $feature in
        host_name) printf 'controlplane:\n  host_name: probe\n' ;;
        bgp) printf 'controlplane:\n  host_state_file: /probe/host.yaml\n  bgp:\n    bird_socket: /probe/bird.ctl\n    include_v4: /probe/4.conf\n    include_v6: /probe/6.conf\n' ;;
        bird_command) printf 'controlplane:\n  bgp:\n    bird_socket: /probe/bird.ctl\n    include_v4: /probe/4.conf\n    include_v6: /probe/6.conf\n    bird_command: [bird, -f]\n' ;;
        etcd) printf 'controlplane:\n  state_store: etcd\n  etcd:\n    endpoints: ["%s"]\n' "$(lab_etcd_client_url 1)" ;;
        second_chance) printf 'dataplane:\n  next_hop_mac: "02:00:00:00:00:01"\n  tunnel_source_v4: %s\nvips:\n  - {address: %s, port: %s, protocol: tcp, encap: gue, second_chance: on, backends: [{address: "%s", weight: 1}]}\n' \
          "$(lab_host_addr4 1)" "$LAB_VIP4" "$LAB_SC_ON_PORT" "$(lab_backend_addr4 be1)" ;;
      esac >"$probe"
      "$ctl" config validate "$probe" >/dev/null 2>&1 && LAB_TIER_FEATURE[$feature]=yes
      rm -f "$probe"
    fi
  fi
  [[ ${LAB_TIER_FEATURE[$feature]} == yes ]]
}

# Every signal to every process of host I (dataplane, control plane, BIRD, anything else in its
# namespace).
lab_tier_host_signal() {
  local i=$1 signal=$2 ns pid
  ns=$(lab_host_ns "$i")
  lab_ns_exists "$ns" || return 0
  for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "-$signal" "$pid" 2>/dev/null || true; done
}

lab_tier_host_pids() { ip netns pids "$(lab_host_ns "$1")" 2>/dev/null; }

lab_tier_host_start() {
  local i=$1
  lab_host_select "$i"
  mkdir -p "$LAB_LB_DIR"
  lab_tier_setup_host_link "$i"
  ip -n "$LAB_NS_ROUTER" link set "$(lab_host_router_if "$i")" up
  lab_tier_host_signal "$i" CONT  # a frozen host runs again
  lab_host_bird_write_config
  lab_lb_write_config
  lab_tier_bird_by_controlplane || lab_host_bird_start
  lab_lb_start_dataplane
  lab_lb_start_controlplane
}

# Bounded: host I's dataplane runs the control plane's state and (once the control plane
# announces) the router routes the VIPs to it.
lab_tier_host_wait() {
  local i=$1
  lab_host_select "$i"
  lab_lb_wait_ready
  if lab_tier_announces; then
    lab_tier_wait_announced "$i" 30 ||
      lab_die "lb$i: the router's routes to the VIPs do not include it after 30 s (tools/lab/lab status)"
  fi
}

# The control plane announces (the `bgp` section) / runs BIRD as its child (bgp.bird_command).
lab_tier_announces() { lab_tier_controlplane_has bgp; }
lab_tier_bird_by_controlplane() { [[ ${SLUICE_LAB_BIRD_BY_LAB:-0} != 1 ]] && lab_tier_controlplane_has bird_command; }
lab_tier_uses_etcd() { lab_tier_controlplane_has etcd; }

lab_tier_up() {
  local n=$1 i m
  [[ $n =~ ^[0-9]+$ ]] && ((n >= 1 && n <= LAB_TIER_MAX_HOSTS)) ||
    lab_die "--hosts: expected 1..$LAB_TIER_MAX_HOSTS, got '$n'"
  lab_ns_exists "$LAB_NS_LB" && [[ $LAB_TIER == 0 ]] &&
    lab_die "a single-host lab runs under prefix $LAB_PREFIX: \`lab down\` first"
  LAB_TIER=1
  for ((i = 1; i <= n; i++)); do lab_tier_has_host "$i" || LAB_HOSTS+=("$i"); done
  lab_tier_save
  lab_tier_topology_up
  local be
  for be in "${LAB_BACKENDS[@]}"; do lab_backend_up "$be"; done
  for m in "${LAB_ETCD_MEMBERS[@]}"; do lab_etcd_start "$m"; done
  lab_router_bird_start
  lab_backends_wait
  lab_etcd_wait "${LAB_ETCD_MEMBERS[@]}"
  for i in "${LAB_HOSTS[@]}"; do lab_tier_host_start "$i"; done
  for i in "${LAB_HOSTS[@]}"; do lab_tier_host_wait "$i"; done
}

# A new host gets the next number; an existing one is started again.
lab_tier_add_or_start() {
  local i=$1 last=0 h
  for h in "${LAB_HOSTS[@]}"; do ((h > last)) && last=$h; done
  if ! lab_tier_has_host "$i"; then
    ((i == last + 1)) || lab_die "host $i: the next new host is $((last + 1))"
    ((i <= LAB_TIER_MAX_HOSTS)) || lab_die "at most $LAB_TIER_MAX_HOSTS hosts"
    LAB_HOSTS+=("$i")
    lab_tier_save
    lab_router_bird_start  # a session for the new host
  fi
  lab_tier_host_start "$i"
  lab_tier_host_wait "$i"
}

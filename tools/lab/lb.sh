# The Sluice host (namespace ${LAB_PREFIX}lb): sluice-dataplane on eth0 (af_xdp PMD + the
# steering program), sluice-controlplane with the lab's VIPs, backends and health checks, and
# the router's routes for the VIPs. These are the hooks `tools/lab/lab` calls.
#
#   lab_lb_routes_to_vips       router -> lb routes for the VIPs (static; BGP from BIRD later)
#   lab_lb_write_config         $LAB_RUN_DIR/sluice.yaml, the lab's Sluice configuration
#   lab_lb_start_dataplane      sluice-dataplane (idempotent: kept when it runs)
#   lab_lb_start_controlplane   sluice-controlplane (idempotent)
#   lab_lb_wait_ready           bounded wait: dataplane in sync, backends up, VIP answers
#   lab_lb_stop [NAME]          stops dataplane and/or controlplane
#   lab_ctl ARGS...             sluicectl against the lab's control plane
#
# Facts:
#   - eth0 is a veth with one queue (MTU 1600). The af_xdp PMD loads the steering program
#     itself (xdp_prog=), libbpf pins its VIP maps by name under /sys/fs/bpf, and the dataplane
#     keeps them equal to its VIPs (--xdp-steering /sys/fs/bpf). `ip netns exec` gives every
#     command a fresh /sys, so bpffs is mounted in the same command that execs the dataplane.
#   - The main lcore runs the control thread, the second lcore the worker (it polls: one core
#     at 100 % while the lab is up). No hugepages needed: --no-huge -m 512.
#   - Encapsulated packets go to the router (LAB_ROUTER_LB_MAC), sourced from the lb's own
#     addresses; backends answer the client directly through the router (DSR).
# shellcheck shell=bash

LAB_LB_LCORES=${SLUICE_LAB_LCORES:-0-1}
LAB_LB_MAIN_LCORE=${SLUICE_LAB_MAIN_LCORE:-0}
LAB_LB_FILE_PREFIX=${LAB_PREFIX}lab
LAB_LB_DIR=$LAB_RUN_DIR  # pid files and logs (a tier host has its own: lib/tier.sh)
LAB_LB_CONFIG=$LAB_RUN_DIR/sluice.yaml
LAB_LB_STATE_FILE=$LAB_RUN_DIR/state.yaml
LAB_LB_DATAPLANE_SOCKET=$LAB_RUN_DIR/dataplane.sock
LAB_LB_API_SOCKET=$LAB_RUN_DIR/controlplane.sock
LAB_LB_METRICS=127.0.0.1:9780  # inside the lb namespace
# Health checks: a dead backend is out within fall x interval + timeout = 1700 ms. A test may
# choose others (SLUICE_LAB_HC_INTERVAL_MS, _TIMEOUT_MS, _FALL, _RISE), e.g. to keep a slow or
# blackholed backend up for a while (tests/e2e/test_slow_backends.py).
LAB_HC_INTERVAL_MS=${SLUICE_LAB_HC_INTERVAL_MS:-500}
LAB_HC_TIMEOUT_MS=${SLUICE_LAB_HC_TIMEOUT_MS:-200}
LAB_HC_FALL=${SLUICE_LAB_HC_FALL:-3}
LAB_HC_RISE=${SLUICE_LAB_HC_RISE:-2}
# The backends' weights (be1, be2, be3) on every VIP: SLUICE_LAB_WEIGHTS, else those the running
# lab was brought up with, else 1 2 3 (1 1 1 in the adaptive lab, where the control plane moves
# the effective weights from there).
_weights=${SLUICE_LAB_WEIGHTS:-$(lab_saved_setting weights)}
if [[ -n $_weights ]]; then
  read -r -a LAB_WEIGHTS <<<"$_weights"
elif ((LAB_ADAPTIVE)); then
  LAB_WEIGHTS=(1 1 1)
else
  LAB_WEIGHTS=(1 2 3)
fi
((${#LAB_WEIGHTS[@]} == ${#LAB_BACKENDS[@]})) ||
  lab_die "SLUICE_LAB_WEIGHTS: expected ${#LAB_BACKENDS[@]} weights (${LAB_BACKENDS[*]}), got '${LAB_WEIGHTS[*]}'"
for _w in "${LAB_WEIGHTS[@]}"; do
  [[ $_w =~ ^[0-9]+$ ]] && ((_w >= 1 && _w <= 1000)) ||
    lab_die "SLUICE_LAB_WEIGHTS: expected integers 1..1000, got '$_w'"
done
unset _w _weights

lab_lb_pidfile() { echo "$LAB_LB_DIR/lb-$1.pid"; }

lab_lb_routes_to_vips() {
  ip -n "$LAB_NS_ROUTER" route replace "$LAB_VIP4/32" via "$LAB_LB4"
  ip -n "$LAB_NS_ROUTER" -6 route replace "$LAB_VIP6/128" via "$LAB_LB6"
}

lab_ctl() {
  local ctl
  ctl=$(lab_binary sluicectl controlplane) || lab_die "sluicectl not found: build it (ninja -C build)"
  "$ctl" --socket "$LAB_LB_API_SOCKET" "$@"
}

# One VIP's backends, one flow-style YAML line each. $1: 4 or 6.
lab_lb_backend_lines() {
  local family=$1 i be address
  for i in "${!LAB_BACKENDS[@]}"; do
    be=${LAB_BACKENDS[i]}
    address=$(lab_backend_addr"$family" "$be")
    printf '      - {address: "%s", weight: %s}\n' "$address" "${LAB_WEIGHTS[i]}"
  done
}

lab_lb_write_config() {
  local http_check udp_check timing adaptive="" rescue_off=""
  timing="interval_ms: $LAB_HC_INTERVAL_MS, timeout_ms: $LAB_HC_TIMEOUT_MS, rise: $LAB_HC_RISE, fall: $LAB_HC_FALL"
  http_check="{type: http, path: /health, expect_body: ok, $timing}"
  udp_check="{type: udp, request: health, expect: health, $timing}"
  # Appended to a line of the main VIP (empty unless adaptive: the default file is unchanged).
  if ((LAB_ADAPTIVE)); then
    adaptive=$'\n'$(lab_lb_adaptive_lines on)
    rescue_off=$'\n'$(lab_lb_rescue_off_vip "$http_check")
  fi
  cat >"$LAB_LB_CONFIG.tmp" <<EOF
# The lab's Sluice configuration, written by tools/lab/lb.sh (docs/lab.md). Runtime changes
# made with sluicectl go to $LAB_LB_STATE_FILE.
dataplane:
  next_hop_mac: "$LAB_ROUTER_LB_MAC"     # the router's r-lb port
  tunnel_source_v4: $LAB_LB4
  tunnel_source_v6: "$LAB_LB6"
  mtu: $LAB_INNER_MTU
vips:
  - address: $LAB_VIP4
    port: $LAB_HTTP_PORT
    protocol: tcp
    encap: ipip$adaptive
    health_check: $http_check
    backends:
$(lab_lb_backend_lines 4)$rescue_off
  - address: $LAB_VIP4
    port: $LAB_UDP_PORT
    protocol: udp
    encap: ipip
    health_check: $udp_check
    backends:
$(lab_lb_backend_lines 4)
  - address: "$LAB_VIP6"
    port: $LAB_HTTP_PORT
    protocol: tcp
    encap: gue
    health_check: $http_check
    backends:
$(lab_lb_backend_lines 6)
$(lab_lb_second_chance_vips "$http_check")
controlplane:
  api_socket: $LAB_LB_API_SOCKET
  state_file: $LAB_LB_STATE_FILE
  metrics_listen: $LAB_LB_METRICS
$(lab_lb_tier_config_lines)
dataplanes:
  - {name: lab-lb, control_socket: $LAB_LB_DATAPLANE_SOCKET}
EOF
  mv "$LAB_LB_CONFIG.tmp" "$LAB_LB_CONFIG"
}

# The adaptive lab (SLUICE_LAB_ADAPTIVE=1, lib/common.sh): the keys of an adaptive VIP with
# syn_rescue $1 (docs/adaptive-weights.md).
lab_lb_adaptive_lines() {
  printf '    weights: adaptive\n    slow_start_s: %s\n' "$LAB_SLOW_START_S"
  printf '    agent_check: {port: %s, interval_ms: %s, timeout_ms: %s}\n' \
    "$LAB_AGENT_PORT" "$LAB_AGENT_INTERVAL_MS" "$LAB_AGENT_TIMEOUT_MS"
  printf '    passive_failure: on\n    syn_rescue: %s\n' "$1"
}

# The adaptive lab's second TCP VIP: the main one's twin on LAB_RESCUE_OFF_PORT with
# syn_rescue off, so that one run compares rescue on and off under the same failure.
lab_lb_rescue_off_vip() {
  printf '  - address: %s\n    port: %s\n    protocol: tcp\n    encap: ipip\n' \
    "$LAB_VIP4" "$LAB_RESCUE_OFF_PORT"
  lab_lb_adaptive_lines off
  printf '    health_check: %s\n    backends:\n' "$1"
  lab_lb_backend_lines 4
}

# A tier's two more TCP VIPs on the IPv4 VIP address, both GUE: second_chance on and off
# (tests/e2e/test_second_chance.py shows the difference in one run). The key is written only
# when this build of the control plane knows it; without it both VIPs behave like "off".
lab_lb_second_chance_vips() {
  [[ ${LAB_TIER:-0} == 1 ]] || return 0
  local http_check=$1 port setting
  for port in "$LAB_SC_ON_PORT" "$LAB_SC_OFF_PORT"; do
    setting=on
    [[ $port == "$LAB_SC_OFF_PORT" ]] && setting=off
    printf '  - address: %s\n    port: %s\n    protocol: tcp\n    encap: gue\n' "$LAB_VIP4" "$port"
    if lab_tier_controlplane_has second_chance; then printf '    second_chance: %s\n' "$setting"; fi
    printf '    health_check: %s\n    backends:\n' "$http_check"
    lab_lb_backend_lines 4
  done
}

# A tier host's part of the controlplane section (lib/tier.sh): its name, the shared state in
# the lab's etcd, its drain state, and its BIRD (which the control plane runs as its child,
# bound to its life). Only the keys this build of the control plane knows.
lab_lb_tier_config_lines() {
  [[ ${LAB_TIER:-0} == 1 ]] || return 0
  local endpoints="" url
  if lab_tier_controlplane_has host_name; then printf '  host_name: %s\n' "$LAB_LB_HOST_NAME"; fi
  if lab_tier_uses_etcd; then
    for url in $(lab_etcd_endpoints); do endpoints+="${endpoints:+, }\"$url\""; done
    printf '  state_store: etcd\n  etcd:\n    endpoints: [%s]\n    prefix: %s\n' \
      "$endpoints" "$LAB_ETCD_PREFIX"
  fi
  lab_tier_announces || return 0
  printf '  host_state_file: %s\n  bgp:\n    bird_socket: %s\n    include_v4: %s\n    include_v6: %s\n    graceful_shutdown: true\n' \
    "$LAB_LB_HOST_STATE_FILE" "$LAB_LB_BIRD_SOCKET" "$LAB_LB_VIPS4" "$LAB_LB_VIPS6"
  if lab_tier_bird_by_controlplane; then
    printf '    bird_command: [%s]\n' "$(lab_host_bird_command | sed 's/ /, /g')"
  fi
}

lab_lb_steering_object() {
  local object=${SLUICE_XSK_STEER_OBJ:-$(lab_build_dir)/bpf/xsk_steer.bpf.o}
  [[ -f $object ]] || return 1
  echo "$object"
}

# `--idle MODE` for a tier host's dataplane when this build has the option (the tier's workers
# share the lab's second core); nothing for the single-host lab (its worker polls, as before).
lab_lb_idle_args() {
  [[ ${LAB_TIER:-0} == 1 && -n ${LAB_TIER_IDLE:-} && $LAB_TIER_IDLE != poll ]] || return 0
  if grep -aq -- '--idle' "$1"; then echo "--idle $LAB_TIER_IDLE"; fi
}

lab_lb_start_dataplane() {
  local pidfile dataplane object
  pidfile=$(lab_lb_pidfile dataplane)
  if lab_pid_alive "$pidfile" "$LAB_NS_LB"; then return 0; fi
  dataplane=$(lab_binary sluice-dataplane dataplane) ||
    lab_die "sluice-dataplane not found: build it (ninja -C build) or set SLUICE_DATAPLANE"
  object=$(lab_lb_steering_object) ||
    lab_die "xsk_steer.bpf.o not found in $(lab_build_dir)/bpf: build it or set SLUICE_XSK_STEER_OBJ"
  local -a idle=()
  read -r -a idle <<<"$(lab_lb_idle_args "$dataplane")" || true
  rm -f "$LAB_LB_DATAPLANE_SOCKET" "/dev/hugepages/${LAB_LB_FILE_PREFIX}map_"*
  rm -rf "/var/run/dpdk/$LAB_LB_FILE_PREFIX"
  # A dataplane that was killed leaves its XDP program behind; the PMD wants a bare interface.
  ip -n "$LAB_NS_LB" link set eth0 xdp off 2>/dev/null || true
  # sh records its pid, mounts bpffs in this mount namespace, then becomes the dataplane.
  lab_in "$LAB_NS_LB" setsid sh -c 'echo $$ >"$1"; shift; mount -t bpf bpf /sys/fs/bpf && exec "$@"' \
    sh "$pidfile" "$dataplane" -l "$LAB_LB_LCORES" --main-lcore "$LAB_LB_MAIN_LCORE" \
    --no-huge -m 512 --no-pci --file-prefix "$LAB_LB_FILE_PREFIX" \
    --vdev "net_af_xdp0,iface=eth0,start_queue=0,queue_count=1,xdp_prog=$object" \
    -- --control-socket "$LAB_LB_DATAPLANE_SOCKET" --xdp-steering /sys/fs/bpf \
    ${idle[@]+"${idle[@]}"} \
    </dev/null >>"$LAB_LB_DIR/dataplane.log" 2>&1 &
  local started=$! _
  for _ in $(seq 150); do
    [[ -S $LAB_LB_DATAPLANE_SOCKET ]] && break
    kill -0 "$started" 2>/dev/null || break
    sleep 0.1
  done
  [[ -S $LAB_LB_DATAPLANE_SOCKET ]] ||
    lab_die "sluice-dataplane did not open $LAB_LB_DATAPLANE_SOCKET (see $LAB_LB_DIR/dataplane.log)"
  lab_log "dataplane: pid $(<"$pidfile"), eth0 af_xdp + $(basename "$object"), control socket $LAB_LB_DATAPLANE_SOCKET"
}

lab_lb_start_controlplane() {
  local pidfile controlplane
  pidfile=$(lab_lb_pidfile controlplane)
  if lab_pid_alive "$pidfile" "$LAB_NS_LB"; then return 0; fi
  controlplane=$(lab_binary sluice-controlplane controlplane) ||
    lab_die "sluice-controlplane not found: build it (ninja -C build) or set SLUICE_CONTROLPLANE"
  [[ -f $LAB_LB_CONFIG ]] || lab_lb_write_config
  rm -f "$LAB_LB_API_SOCKET"
  lab_in "$LAB_NS_LB" setsid sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$pidfile" \
    "$controlplane" --config "$LAB_LB_CONFIG" \
    </dev/null >>"$LAB_LB_DIR/controlplane.log" 2>&1 &
  local started=$! _
  for _ in $(seq 100); do
    lab_ctl --timeout 1 vip list >/dev/null 2>&1 && break
    kill -0 "$started" 2>/dev/null || break
    sleep 0.1
  done
  lab_ctl --timeout 1 vip list >/dev/null 2>&1 ||
    lab_die "sluice-controlplane does not answer on $LAB_LB_API_SOCKET (see $LAB_LB_DIR/controlplane.log)"
  lab_log "control plane: pid $(<"$pidfile"), API $LAB_LB_API_SOCKET (sluicectl --socket $LAB_LB_API_SOCKET)"
}

# Bounded: the dataplane that runs now (not one the control plane saw before a restart: its
# uptime is checked against the process's age) runs the control plane's generation, every
# backend is up, and the VIP answers HTTP from the client.
lab_lb_wait_ready() {
  local _ status age_ms synced
  synced='.dataplanes | length > 0 and all(.reachable and .in_sync and .uptime_ms <= $age_ms)'
  for _ in $(seq 100); do
    age_ms=$((($(ps -o etimes= -p "$(<"$(lab_lb_pidfile dataplane)")" 2>/dev/null || echo 0) + 1) * 1000))
    status=$(lab_ctl --timeout 1 status --json 2>/dev/null) &&
      jq -e --argjson age_ms "$age_ms" "($synced) and all(.vips[].backends[]; .health == \"up\")" \
        <<<"$status" >/dev/null && break
    sleep 0.2
  done
  jq -e --argjson age_ms "$age_ms" "$synced" <<<"${status:-null}" >/dev/null ||
    lab_die "the dataplane is not in sync with the control plane (tools/lab/lab status)"
  # A tier host is reached through the router's multipath route once it announces (lib/tier.sh).
  [[ ${LAB_TIER:-0} == 1 ]] && return 0
  for _ in $(seq 50); do
    lab_in "$LAB_NS_CLIENT" curl -s --max-time 1 "http://$LAB_VIP4:$LAB_HTTP_PORT/" >/dev/null && break
    sleep 0.2
  done
  lab_in "$LAB_NS_CLIENT" curl -s --max-time 1 "http://$LAB_VIP4:$LAB_HTTP_PORT/" >/dev/null ||
    lab_die "no answer from http://$LAB_VIP4:$LAB_HTTP_PORT/ at the client (tools/lab/lab status)"
}

lab_lb_start() {
  lab_lb_routes_to_vips
  lab_lb_write_config
  lab_lb_start_dataplane
  lab_lb_start_controlplane
  lab_lb_wait_ready
}

# lab_lb_stop [dataplane|controlplane]: stops one, or both (control plane first).
lab_lb_stop() {
  local name
  for name in ${1:-controlplane dataplane}; do
    # The dataplane flushes, logs its totals and closes its AF_XDP socket: give it 10 s.
    lab_stop_pidfile "$(lab_lb_pidfile "$name")" "$LAB_NS_LB" 100
  done
  return 0
}

# lab_lb_kill dataplane|controlplane: SIGKILL, as a crash would (no clean-up by the process).
lab_lb_kill() {
  local pidfile
  pidfile=$(lab_lb_pidfile "$1")
  if lab_pid_alive "$pidfile" "$LAB_NS_LB"; then kill -9 "$(<"$pidfile")"; fi
  rm -f "$pidfile"
}

# Lab topology, defined once: namespace names, addresses, ports. Sourced by tools/lab/lab and by
# end-to-end tests that need the same facts. Everything is inside 198.18.0.0/15 and
# 2001:db8::/32; nothing routes out of the lab.
# shellcheck shell=bash

lab_log() { echo "lab: $*"; }
lab_die() {
  echo "lab: error: $*" >&2
  exit 1
}

LAB_PREFIX=${SLUICE_LAB_PREFIX:-sluice-}
LAB_RUN_DIR=${SLUICE_LAB_RUN_DIR:-/run/sluice-lab}
LAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
LAB_DIR="$LAB_ROOT/tools/lab"
LAB_PYTHON=/usr/bin/python3  # the Debian python3 has scapy

LAB_NS_CLIENT=${LAB_PREFIX}client
LAB_NS_ROUTER=${LAB_PREFIX}router
LAB_NS_LB=${LAB_PREFIX}lb
LAB_BACKENDS=(be1 be2 be3)
lab_backend_ns() { echo "${LAB_PREFIX}$1"; }
LAB_ALL_NS=("$LAB_NS_CLIENT" "$LAB_NS_ROUTER" "$LAB_NS_LB")
for _be in "${LAB_BACKENDS[@]}"; do LAB_ALL_NS+=("$(lab_backend_ns "$_be")"); done
unset _be

# Services.
LAB_VIP4=198.18.0.10
LAB_VIP6=2001:db8::10
LAB_HTTP_PORT=80
LAB_UDP_PORT=7
LAB_GUE_PORT=6080
# Tier only: two more TCP VIPs on LAB_VIP4 with GUE, one with second_chance on and one with it
# off (tests/e2e/test_second_chance.py); the backends answer HTTP on these ports too.
LAB_SC_ON_PORT=8081
LAB_SC_OFF_PORT=8082
# SLUICE_LAB_ADAPTIVE=1 (tests/e2e/test_adaptive_weights.py, tools/lab/scenario_adaptive.py):
# the main TCP VIP gets `weights: adaptive` (slow start, an agent check, passive failure
# detection, SYN rescue on), plus a second adaptive TCP VIP on LAB_RESCUE_OFF_PORT with
# `syn_rescue: off`, same backends, so rescue on and off compare in one run. Every backend then
# also answers HTTP on that port and runs an agent (`lab agent BE TEXT|clear`) on
# LAB_AGENT_PORT. Without it the lab is as before.
# `lab up` saves these settings (and the weights, lb.sh) in $LAB_RUN_DIR/lab-settings: later
# commands on the running lab (`lab agent`, `lab server BE blackhole`, `lab env`) use them
# unless the environment names others.
LAB_SETTINGS_FILE=$LAB_RUN_DIR/lab-settings
lab_saved_setting() {
  [[ -f $LAB_SETTINGS_FILE ]] || return 0
  sed -n "s/^$1=//p" "$LAB_SETTINGS_FILE" | head -1
}
lab_settings_save() {
  mkdir -p "$LAB_RUN_DIR"
  printf 'adaptive=%s\nslow_start_s=%s\nweights=%s\n' "$LAB_ADAPTIVE" "$LAB_SLOW_START_S" \
    "${LAB_WEIGHTS[*]}" >"$LAB_SETTINGS_FILE.tmp"
  mv "$LAB_SETTINGS_FILE.tmp" "$LAB_SETTINGS_FILE"
}
LAB_ADAPTIVE=${SLUICE_LAB_ADAPTIVE:-$(lab_saved_setting adaptive)}
LAB_ADAPTIVE=${LAB_ADAPTIVE:-0}
[[ $LAB_ADAPTIVE == [01] ]] || lab_die "SLUICE_LAB_ADAPTIVE: expected 0 or 1, got '$LAB_ADAPTIVE'"
LAB_SLOW_START_S=${SLUICE_LAB_SLOW_START_S:-$(lab_saved_setting slow_start_s)}
LAB_SLOW_START_S=${LAB_SLOW_START_S:-0}
[[ $LAB_SLOW_START_S =~ ^[0-9]+$ ]] && ((LAB_SLOW_START_S <= 3600)) ||
  lab_die "SLUICE_LAB_SLOW_START_S: expected seconds 0..3600, got '$LAB_SLOW_START_S'"
LAB_RESCUE_OFF_PORT=8083
LAB_AGENT_PORT=8090
LAB_AGENT_INTERVAL_MS=500
LAB_AGENT_TIMEOUT_MS=300

# Links. client <-> router (1500 bytes, like an outside client).
LAB_CLIENT4=198.18.1.2
LAB_CLIENT6=2001:db8:1::2
LAB_ROUTER_CLIENT4=198.18.1.1
LAB_ROUTER_CLIENT6=2001:db8:1::1
# router <-> lb (1600 bytes: a full-size client packet plus any Sluice encapsulation fits).
LAB_LB4=198.18.2.2
LAB_LB6=2001:db8:2::2
LAB_ROUTER_LB4=198.18.2.1
LAB_ROUTER_LB6=2001:db8:2::1
# Fixed (locally administered) MAC of the router's lb-facing port: the dataplane's next hop.
LAB_ROUTER_LB_MAC=02:5c:00:02:00:01
# router bridge <-> backends (1600 bytes).
LAB_ROUTER_BE4=198.18.3.1
LAB_ROUTER_BE6=2001:db8:3::1
LAB_INNER_MTU=1600
lab_backend_index() { echo "${1#be}"; }
lab_backend_addr4() { echo "198.18.3.1$(lab_backend_index "$1")"; }
lab_backend_addr6() { echo "2001:db8:3::1$(lab_backend_index "$1")"; }

lab_ns_exists() { ip netns list | awk '{print $1}' | grep -qx "$1"; }
lab_in() {
  local ns=$1
  shift
  ip netns exec "$ns" "$@"
}

# The build directory: $SLUICE_BUILD_DIR (absolute, or relative to the repository), else build.
lab_build_dir() {
  local dir=${SLUICE_BUILD_DIR:-build}
  [[ $dir == /* ]] && echo "$dir" || echo "$LAB_ROOT/$dir"
}

# A Sluice binary: $SLUICE_<NAME> (e.g. SLUICE_DECAP), else the build dir, else PATH.
#   lab_binary sluice-decap bpf
lab_binary() {
  local name=$1 subdir=$2 override candidate
  override=${name^^}
  override=${override//-/_}
  for candidate in "${!override:-}" "$(lab_build_dir)/$subdir/$name" \
                   "$(command -v "$name" 2>/dev/null)"; do
    [[ -n $candidate && -x $candidate ]] && { echo "$candidate"; return 0; }
  done
  return 1
}
lab_decap_binary() { lab_binary sluice-decap bpf; }

# Does this sluice-decap take `attach --tunnel-source` (second-chance forwarding: it may send a
# packet with a second hop on to another backend)? Without it the lab attaches it as before.
lab_decap_has_tunnel_source() {
  local decap
  decap=$(lab_decap_binary) || return 1
  "$decap" attach --help 2>/dev/null | grep -q -- '--tunnel-source'
}

# A process the lab started: its pid file lives in $LAB_RUN_DIR; it is ours only while the pid
# still runs in the expected namespace (guards against a reused pid).
lab_pid_alive() {
  local pidfile=$1 ns=$2 pid
  [[ -f $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ $(ip netns identify "$pid" 2>/dev/null) == "$ns" ]]
}
# SIGTERM, then SIGKILL after $3 tenths of a second (default 20).
lab_stop_pidfile() {
  local pidfile=$1 ns=$2 patience=${3:-20} pid
  if lab_pid_alive "$pidfile" "$ns"; then
    pid=$(<"$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq "$patience"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

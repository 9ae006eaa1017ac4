# Backend hosts: the VIPs on lo, the sysctls DSR needs, the decap program, and the servers.
# shellcheck shell=bash

lab_backend_pidfile() { echo "$LAB_RUN_DIR/$1-server.pid"; }
# The milliseconds backend_server.py waits before each HTTP answer (`lab server BE slow MS`).
lab_backend_delay_file() { echo "$LAB_RUN_DIR/$1-delay-ms"; }
# The line backend_server.py's agent answers in the adaptive lab (`lab agent BE TEXT|clear`).
lab_backend_agent_file() { echo "$LAB_RUN_DIR/$1-agent"; }
# What the agent answers without a line set: back to full weight, HAProxy-style.
LAB_AGENT_DEFAULT="up 100%"

# The Sluice hosts' tunnel sources, one a line: the outer sources a backend's sluice-decap may
# send a packet with a second hop on for (`attach --tunnel-source`). The single host's two
# addresses; in a tier, those of every host it can have (1..LAB_TUNNEL_SOURCE_HOSTS, so that a
# host started later is one without attaching again).
lab_tunnel_sources() {
  local i
  if [[ ${LAB_TIER:-0} == 1 ]]; then
    for ((i = 1; i <= LAB_TUNNEL_SOURCE_HOSTS; i++)); do lab_host_addr4 "$i"; lab_host_addr6 "$i"; done
  else
    echo "$LAB_LB4"
    echo "$LAB_LB6"
  fi
}

# Second-chance forwarding: a backend's sluice-decap may send a packet on to another backend
# (the second hop), back out of its eth0 with XDP_TX. Two things the lab sets up for it, when
# this sluice-decap can send packets on (or SLUICE_LAB_SECOND_HOP=1):
# - the router's side of the veth (r-BE, a bridge port) runs an XDP program that passes
#   everything (bpf/xdp_pass.bpf.c, built with the project): a veth hands an XDP_TX'd frame to
#   its peer only when the peer runs XDP (GRO on the peer is not enough here: the frames stay in
#   the peer's ring);
# - forwarding is on for the backend's eth0: bpf_fib_lookup answers only for an interface that
#   forwards (the backend still has no route out of the lab);
# - every backend has a permanent neighbour entry for every other backend (IPv4 and IPv6): the
#   decap's bpf_fib_lookup needs the next hop's MAC and backends never talk to each other, so
#   their neighbour tables would not have it (the packet would be delivered locally instead).
lab_backend_second_hop_ready() {
  lab_decap_has_tunnel_source || [[ ${SLUICE_LAB_SECOND_HOP:-0} == 1 ]]
}

lab_backend_mac() { ip -n "$(lab_backend_ns "$1")" -j link show eth0 | jq -r '.[0].address'; }

lab_backend_second_hop_setup() {
  local be=$1 object other
  lab_backend_second_hop_ready || return 0
  object=${SLUICE_XDP_PASS_OBJ:-$(lab_build_dir)/bpf/xdp_pass.bpf.o}
  [[ -f $object ]] || lab_die "$object not found: build it (ninja -C build bpf/xdp_pass.bpf.o)"
  lab_sysctl "$(lab_backend_ns "$be")" net.ipv4.conf.eth0.forwarding=1 \
    net.ipv6.conf.eth0.forwarding=1
  ip -force -n "$LAB_NS_ROUTER" link set dev "r-$be" xdpdrv obj "$object" sec xdp ||
    lab_die "could not attach $object to r-$be in $LAB_NS_ROUTER"
  for other in "${LAB_BACKENDS[@]}"; do
    [[ $other != "$be" ]] && lab_ns_exists "$(lab_backend_ns "$other")" || continue
    lab_backend_neighbour "$be" "$other"
    lab_backend_neighbour "$other" "$be"
  done
}

# A permanent neighbour entry for backend $2 (both families) in backend $1's namespace.
lab_backend_neighbour() {
  local ns mac
  ns=$(lab_backend_ns "$1")
  mac=$(lab_backend_mac "$2")
  ip -n "$ns" neigh replace "$(lab_backend_addr4 "$2")" lladdr "$mac" dev eth0 nud permanent
  ip -n "$ns" -6 neigh replace "$(lab_backend_addr6 "$2")" lladdr "$mac" dev eth0 nud permanent
}

# HTTP ports of the backends' servers: the VIPs' port, in a tier also the second-chance VIPs',
# in the adaptive lab also the rescue-off VIP's.
lab_backend_http_ports() {
  echo "$LAB_HTTP_PORT"
  if ((LAB_ADAPTIVE)); then echo "$LAB_RESCUE_OFF_PORT"; fi
  if [[ ${LAB_TIER:-0} == 1 ]]; then
    echo "$LAB_SC_ON_PORT"
    echo "$LAB_SC_OFF_PORT"
  fi
}

lab_backend_up() {
  local be=$1 ns addr4 addr6 decap pidfile
  ns=$(lab_backend_ns "$be")
  addr4=$(lab_backend_addr4 "$be")
  addr6=$(lab_backend_addr6 "$be")

  # The VIP lives on lo: the backend accepts packets to it but never claims it on eth0.
  lab_addr "$ns" lo "$LAB_VIP4/32"
  lab_addr "$ns" lo "$LAB_VIP6/128"
  local key
  for key in all.arp_ignore=1 all.arp_announce=2 eth0.arp_ignore=1 eth0.arp_announce=2 \
             all.rp_filter=0 default.rp_filter=0 eth0.rp_filter=0 lo.rp_filter=0; do
    lab_sysctl "$ns" "net.ipv4.conf.$key"
  done

  decap=$(lab_decap_binary) || lab_die "sluice-decap not found: build it (ninja -C build bpf/sluice-decap) or set SLUICE_DECAP"
  local source
  local -a sources=() ports=()
  if lab_decap_has_tunnel_source; then
    for source in $(lab_tunnel_sources); do sources+=(--tunnel-source "$source"); done
  fi
  lab_in "$ns" "$decap" attach --iface eth0 --mode native --gue-port "$LAB_GUE_PORT" \
    --tunnel-address "$addr4" --tunnel-address "$addr6" ${sources[@]+"${sources[@]}"} >/dev/null ||
    lab_die "$be: sluice-decap attach failed (${#sources[@]} tunnel-source arguments)"
  lab_backend_second_hop_setup "$be"

  local port
  for port in $(lab_backend_http_ports); do ports+=(--http-port "$port"); done
  if ((LAB_ADAPTIVE)); then
    ports+=(--agent-port "$LAB_AGENT_PORT" --agent-file "$(lab_backend_agent_file "$be")"
            --agent-default "$LAB_AGENT_DEFAULT")
  fi

  pidfile=$(lab_backend_pidfile "$be")
  if ! lab_pid_alive "$pidfile" "$ns"; then
    lab_in "$ns" setsid "$LAB_PYTHON" "$LAB_DIR/backend_server.py" --name "$be" \
      "${ports[@]}" --udp-port "$LAB_UDP_PORT" --pidfile "$pidfile" \
      --delay-file "$(lab_backend_delay_file "$be")" \
      --udp-address "$LAB_VIP4" --udp-address "$LAB_VIP6" \
      --udp-address "$addr4" --udp-address "$addr6" \
      </dev/null >"$LAB_RUN_DIR/$be-server.log" 2>&1 &
  fi
}

# Waits (bounded) until every backend answers HTTP on its own address.
lab_backends_wait() {
  local be addr
  for be in "${LAB_BACKENDS[@]}"; do
    addr=$(lab_backend_addr4 "$be")
    for _ in $(seq 50); do
      lab_in "$LAB_NS_ROUTER" curl -s --max-time 1 "http://$addr:$LAB_HTTP_PORT/health" >/dev/null && break
      sleep 0.1
    done
    lab_in "$LAB_NS_ROUTER" curl -s --max-time 1 "http://$addr:$LAB_HTTP_PORT/health" >/dev/null ||
      lab_die "$be does not answer HTTP on $addr:$LAB_HTTP_PORT (see $LAB_RUN_DIR/$be-server.log)"
  done
}

lab_backend_down() {
  local be=$1
  lab_stop_pidfile "$(lab_backend_pidfile "$be")" "$(lab_backend_ns "$be")"
}

# Slow and silent backends (`lab server BE slow MS | blackhole | normal`), without netem:
# - slow: backend_server.py waits MS ms before each HTTP answer, health checks included (it
#   reads $LAB_RUN_DIR/BE-delay-ms whenever the file changes: no restart, held connections stay);
# - blackhole: an nftables table in the backend's namespace drops every pure SYN (SYN without
#   ACK) to the HTTP ports, after sluice-decap has decapsulated it: new connections through the
#   VIP and health checks to the backend's address time out, established connections keep
#   working (their packets carry ACK). A host that hangs, as the client and the checks see it;
# - normal: both undone. Slow and blackhole are independent; the mode is what `lab env` and
#   `lab status` show.
LAB_BLACKHOLE_TABLE=sluice_lab_blackhole

# lab_backend_slow BE MS [JITTER_PCT]: with a jitter, each answer waits MS +- up to JITTER_PCT
# percent of it, drawn anew for every request.
lab_backend_slow() {
  local be=$1 ms=$2 jitter=${3:-0} file
  [[ $ms =~ ^[0-9]+$ ]] && ((ms <= 60000)) || lab_die "slow: expected milliseconds 0..60000, got '$ms'"
  jitter=${jitter%\%}
  [[ $jitter =~ ^[0-9]+$ ]] && ((jitter <= 100)) || lab_die "slow: expected a jitter of 0..100 %, got '$3'"
  file=$(lab_backend_delay_file "$be")
  mkdir -p "$LAB_RUN_DIR"
  if ((jitter)); then echo "$ms $jitter" >"$file.tmp"; else echo "$ms" >"$file.tmp"; fi
  mv "$file.tmp" "$file"  # a new inode: the server sees the change at its next request
}

lab_backend_blackholed() {
  lab_in "$(lab_backend_ns "$1")" nft list table inet "$LAB_BLACKHOLE_TABLE" >/dev/null 2>&1
}

lab_backend_blackhole() {
  local be=$1 ns ports
  ns=$(lab_backend_ns "$be")
  command -v nft >/dev/null || lab_die "nft not found: install nftables (tools/install-deps)"
  lab_backend_blackholed "$be" && return 0
  ports=$(lab_backend_http_ports | paste -sd, | sed 's/,/, /g')
  lab_in "$ns" nft -f - <<EOF || lab_die "$be: could not install the nftables blackhole in $ns"
table inet $LAB_BLACKHOLE_TABLE {
  chain input {
    type filter hook input priority filter; policy accept;
    tcp dport { $ports } tcp flags & (fin | syn | rst | ack) == syn counter drop
  }
}
EOF
}

# SYNs the blackhole dropped so far (0 without one).
lab_backend_blackhole_drops() {
  lab_backend_blackholed "$1" || { echo 0; return 0; }
  lab_in "$(lab_backend_ns "$1")" nft -j list table inet "$LAB_BLACKHOLE_TABLE" |
    jq '[.nftables[] | .rule? // empty | .expr[] | .counter? // empty | .packets] | add // 0'
}

lab_backend_normal() {
  local be=$1
  rm -f "$(lab_backend_delay_file "$be")"
  if lab_backend_blackholed "$be"; then
    lab_in "$(lab_backend_ns "$be")" nft delete table inet "$LAB_BLACKHOLE_TABLE"
  fi
}

# One word: normal, slow:MS (slow:MS~J% with a jitter), blackhole or slow:MS+blackhole.
lab_backend_mode() {
  local be=$1 file ms=0 jitter=0 mode=()
  file=$(lab_backend_delay_file "$be")
  [[ -s $file ]] && read -r ms jitter <"$file"
  if ((ms > 0 && ${jitter:-0} > 0)); then mode+=("slow:$ms~$jitter%")
  elif ((ms > 0)); then mode+=("slow:$ms"); fi
  lab_ns_exists "$(lab_backend_ns "$be")" && lab_backend_blackholed "$be" && mode+=(blackhole)
  ((${#mode[@]})) || mode=(normal)
  local IFS=+
  echo "${mode[*]}"
}

# The agent (adaptive lab): `lab agent BE TEXT` makes BE's agent answer TEXT (one HAProxy-style
# line: "50%", "drain", "down", "up", "weight:2", ...), from its next check on; `clear` goes
# back to LAB_AGENT_DEFAULT.
lab_backend_agent() {
  local be=$1 text=$2 file
  ((LAB_ADAPTIVE)) || lab_die "agent: the backends run an agent only in the adaptive lab (SLUICE_LAB_ADAPTIVE=1)"
  file=$(lab_backend_agent_file "$be")
  if [[ $text == clear ]]; then
    rm -f "$file"
    return 0
  fi
  [[ $text =~ ^[[:print:]]{1,64}$ ]] || lab_die "agent: expected one printable line of 1..64 characters, got '$text'"
  mkdir -p "$LAB_RUN_DIR"
  printf '%s\n' "$text" >"$file.tmp"
  mv "$file.tmp" "$file"
}

# What BE's agent answers now.
lab_backend_agent_reply() {
  local file
  file=$(lab_backend_agent_file "$1")
  if [[ -s $file ]]; then head -1 "$file"; else echo "$LAB_AGENT_DEFAULT"; fi
}

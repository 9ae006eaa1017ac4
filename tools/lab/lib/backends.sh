# Backend hosts: the VIPs on lo, the sysctls DSR needs, the decap program, and the servers.
# shellcheck shell=bash

lab_backend_pidfile() { echo "$LAB_RUN_DIR/$1-server.pid"; }

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
  lab_in "$ns" "$decap" attach --iface eth0 --mode native --gue-port "$LAB_GUE_PORT" \
    --tunnel-address "$addr4" --tunnel-address "$addr6" >/dev/null

  pidfile=$(lab_backend_pidfile "$be")
  if ! lab_pid_alive "$pidfile" "$ns"; then
    lab_in "$ns" setsid "$LAB_PYTHON" "$LAB_DIR/backend_server.py" --name "$be" \
      --http-port "$LAB_HTTP_PORT" --udp-port "$LAB_UDP_PORT" --pidfile "$pidfile" \
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

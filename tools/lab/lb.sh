# The Sluice host (namespace ${LAB_PREFIX}lb) and how traffic for the VIPs reaches it. These are
# the hooks `tools/lab/lab` calls; the Sluice processes are wired in here (issue 5, second half).
#
#   lab_lb_routes_to_vips       router -> lb routes for the VIPs (static now; BGP from BIRD later)
#   lab_lb_start_dataplane      sluice-dataplane on eth0 in af_xdp mode with xsk_steer.bpf.o
#   lab_lb_start_controlplane   sluice-controlplane with the lab's VIPs and backends, health checks
#   lab_lb_stop                 stops what the start hooks started
#
# Facts the dataplane needs in this namespace:
#   - NIC eth0 (veth, MTU 1600, one queue), 198.18.2.2/24 and 2001:db8:2::2/64, next hop (the
#     router) 198.18.2.1 / 2001:db8:2::1; backends 198.18.3.11-13 / 2001:db8:3::11-13.
#   - The af_xdp PMD loads the steering program itself:
#       --vdev net_af_xdp0,iface=eth0,start_queue=0,queue_count=1,xdp_prog=<xsk_steer.bpf.o>
#     (meson variable xsk_steer_obj; build/bpf/xsk_steer.bpf.o). Its VIP maps are pinned by
#     name under /sys/fs/bpf, so bpffs must be mounted in the dataplane's mount namespace first:
#       ip netns exec sluice-lb sh -c 'mount -t bpf bpf /sys/fs/bpf && exec sluice-dataplane ...'
#     (ip netns exec gives each command a fresh /sys, so mount and exec in one command.)
#   - Record each process's pid in $LAB_RUN_DIR/lb-<name>.pid; lab_lb_stop and `down` use them.
# shellcheck shell=bash

lab_lb_routes_to_vips() {
  ip -n "$LAB_NS_ROUTER" route replace "$LAB_VIP4/32" via "$LAB_LB4"
  ip -n "$LAB_NS_ROUTER" -6 route replace "$LAB_VIP6/128" via "$LAB_LB6"
}

lab_lb_start_dataplane() {
  lab_log "dataplane: not started yet (placeholder: lab_lb_start_dataplane in tools/lab/lb.sh)"
}

lab_lb_start_controlplane() {
  lab_log "control plane: not started yet (placeholder: lab_lb_start_controlplane in tools/lab/lb.sh)"
}

lab_lb_start() {
  lab_lb_routes_to_vips
  lab_lb_start_dataplane
  lab_lb_start_controlplane
}

lab_lb_stop() {
  local pidfile
  for pidfile in "$LAB_RUN_DIR"/lb-*.pid; do
    [[ -e $pidfile ]] && lab_stop_pidfile "$pidfile" "$LAB_NS_LB"
  done
  return 0
}

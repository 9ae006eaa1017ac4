#!/usr/bin/python3
"""The tier under traffic (the demo's tier act): a tier lab that is up (`tools/lab/lab up
--hosts 3`), --connections long-lived keep-alive connections spread by the router's ECMP over
every LB host plus --rate new connections per second, then

  1. LB host 3 is killed (every process SIGKILLed, its link down),
  2. LB host 1 is drained (`sluicectl host drain`: its routes are tagged GRACEFUL_SHUTDOWN, then
     withdrawn, while it keeps forwarding what still arrives),

while the router's route to the VIP is polled every 20 ms. Prints what the router saw and when,
host 1's `host status` while it drains, and a table: long-lived connections broken, new
connections failed or slow, per event. --json FILE writes the numbers; --plot FILE.png draws
the route's next hops and every new connection's time over the run (python3-matplotlib).
Bounded: about 40 s. Leaves host 3 dead and host 1 drained (the caller tears the lab down).
Exits 1 if a long-lived connection broke.
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# The tier fixture of the end-to-end tests drives the same lab: one implementation of the route
# watcher, the held connections and the steady new connections.
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e"))
from labfixture import HeldConnections  # noqa: E402
from tierfixture import NewConnections, RouteWatcher, TierLab  # noqa: E402

SLOW_MS = 500  # slower than this, a new connection was disrupted (a lost SYN costs 1 s)


def say(text):
    print(f"   {text}", flush=True)


def show(command):
    print(f"\n$ {command}", flush=True)


def hosts_text(hosts):
    return ", ".join(f"lb{h}" for h in sorted(hosts)) or "none"


def router_view(lab):
    show(f"ip -n {lab.router_ns} route show {lab.vip4}/32    (the router's ECMP route)")
    out = lab.run_in(lab.router_ns, "ip", "route", "show", f"{lab.vip4}/32", check=False).stdout
    print("".join(f"   {line}\n" for line in out.splitlines()), end="")
    show("birdc show protocols    (on the router: one BGP session per LB host)")
    for line in lab.bird_router("show", "protocols").splitlines():
        if " BGP " in line or line.startswith("Name"):
            print(f"   {line}")


def host_status_line(lab, i):
    s = json.loads(lab.host_ctl(i, "host", "status", "--json").stdout)
    announced = [v["vip"] for v in s.get("vips", []) if v.get("announced")]
    return (f"lb{i}: drained {s.get('drained')}, announced {len(announced)} VIP(s), active flows "
            f"{s.get('active_flows')}, packets/s still arriving {round(s.get('rx_pps', 0))}")


def plot(path, route, new_rows, events, t0):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True,
                                      gridspec_kw={"height_ratios": [1, 2]})
    xs, ys = [], []
    for t, hosts in route:
        xs.append(t - t0)
        ys.append(len(hosts))
    xs.append(max(r["t"] for r in new_rows) - t0 if new_rows else xs[-1] + 1)
    ys.append(ys[-1])
    top.step(xs, ys, where="post", color="tab:blue")
    top.set_ylabel("next hops\n(router)")
    top.set_ylim(0, max(ys) + 0.5)
    ok = [(r["t"] - t0, r["ms"]) for r in new_rows if "error" not in r]
    failed = [r["t"] - t0 for r in new_rows if "error" in r]
    bottom.scatter([x for x, _ in ok], [y for _, y in ok], s=4, color="tab:green",
                   label="new connection (ms)")
    if failed:
        bottom.scatter(failed, [SLOW_MS] * len(failed), s=12, color="tab:red", marker="x",
                       label="failed")
    bottom.set_yscale("log")
    bottom.set_ylabel("request time (ms)")
    bottom.set_xlabel("seconds")
    for name, t in events:
        for axis in (top, bottom):
            axis.axvline(t - t0, color="grey", linestyle="--", linewidth=0.8)
        top.annotate(name, (t - t0, max(ys) + 0.2), fontsize=8)
    bottom.legend(loc="upper right", fontsize=8)
    fig.suptitle("Sluice tier: LB host killed, then LB host drained, under traffic")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=300, help="long-lived connections")
    parser.add_argument("--rate", type=int, default=50, help="new connections per second")
    parser.add_argument("--workdir", default="/tmp/sluice-demo")
    parser.add_argument("--json", help="write the numbers here")
    parser.add_argument("--plot", help="write a PNG here")
    args = parser.parse_args()
    if not 0 < args.connections <= 1000 or not 0 < args.rate <= 500:
        parser.error("--connections in 1..1000, --rate in 1..500")
    os.makedirs(args.workdir, exist_ok=True)

    # The lab's own defaults (tools/lab/lib/common.sh), not the test fixture's prefix.
    os.environ.setdefault("SLUICE_LAB_PREFIX", "sluice-")
    os.environ.setdefault("SLUICE_LAB_RUN_DIR", "/run/sluice-lab")
    lab = TierLab("demo", 3)
    lab.refresh()
    if sorted(lab.hosts) != [1, 2, 3]:
        sys.exit(f"scenario_tier: expects a tier of hosts 1, 2, 3 (found {lab.hosts})")
    router_view(lab)

    events = []
    with RouteWatcher(lab) as route:
        t0 = time.time()
        route.wait_for("the route to point at lb1, lb2, lb3", lambda h: h == {1, 2, 3}, t0, 30)
        new = NewConnections(lab, args.workdir, rate=args.rate, slow_ms=SLOW_MS)
        try:
            held = HeldConnections(lab, args.workdir, connections=args.connections,
                                   max_seconds=120, interval=0.5)
            with held:
                say(f"{args.connections} long-lived connections (one request every 0.5 s on "
                    f"each) and {args.rate} new connections/s are running")
                flows = {i: lab.host_vip_active_flows(i, lab.tcp_vip) for i in (1, 2, 3)}
                say("active flows per LB host (the router's L4 hash spreads them): " +
                    ", ".join(f"lb{i} {n}" for i, n in flows.items()))
                time.sleep(2)

                show("tools/lab/lab host kill 3    (SIGKILL lb3's dataplane, control plane "
                     "and BIRD; its link down)")
                t_kill = time.time()
                events.append(("lb3 killed", t_kill))
                lab.host("kill", 3)
                t = route.wait_for("lb3 out of the route", lambda h: h == {1, 2}, t_kill, 10)
                kill_drop_ms = round((t - t_kill) * 1000)
                say(f"the router's route points at {hosts_text(route.current())} "
                    f"{kill_drop_ms} ms later")
                time.sleep(4)

                show("tools/lab/lab host ctl 1 host drain    (GRACEFUL_SHUTDOWN first, then "
                     "withdrawn; lb1 keeps forwarding what still arrives)")
                t_drain = time.time()
                events.append(("lb1 drained", t_drain))
                lab.host_ctl(1, "host", "drain")
                t = route.wait_for("lb1 out of the route", lambda h: h == {2}, t_drain, 15)
                drain_drop_ms = round((t - t_drain) * 1000)
                say(f"the router's route points at {hosts_text(route.current())} "
                    f"{drain_drop_ms} ms later")
                show("sluicectl host status    (on lb1, twice, 2 s apart: is it safe to stop?)")
                for _ in range(2):
                    time.sleep(2)
                    say(host_status_line(lab, 1))
                time.sleep(1)
                t_end = time.time()
        finally:
            new.stop()
        history = route.history()

    kill_window = new.window(t_kill, t_drain)
    drain_window = new.window(t_drain, t_end)
    s = held.summary
    print()
    print(f"   {'EVENT':<14} {'ROUTER DROPPED IT':>18} {'LONG-LIVED BROKEN':>18} "
          f"{'NEW CONNECTIONS':>16} {'FAILED':>7} {'SLOW (>500 ms)':>15}")
    broken_kill = sum(1 for c in s["broken_connections"] if c["error_at"] < t_drain)
    broken_drain = s["broken"] - broken_kill
    for name, ms, broken, w in (("lb3 killed", kill_drop_ms, broken_kill, kill_window),
                                ("lb1 drained", drain_drop_ms, broken_drain, drain_window)):
        of = f"{broken} of {s['connections']}"
        print(f"   {name:<14} {str(ms) + ' ms':>18} {of:>18} "
              f"{w['requests']:>16} {w['failed']:>7} {w['slow']:>15}")
    say(f"route history (seconds, hosts): {history}")
    say(f"long-lived connections: {s['requests']} requests, slowest answer {s['max_ms']} ms, "
        f"{s['moved']} changed backend")

    numbers = {"kill_drop_ms": kill_drop_ms, "drain_drop_ms": drain_drop_ms,
               "held": {k: s[k] for k in ("connections", "broken", "moved", "requests", "max_ms")},
               "new_after_kill": kill_window, "new_after_drain": drain_window,
               "route_history": history}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(numbers, f, indent=1)
    if args.plot:
        plot(args.plot, [(t, h) for t, h in route.changes], new.rows, events, t0)
        say(f"plot: {args.plot}")
    return 1 if s["broken"] else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""The demo's second-chance act (docs/second-chance.md), on a tier of three LB hosts
(tools/lab/lab up --hosts 3): long-lived connections on two GUE VIPs that differ only in
`second_chance` (on: 198.18.0.10:8081, off: :8082); the backends' weights change (one sluicectl
call per backend, so about a third of the Maglev slots change owner); then LB host 3 is killed
and the router moves its flows to hosts 1 and 2, which never saw them. Prints, per VIP, the
connections that broke, the flows adopted with a second hop and the packets the backends sent
on to it.

Bounded: about 30 s. Leaves host 3 dead (the caller tears the lab down). Exits 1 if a
connection of the `on` VIP broke.
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e"))
from labfixture import HeldConnections  # noqa: E402
from tierfixture import RouteWatcher, TierLab  # noqa: E402

AFTER = {"be1": 3, "be2": 2, "be3": 1}  # the lab's weights are 1, 2, 3
SYNC_MAX_S = 20


def say(text):
    print(f"   {text}", flush=True)


def show(command):
    print(f"\n$ {command}", flush=True)


def status(lab, i):
    return json.loads(lab.host_ctl(i, "status", "--json").stdout)


def stats(lab, i):
    return json.loads(lab.host_ctl(i, "stats", "--json").stdout)


def in_force(lab, vips, names, weights):
    """Whether every host's dataplanes run `weights` on `vips`."""
    for i in lab.hosts:
        s = status(lab, i)
        if not all(d["reachable"] and d["in_sync"] for d in s["dataplanes"]):
            return False
        for v in s["vips"]:
            if v["vip"] in vips and any(b["weight"] != weights[names[b["address"]]]
                                        for b in v["backends"]):
                return False
    return True


def decap_redirected(lab):
    """Packets the backends' sluice-decap sent on to a second hop, summed."""
    decap = os.environ.get("SLUICE_DECAP") or os.path.join(
        HERE, "..", "..", os.environ.get("SLUICE_BUILD_DIR", "build"), "bpf", "sluice-decap")
    total = 0
    for ns in lab.facts["LAB_BACKEND_NS"].split():
        out = json.loads(lab.run_in(ns, decap, "stats", "--iface", "eth0", "--json").stdout)
        total += out.get("second_hop", {}).get("redirected", {}).get("packets", 0)
    return total


def second_hop_flows(lab, hosts, vip):
    total = 0
    for i in hosts:
        for v in stats(lab, i)["vips"]:
            if v["vip"] == vip:
                total += v.get("second_hop_flows", 0)
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=150, help="per VIP")
    parser.add_argument("--workdir", default="/tmp/sluice-demo")
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args()
    if not 0 < args.connections <= 500:
        parser.error("--connections in 1..500")
    os.makedirs(args.workdir, exist_ok=True)
    os.environ.setdefault("SLUICE_LAB_PREFIX", "sluice-")
    os.environ.setdefault("SLUICE_LAB_RUN_DIR", "/run/sluice-lab")
    lab = TierLab("demo", 3)
    lab.refresh()
    f = lab.facts
    if sorted(lab.hosts) != [1, 2, 3] or f.get("LAB_TIER_SECOND_CHANCE") != "1":
        sys.exit("scenario_second_chance: expects a tier of hosts 1, 2, 3 with the "
                 "second-chance VIPs (tools/lab/lab up --hosts 3)")
    ports = {"on": int(f["LAB_SC_ON_PORT"]), "off": int(f["LAB_SC_OFF_PORT"])}
    vips = {k: f"{lab.vip4}:{p}/tcp" for k, p in ports.items()}
    names = {address: be for be, address in lab.addr4.items()}

    with RouteWatcher(lab) as route:
        t0 = time.time()
        route.wait_for("the route to point at lb1, lb2, lb3", lambda h: h == {1, 2, 3}, t0, 30)
        held = {k: HeldConnections(lab, args.workdir, connections=args.connections,
                                   max_seconds=90, interval=0.5, port=ports[k]) for k in ports}
        with held["on"], held["off"]:
            say(f"{args.connections} long-lived connections on each of {vips['on']} "
                f"(second_chance: on) and {vips['off']} (off), spread over lb1..lb3")
            show("sluicectl backend weight ... (on lb1, for both VIPs: be1 3, be2 2, be3 1; "
                 "the shared state in etcd carries it to every host)")
            for vip in vips.values():
                for be, weight in AFTER.items():
                    lab.host_ctl(1, "backend", "weight", vip, lab.addr4[be], str(weight))
            t_change = time.monotonic()
            while not in_force(lab, set(vips.values()), names, AFTER):
                if time.monotonic() - t_change > SYNC_MAX_S:
                    sys.exit("scenario_second_chance: the new weights are not in force on "
                             "every host")
                time.sleep(0.05)
            say(f"in force on lb1, lb2, lb3 after {time.monotonic() - t_change:.2f} s; about a "
                "third of the slots changed owner, the old owners keep their connections")
            time.sleep(1)
            redirected_before = decap_redirected(lab)
            show("tools/lab/lab host kill 3    (lb3's flows move to lb1 and lb2, which never saw "
                 "them and hash them on the new table)")
            t_kill = time.time()
            lab.host("kill", 3)
            t = route.wait_for("lb3 out of the route", lambda h: h == {1, 2}, t_kill, 10)
            say(f"the router's route points at lb1, lb2 {round((t - t_kill) * 1000)} ms later")
            time.sleep(4)  # several requests on every connection after the move
            summaries = {k: h.stop() for k, h in held.items()}
    time.sleep(2.5)  # the control plane reads the dataplanes' counters about every second

    numbers = {"connections": args.connections,
               "redirected_by_backends": decap_redirected(lab) - redirected_before}
    print()
    say(f"{'VIP':<22}{'SECOND CHANCE':<15}{'BROKEN':>14}{'ADOPTED WITH A HOP':>20}")
    for k in ("off", "on"):
        broken = summaries[k]["broken"]
        adopted = second_hop_flows(lab, (1, 2), vips[k])
        numbers[k] = {"broken": broken, "second_hop_flows": adopted}
        say(f"{vips[k]:<22}{k:<15}{f'{broken} of {args.connections}':>14}{adopted:>20}")
    say(f"packets the backends sent on to the previous owner: {numbers['redirected_by_backends']}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(numbers, out, indent=1)
    return 1 if numbers["on"]["broken"] else 0


if __name__ == "__main__":
    sys.exit(main())

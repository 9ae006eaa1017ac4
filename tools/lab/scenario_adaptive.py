#!/usr/bin/python3
"""Adaptive weights under steady traffic (the demo's act; docs/demo.md): the adaptive lab
(`SLUICE_LAB_ADAPTIVE=1 SLUICE_LAB_SLOW_START_S=10 tools/lab/lab up`: weights 1:1:1 on the
adaptive VIP 198.18.0.10:80) gets --rate new connections a second (tools/lab/conn_load.py)
while
  1. be1 is made slow (`lab server be1 slow MS`, MS about 10x the others' check latency,
     30..150 ms): the control plane lowers its weight and it loses its share;
  2. be1 is back to normal (the base latency): it regains its share;
  3. be1's servers are stopped: down after the health checks; then started: it comes back
     through the slow-start ramp (slow_start_s).
Every backend answers with a base delay (--base-ms, default 10 ms, reached in steps of at most
2x before the traffic starts, and left in place at the end): the lab's own check latencies of
a few ms, with noise of the same size on a loaded 2-core machine, would otherwise move the
latency factors by themselves. The control plane's view (`sluicectl status --json`, every
100 ms) and every connection are recorded. Prints the timings; --json FILE writes them, --plot FILE.png draws each backend's
share of new connections per second with the events and be1's weight_percent
(python3-matplotlib). Exit 77 when the lab's VIP is not adaptive (no weight_percent).
"""
import argparse
import json
import math
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import conn_load  # noqa: E402
from adaptive_status import Poller  # noqa: E402

LAB = os.path.join(HERE, "lab")
SKIP = 77


def lab_facts():
    out = subprocess.run([LAB, "env"], check=True, capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def lab(*args):
    subprocess.run([LAB, *args], check=True, capture_output=True, text=True, timeout=60)


def per_second(records, backends, start, end):
    """[(second, {backend: share of that second's answered connections})]."""
    rows = []
    for i in range(int(end - start)):
        counts = conn_load.window(records, start + i, start + i + 1)
        answered = sum(counts.get(be, 0) for be in backends)
        rows.append((i, {be: (counts.get(be, 0) / answered if answered else None)
                         for be in backends}, counts))
    return rows


def plot(path, rows, weights, events, backends, title):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("  (no plot: python3-matplotlib is not installed)")
        return
    fig, (ax, aw) = plt.subplots(2, 1, figsize=(10, 6), sharex=True,
                                 gridspec_kw={"height_ratios": [3, 1.3]})
    xs = [i for i, _, _ in rows]
    for be in backends:
        ys = [100 * s[be] if s[be] is not None else float("nan") for _, s, _ in rows]
        ax.plot(xs, ys, label=be, drawstyle="steps-post", linewidth=1.6)
    ax.set_ylabel("share of new connections (%)\nper second")
    ax.set_ylim(0, 70)
    ax.axhline(100 / len(backends), color="grey", linewidth=0.6, linestyle=":")
    for t, text in events:
        for a in (ax, aw):
            a.axvline(t, color="black", linewidth=0.7, linestyle="--")
        ax.text(t + 0.3, 66, text, rotation=90, va="top", fontsize=8)
    ax.legend(loc="upper right")
    ax.set_title(title)
    for be in backends:
        aw.plot([t for t, _ in weights[be]], [p for _, p in weights[be]], label=be,
                drawstyle="steps-post", linewidth=1.2)
    aw.set_ylabel("weight_percent")
    aw.set_ylim(-5, 110)
    aw.set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"  plot: {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=150, help="new connections per second")
    parser.add_argument("--slow-s", type=float, default=8, help="seconds be1 stays slow")
    parser.add_argument("--base-ms", type=int, default=10,
                        help="every backend's delay outside the slow phase (ms)")
    parser.add_argument("--workdir", default="/tmp")
    parser.add_argument("--json", help="write the numbers here")
    parser.add_argument("--plot", help="PNG: share of new connections per backend over time")
    args = parser.parse_args()

    facts = lab_facts()
    backends = facts["LAB_BACKENDS"].split()
    names = dict(zip(facts["LAB_BACKEND_ADDR4"].split(), backends))
    vip = f"{facts['LAB_VIP4']}:{facts['LAB_HTTP_PORT']}/tcp"
    slow_start_s = int(facts.get("LAB_SLOW_START_S", "0"))
    poller = Poller(facts["LAB_SLUICECTL"], facts["LAB_LB_API_SOCKET"], [vip], names)
    first = poller.sample()
    if not first or vip not in first:
        sys.exit(f"no VIP {vip}: is the lab up?")
    be1 = first[vip]["backends"]["be1"]
    if be1.get("weight_percent") is None:
        print(f"  skipped: {vip} has no weight_percent (start the lab with SLUICE_LAB_ADAPTIVE=1,"
              " with a control plane that has adaptive weights)")
        return SKIP

    def b1(view):
        return view[vip]["backends"]["be1"]

    poller.start()
    ms = 1
    while ms < args.base_ms:
        ms = min(args.base_ms, ms * 2)
        for be in backends:
            lab("server", be, "slow", str(ms))
        time.sleep(1.0)
    full = lambda v: all(b["weight_percent"] == 100 and b["state"] == "up"  # noqa: E731
                         for b in v[vip]["backends"].values())
    poller.wait("every backend at 100%", full, 30)
    _, view = poller.latest()
    others_ms = [view[vip]["backends"][be]["ewma"] for be in backends if be != "be1"]
    numeric = [p for p in others_ms if isinstance(p, (int, float))]
    slow_ms = int(min(150, max(30, math.ceil(10 * max(numeric, default=3)))))

    jsonl = os.path.join(args.workdir, "adaptive-requests.jsonl")
    load = subprocess.Popen(
        ["ip", "netns", "exec", facts["LAB_NS_CLIENT"], "/usr/bin/python3",
         os.path.join(HERE, "conn_load.py"), "rate", "--target", facts["LAB_VIP4"],
         "--port", facts["LAB_HTTP_PORT"], "--rate", str(args.rate), "--duration", "120",
         "--timeout", "5", "--jsonl", jsonl], stdout=subprocess.PIPE, text=True)
    start = time.time()
    events, marks = [], {}

    def event(text):
        t = time.time()
        events.append((t - start, text))
        return t

    try:
        time.sleep(4)
        marks["slow"] = event(f"be1 slow {slow_ms} ms")
        lab("server", "be1", "slow", str(slow_ms))
        marks["lowered"] = poller.wait("be1 lowered", lambda v: b1(v)["weight_percent"] < 100,
                                       10, after=marks["slow"])
        marks["lowest"] = poller.wait("be1 at 30% or less", lambda v: b1(v)["weight_percent"] <= 30,
                                      10, after=marks["slow"])
        _, view = poller.latest()
        low = dict(b1(view))
        time.sleep(max(0.0, marks["slow"] + args.slow_s - time.time()))
        marks["normal"] = event("be1 normal")
        lab("server", "be1", "slow", str(args.base_ms))
        marks["back"] = poller.wait("be1 back at 100%", lambda v: b1(v)["weight_percent"] == 100,
                                    30, after=marks["normal"])
        time.sleep(3)
        marks["stop"] = event("be1 stopped")
        lab("server", "be1", "stop")
        marks["down"] = poller.wait("be1 down", lambda v: b1(v)["state"] == "down", 10,
                                    after=marks["stop"])
        events.append((marks["down"] - start, "be1 down"))
        time.sleep(1.5)
        marks["start"] = event(f"be1 started (slow start {slow_start_s} s)")
        lab("server", "be1", "start")
        marks["up"] = poller.wait("be1 up", lambda v: b1(v)["state"] == "up", 15,
                                  after=marks["start"])
        # The ramp: status may show one sample at 100% as be1 comes up, before the controller's
        # next step.
        ramp_start = marks["up"]
        if slow_start_s:
            ramp_start = poller.wait("be1's slow-start ramp", lambda v: b1(v)["state"] == "up"
                                     and b1(v)["weight_percent"] < 100, 5, after=marks["up"])
        marks["full"] = poller.wait("be1 at 100% again",
                                    lambda v: b1(v)["weight_percent"] == 100 and b1(v)["state"] == "up",
                                    slow_start_s + 20, after=ramp_start)
        time.sleep(3)
    finally:
        load.send_signal(signal.SIGTERM)
        load.communicate(timeout=30)
        poller.stop()
        subprocess.run([LAB, "server", "be1", "slow", str(args.base_ms)], capture_output=True)
        subprocess.run([LAB, "server", "be1", "start"], capture_output=True)

    end = time.time()
    records = conn_load.read_records(jsonl)
    rows = per_second(records, backends, start, end)
    weights = {be: [] for be in backends}
    ramp = []
    for t, v in poller.since(start):
        for be, b in v[vip]["backends"].items():
            percent = b["weight_percent"] if b["state"] != "down" else 0
            if not weights[be] or weights[be][-1][1] != percent:
                weights[be].append((round(t - start, 2), percent))
        b = v[vip]["backends"]["be1"]
        if marks["up"] <= t <= marks["full"] and (not ramp or ramp[-1][1] != b["weight_percent"]):
            ramp.append((round(t - marks["start"], 2), b["weight_percent"]))
    for be in backends:
        weights[be].append((round(end - start, 2), weights[be][-1][1]))
    s0 = conn_load.share(records, "be1", marks["slow"] - 3, marks["slow"])

    def first_end(t_from, t_to, width, predicate):
        t = t_from
        while t + width <= t_to:
            s = conn_load.share(records, "be1", t, t + width)
            if s is not None and predicate(s):
                return t + width
            t += 0.1
        return None

    lost = first_end(marks["slow"], marks["normal"], 1.0, lambda s: s <= 0.3 * s0)
    regained = first_end(marks["normal"], marks["stop"], 2.0, lambda s: s >= 0.9 * s0)
    numbers = {
        "rate": args.rate, "base_ms": args.base_ms, "slow_ms": slow_ms,
        "others_check_ewma_ms": others_ms,
        "be1_when_slow": {k: low[k] for k in ("weight_percent", "weight_reason", "p50", "ewma")},
        "share_before": round(s0, 3),
        "weight_lowered_s": round(marks["lowered"] - marks["slow"], 2),
        "weight_at_most_30_s": round(marks["lowest"] - marks["slow"], 2),
        "share_lost_70pct_s": round(lost - marks["slow"], 2) if lost else None,
        "weight_back_100_s": round(marks["back"] - marks["normal"], 2),
        "share_regained_90pct_s": round(regained - marks["normal"], 2) if regained else None,
        "down_after_stop_s": round(marks["down"] - marks["stop"], 2),
        "up_after_start_s": round(marks["up"] - marks["start"], 2),
        "full_after_start_s": round(marks["full"] - marks["start"], 2),
        "slow_start_s": slow_start_s, "slow_start_ramp": ramp,
        "connections": len(records),
        "failed": sum(1 for r in records if r["outcome"] != "ok"),
        "failed_stop_to_down": sum(1 for r in records if r["outcome"] != "ok"
                                   and marks["stop"] <= r["t"] < marks["down"]),
        "events": [(round(t, 2), text) for t, text in events],
    }
    print(f"  {len(records)} new connections at {args.rate}/s to {vip} (weights 1:1:1, adaptive), "
          f"{numbers['failed']} failed, {numbers['failed_stop_to_down']} of them started between be1's "
          "stop and its down")
    print(f"  every backend {args.base_ms} ms; be1 slow {slow_ms} ms (others' check latency "
          f"{others_ms} ms): weight below 100% after "
          f"{numbers['weight_lowered_s']} s, {low['weight_percent']}% ({low['weight_reason']}); "
          f"share {s0:.1%} -> under 30% of it after {numbers['share_lost_70pct_s']} s")
    print(f"  be1 normal: weight 100% after {numbers['weight_back_100_s']} s, share back to 90% "
          f"after {numbers['share_regained_90pct_s']} s")
    print(f"  be1 stopped: down after {numbers['down_after_stop_s']} s; started: up after "
          f"{numbers['up_after_start_s']} s, 100% after {numbers['full_after_start_s']} s "
          f"(slow start {slow_start_s} s): " + " ".join(f"{p}%" for _, p in ramp))
    if args.plot:
        plot(args.plot, rows, weights, [(t, text) for t, text in events], backends,
             f"Sluice lab: adaptive weights, {args.rate} new connections/s, weights 1:1:1")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({**numbers, "per_second": [
                {"s": i, **{be: (round(x, 3) if x is not None else None) for be, x in s.items()}}
                for i, s, _ in rows], "weights": weights}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())

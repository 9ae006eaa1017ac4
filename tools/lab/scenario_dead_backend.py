#!/usr/bin/python3
"""A backend dies under steady traffic: how long until Sluice stops sending it new connections,
and does any connection fail after that?

Runs new HTTP connections through the IPv4 VIP at --rate per second (lab_client.py in the client
namespace), stops --backend's servers after --before seconds (`lab server BE stop`: its kernel
then refuses connections, as after a crash of the service), and polls the control plane every
50 ms until the backend is down in the state the dataplane runs. Prints a table of the requests
before the stop, between the stop and the detection, and after the detection; then starts the
backend again and waits (bounded) until it is back. --json FILE writes the numbers, --plot
FILE.png draws requests per backend over time (python3-matplotlib).
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LAB = os.path.join(HERE, "lab")


def lab_facts():
    out = subprocess.run([LAB, "env"], check=True, capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


class ControlPlane:
    def __init__(self, facts):
        self.command = [facts["LAB_SLUICECTL"], "--socket", facts["LAB_LB_API_SOCKET"],
                        "--timeout", "2"]

    def status(self):
        out = subprocess.run(self.command + ["status", "--json"], capture_output=True, text=True,
                             timeout=10)
        return json.loads(out.stdout) if out.returncode == 0 else None

    def serving(self, vip, address):
        """True/False: whether the backend serves (is not down) in the state the dataplanes run;
        None: unknown."""
        s = self.status()
        if not s or not all(d["reachable"] and d["in_sync"] for d in s["dataplanes"]):
            return None
        for v in s["vips"]:
            if v["vip"] == vip:
                for b in v["backends"]:
                    if b["address"] == address:
                        return b["state"] != "down"
        return None

    def wait_serving(self, vip, address, wanted, timeout_s):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.serving(vip, address) is wanted:
                return time.time()
            time.sleep(0.05)
        return None


def phase_rows(requests, backends, stopped_at, detected_at):
    phases = [("before the stop", lambda t: t < stopped_at),
              ("stop -> detection", lambda t: stopped_at <= t < detected_at),
              ("after detection", lambda t: t >= detected_at)]
    rows = []
    for name, selected in phases:
        chosen = [r for r in requests if selected(r["t"])]
        row = {"phase": name, "requests": len(chosen),
               "failed": sum(1 for r in chosen if "error" in r)}
        for be in backends:
            row[be] = sum(1 for r in chosen if r.get("backend") == be)
        rows.append(row)
    return rows


def print_table(rows, backends):
    header = ["", "REQUESTS", "FAILED", "FAILED %"] + [be.upper() for be in backends]
    lines = [header]
    for r in rows:
        pct = 100.0 * r["failed"] / r["requests"] if r["requests"] else 0.0
        lines.append([r["phase"], str(r["requests"]), str(r["failed"]), f"{pct:.1f}%"] +
                     [str(r[be]) for be in backends])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  " + "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                               for i, (cell, w) in enumerate(zip(line, widths))))


def plot(path, requests, backends, start, stopped_at, detected_at):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("  (no plot: python3-matplotlib is not installed)")
        return
    bucket = 0.25
    end = max(r["t"] for r in requests)
    n = int((end - start) / bucket) + 1
    xs = [i * bucket for i in range(n)]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for be in backends + ["failed"]:
        counts = [0] * n
        for r in requests:
            hit = ("error" in r) if be == "failed" else r.get("backend") == be
            if hit:
                counts[int((r["t"] - start) / bucket)] += 1
        ax.plot(xs, [c / bucket for c in counts], label=be, drawstyle="steps-post",
                linestyle="--" if be == "failed" else "-")
    ax.axvline(stopped_at - start, color="red", linewidth=1)
    ax.axvline(detected_at - start, color="green", linewidth=1)
    ax.text(stopped_at - start, ax.get_ylim()[1] * 0.95, " stopped", color="red")
    ax.text(detected_at - start, ax.get_ylim()[1] * 0.85, " down", color="green")
    ax.set_xlabel("seconds")
    ax.set_ylabel("new connections per second")
    ax.set_title("Sluice lab: a backend dies under traffic")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"  plot: {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="be2")
    parser.add_argument("--rate", type=int, default=300, help="new connections per second")
    parser.add_argument("--before", type=float, default=3, help="seconds of traffic before the stop")
    parser.add_argument("--after", type=float, default=4, help="seconds of traffic after the bound")
    parser.add_argument("--workdir", default="/tmp")
    parser.add_argument("--json", help="write the numbers here")
    parser.add_argument("--plot", help="PNG of new connections per backend over time")
    args = parser.parse_args()

    facts = lab_facts()
    backends = facts["LAB_BACKENDS"].split()
    address = dict(zip(backends, facts["LAB_BACKEND_ADDR4"].split()))[args.backend]
    vip = f"{facts['LAB_VIP4']}:{facts['LAB_HTTP_PORT']}/tcp"
    hc = {k: int(facts[f"LAB_HC_{k}"]) for k in ("INTERVAL_MS", "TIMEOUT_MS", "FALL", "RISE")}
    bound_s = (hc["FALL"] * hc["INTERVAL_MS"] + hc["TIMEOUT_MS"]) / 1000
    cp = ControlPlane(facts)
    if cp.serving(vip, address) is not True:
        sys.exit(f"{args.backend} ({address}) is not in service: is the lab up?")

    jsonl = os.path.join(args.workdir, "dead-backend-requests.jsonl")
    duration = args.before + bound_s + args.after
    client = [os.path.join(HERE, "lab_client.py"), "http", "--target", facts["LAB_VIP4"],
              "--count", str(int(args.rate * duration)), "--concurrency", "4",
              "--rate", str(args.rate), "--duration", str(duration), "--jsonl", jsonl]
    start = time.time()
    traffic = subprocess.Popen(["ip", "netns", "exec", facts["LAB_NS_CLIENT"], *client],
                               stdout=subprocess.PIPE, text=True)
    time.sleep(args.before)
    stopped_at = time.time()
    subprocess.run([LAB, "server", args.backend, "stop"], check=True, capture_output=True)
    detected_at = cp.wait_serving(vip, address, False, bound_s + 5)
    traffic.communicate(timeout=duration + 60)
    if detected_at is None:
        sys.exit(f"{args.backend} was not taken out within {bound_s + 5:.1f} s")

    with open(jsonl) as f:
        requests = [json.loads(line) for line in f]
    rows = phase_rows(requests, backends, stopped_at, detected_at)
    failures = [r for r in requests if "error" in r]
    last_failure_s = max((r["t"] for r in failures), default=stopped_at) - stopped_at
    detection_s = detected_at - stopped_at
    print(f"  {args.backend} ({address}) stopped {stopped_at - start:.2f} s into "
          f"{len(requests)} new connections at {args.rate}/s")
    print(f"  detection: down in the dataplane's state {detection_s:.2f} s after the stop "
          f"(bound: fall {hc['FALL']} x {hc['INTERVAL_MS']} ms + timeout {hc['TIMEOUT_MS']} ms "
          f"= {bound_s:.2f} s); last failed connection started {last_failure_s:.2f} s after it")
    print_table(rows, backends)
    print(f"  failed after detection: {rows[2]['failed']} of {rows[2]['requests']}")
    if args.plot:
        plot(args.plot, requests, backends, start, stopped_at, detected_at)

    restarted_at = time.time()
    subprocess.run([LAB, "server", args.backend, "start"], check=True, capture_output=True)
    back_at = cp.wait_serving(vip, address, True, (hc["RISE"] + 1) * hc["INTERVAL_MS"] / 1000 + 5)
    if back_at is None:
        sys.exit(f"{args.backend} did not come back")
    print(f"  {args.backend} started again: up in the dataplane's state again after "
          f"{back_at - restarted_at:.2f} s (rise {hc['RISE']} x {hc['INTERVAL_MS']} ms)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"detection_s": round(detection_s, 3), "bound_s": bound_s,
                       "last_failure_s": round(last_failure_s, 3),
                       "recovery_s": round(back_at - restarted_at, 3), "phases": rows}, f)
    return 0 if rows[2]["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

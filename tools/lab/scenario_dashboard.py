#!/usr/bin/python3
"""The Grafana dashboard's panels (docs/grafana/sluice-dashboard.json), drawn from a lab run:
steady new HTTP connections through the IPv4 VIP while a backend goes slow and comes back, the
control plane's /metrics scraped every --scrape-interval seconds, then plotted with matplotlib
(docs/grafana/lab-dashboard.png). Needs a single-host lab that is up (tools/lab/lab up).

Phases (--phases, "SECONDS:MODE" after the start, MODE as for `lab server BE ...`): by default
be1 normal, then `slow 120` (its checks take 120 ms: latency rises, it stays up), then
`slow 400` (beyond the checks' 200 ms timeout: it is taken down, its share moves), then normal.
--json FILE writes the scraped samples; --from-json FILE --plot PNG draws them again.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LAB = os.path.join(HERE, "lab")
CLIENT = os.path.join(HERE, "lab_client.py")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
KEEP = ("sluice_vip_packets_total", "sluice_vip_bytes_total", "sluice_backend_new_flows_total",
        "sluice_backend_active_flows", "sluice_drops_total", "sluice_backend_healthy",
        "sluice_backend_state", "sluice_backend_weight", "sluice_backend_effective_weight",
        "sluice_health_check_duration_seconds_bucket")


def lab_facts():
    out = subprocess.run([LAB, "env"], check=True, capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def scrape(facts):
    """{(name, ((label, value), ...)): value} of the metrics the plot uses."""
    out = subprocess.run(["ip", "netns", "exec", facts["LAB_NS_LB"], "curl", "-s", "--max-time",
                          "2", f"http://{facts['LAB_LB_METRICS']}/metrics"],
                         capture_output=True, text=True, timeout=5).stdout
    samples = {}
    for line in out.splitlines():
        m = SAMPLE.match(line)
        if not m or m.group(1) not in KEEP:
            continue
        labels = tuple(sorted(LABEL.findall(m.group(2) or "")))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


def series(scrapes, name, group, where=lambda labels: True):
    """{group key: [value per scrape]} of `name`, summed over the labels not in `group`."""
    out = {}
    for i, (_, samples) in enumerate(scrapes):
        for (n, labels), value in samples.items():
            d = dict(labels)
            if n != name or not where(d):
                continue
            key = tuple(d.get(g, "") for g in group)
            values = out.setdefault(key, [None] * len(scrapes))
            values[i] = (values[i] or 0) + value
    return out


def poll_moments(scrapes):
    """Indices of the scrapes that carry new dataplane counters: the control plane refreshes
    them about once a second, so a scrape in between repeats the last values and would make a
    sawtooth of every rate."""
    moments, last = [], None
    for i, (_, samples) in enumerate(scrapes):
        key = tuple(sorted((k, v) for k, v in samples.items()
                           if k[0] in ("sluice_vip_packets_total", "sluice_drops_total")))
        if key != last:
            moments.append(i)
        last = key
    return moments


def rate(times, values, window_s, moments):
    """(times, per-second increase over >= window_s) at the poll moments."""
    xs, ys = [], []
    for k, i in enumerate(moments):
        earlier = [j for j in moments[:k] if times[j] <= times[i] - window_s]
        if not earlier or values[i] is None or values[earlier[-1]] is None:
            continue
        j = earlier[-1]
        xs.append(times[i])
        ys.append(max(0.0, values[i] - values[j]) / (times[i] - times[j]))
    return xs, ys


def quantile(buckets, q):
    """histogram_quantile over [(le, count)] (le sorted, +Inf last), linear in the bucket."""
    total = buckets[-1][1] if buckets else 0
    if total <= 0:
        return None
    rank = q * total
    lower_le, lower_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if le == float("inf"):
                return lower_le
            return lower_le + (le - lower_le) * (rank - lower_count) / max(count - lower_count, 1e-9)
        lower_le, lower_count = le, count
    return lower_le


def check_latency(times, scrapes, vip, window_s, q):
    """{backend: [seconds]}: the q-quantile of the successful checks in the last window."""
    per = {}
    for i, (_, samples) in enumerate(scrapes):
        for (n, labels), value in samples.items():
            d = dict(labels)
            if n == "sluice_health_check_duration_seconds_bucket" and d.get("vip") == vip:
                per.setdefault(d["backend"], [dict() for _ in scrapes])[i][float(d["le"])] = value
    out = {}
    for backend, counts in per.items():
        values = []
        j = 0
        for i, t in enumerate(times):
            while times[j] < t - window_s:
                j += 1
            if j == i:
                values.append(None)
                continue
            buckets = [(le, counts[i][le] - counts[j].get(le, 0)) for le in sorted(counts[i])]
            v = quantile(buckets, q)
            values.append(v * 1000 if v is not None else None)
        out[backend] = values
    return out


def plot(path, times, scrapes, facts, phases, backend_names, window_s):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    vip = f"{facts['LAB_VIP4']}:{facts['LAB_HTTP_PORT']}/tcp"
    names = dict(zip(facts["LAB_BACKEND_ADDR4"].split(), facts["LAB_BACKENDS"].split()))
    t0 = times[0]
    x = [t - t0 for t in times]
    fig, axes = plt.subplots(3, 2, figsize=(14, 11), sharex=True)
    on_vip = lambda d: d.get("vip") == vip  # noqa: E731
    moments = poll_moments(scrapes)

    def shade(ax):
        for k, (start, mode) in enumerate(phases):
            end = phases[k + 1][0] if k + 1 < len(phases) else x[-1]
            if mode != "normal":
                ax.axvspan(start, end, color="orange" if "400" not in mode else "red", alpha=0.12)
                ax.text(start + 0.2, 0.97, f"{backend_names} {mode}", transform=ax.get_xaxis_transform(),
                        va="top", fontsize=8)
        ax.grid(alpha=0.3)

    ax = axes[0][0]
    for (v,), values in sorted(series(scrapes, "sluice_vip_packets_total", ("vip",)).items()):
        rx, ry = rate(times, values, window_s, moments)
        ax.plot([t - t0 for t in rx], ry, label=v)
    ax.set_ylim(bottom=0)
    ax.set_title("Throughput (packets/s per VIP)")
    ax.legend(fontsize=8)

    ax = axes[0][1]
    flows = series(scrapes, "sluice_backend_new_flows_total", ("backend",), on_vip)
    for (b,), values in sorted(flows.items()):
        rx, ry = rate(times, values, window_s, moments)
        ax.plot([t - t0 for t in rx], ry, label=f"{names.get(b, b)} {b}")
    ax.set_title(f"New flows/s per backend ({vip})")
    ax.legend(fontsize=8)

    ax = axes[1][0]
    drops = series(scrapes, "sluice_drops_total", ("reason",))
    plotted = False
    for (reason,), values in sorted(drops.items()):
        rx, ry = rate(times, values, window_s, moments)
        if any(ry):
            ax.plot([t - t0 for t in rx], ry, label=reason)
            plotted = True
    ax.set_title("Drops by reason (packets/s)")
    if plotted:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no drops", transform=ax.transAxes, ha="center")

    ax = axes[1][1]
    healthy = series(scrapes, "sluice_backend_healthy", ("backend",), on_vip)
    up = series(scrapes, "sluice_backend_state", ("backend",),
                lambda d: on_vip(d) and d.get("state") == "up")
    for k, ((b,), values) in enumerate(sorted(healthy.items())):
        offset = 1.5 * k
        ax.step(x, [None if v is None else v + offset for v in values], where="post",
                label=f"{names.get(b, b)} healthy")
        ax.step(x, [None if v is None else v * 0.8 + offset for v in up.get((b,), [])],
                where="post", linestyle="--", label=f"{names.get(b, b)} state up")
    ax.set_yticks([1.5 * k + 0.5 for k in range(len(healthy))],
                  [names.get(b, b) for (b,) in sorted(healthy)])
    ax.set_title("Health (solid: checks pass) and pushed state (dashed: up)")
    ax.legend(fontsize=7, ncol=3)

    ax = axes[2][0]
    effective = series(scrapes, "sluice_backend_effective_weight", ("backend",), on_vip)
    configured = series(scrapes, "sluice_backend_weight", ("backend",), on_vip)
    for (b,), values in sorted(effective.items()):
        line = ax.step(x, values, where="post", label=f"{names.get(b, b)} effective")[0]
        ax.step(x, configured.get((b,), []), where="post", linestyle=":", color=line.get_color(),
                label=f"{names.get(b, b)} configured")
    ax.set_title("Configured (dotted) and effective weight")
    ax.set_xlabel("seconds")
    ax.legend(fontsize=7, ncol=3)

    ax = axes[2][1]
    for q, style in ((0.5, "-"), (0.99, "--")):
        for b, values in sorted(check_latency(times, scrapes, vip, 2.0, q).items()):
            ax.plot(x, values, style, label=f"{names.get(b, b)} p{int(q * 100)}")
    ax.set_title("Health-check latency, successful checks (ms, last 2 s)")
    ax.set_xlabel("seconds")
    ax.legend(fontsize=7, ncol=3)

    for row in axes:
        for ax in row:
            shade(ax)
    fig.suptitle("Sluice lab: the dashboard's panels from /metrics, scraped every "
                 f"{times[1] - times[0]:.1f} s ({backend_names} slow, then back)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f"plot: {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="be1")
    parser.add_argument("--rate", type=float, default=150, help="new connections per second")
    parser.add_argument("--phases", default="8:slow 120,16:slow 400,24:normal")
    parser.add_argument("--duration", type=float, default=32)
    parser.add_argument("--scrape-interval", type=float, default=0.5)
    parser.add_argument("--rate-window", type=float, default=3.0, help="seconds")
    parser.add_argument("--plot", help="PNG to write")
    parser.add_argument("--json", help="samples to write")
    parser.add_argument("--from-json", help="plot the samples of an earlier run (no traffic)")
    args = parser.parse_args()
    if args.from_json:
        with open(args.from_json) as f:
            saved = json.load(f)
        scrapes = [(t, {(n, tuple(map(tuple, labels))): v for n, labels, v in s})
                   for t, s in zip(saved["times"], saved["samples"])]
        plot(args.plot, saved["times"], scrapes, saved["facts"],
             [tuple(p) for p in saved["phases"]], saved["backend"], args.rate_window)
        return 0
    facts = lab_facts()
    if facts.get("LAB_TIER") == "1":
        sys.exit("scenario_dashboard: a single-host lab only")
    phases = [(0.0, "normal")]
    for item in args.phases.split(","):
        at, mode = item.split(":", 1)
        phases.append((float(at), mode.strip()))
    duration = min(args.duration, 600)

    subprocess.run([LAB, "server", args.backend, "normal"], check=True, capture_output=True)
    traffic = subprocess.Popen(
        ["ip", "netns", "exec", facts["LAB_NS_CLIENT"], "/usr/bin/python3", CLIENT, "http",
         "--target", facts["LAB_VIP4"], "--count", str(int(args.rate * duration) + 10),
         "--rate", str(args.rate), "--concurrency", "24", "--duration", str(duration),
         "--timeout", "5"], stdout=subprocess.PIPE, text=True)
    times, scrapes = [], []
    start = time.time()
    pending = phases[1:]
    try:
        while time.time() - start < duration:
            now = time.time()
            if pending and now - start >= pending[0][0]:
                _, mode = pending.pop(0)
                subprocess.run([LAB, "server", args.backend, *mode.split()], check=True,
                               capture_output=True)
                print(f"{now - start:5.1f} s: {args.backend} {mode}", flush=True)
            samples = scrape(facts)
            if samples:
                times.append(now)
                scrapes.append((now, samples))
            time.sleep(max(0.0, args.scrape_interval - (time.time() - now)))
    finally:
        subprocess.run([LAB, "server", args.backend, "normal"], check=False, capture_output=True)
        if traffic.poll() is None:
            traffic.send_signal(signal.SIGTERM)
        out, _ = traffic.communicate(timeout=60)
    summary = json.loads(out) if out.strip() else {}
    print(f"traffic: {json.dumps({k: v for k, v in summary.items() if not isinstance(v, (list, dict))})}")
    print(f"{len(scrapes)} scrapes of /metrics")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"phases": phases, "times": times, "facts": facts, "backend": args.backend,
                       "samples": [[[n, list(map(list, labels)), v] for (n, labels), v in s.items()]
                                   for _, s in scrapes]}, f)
    if args.plot and len(scrapes) > 2:
        plot(args.plot, times, scrapes, facts, phases, args.backend, args.rate_window)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The tier lab (`tools/lab/lab up --hosts N`) as a test fixture, on top of labfixture: N LB
hosts behind the router's BIRD2 (eBGP + BFD, one multipath route per VIP), etcd, the backends.
Adds per-host commands (`lab host kill|freeze|thaw|start|ctl N`), the router's view of the VIP
route (which hosts it points at) and a watcher that polls that route every 20 ms and records
every change with its time, so a test can say how long the router took to drop a host.

Like labfixture.main, tier_main always tears the lab down (also on meson's SIGTERM)."""
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labfixture import SKIP, Lab, log, run_against  # noqa: E402,F401


class TierLab(Lab):
    def __init__(self, name, hosts):
        super().__init__(name)
        self.hosts_at_start = hosts
        self.router_ns = self.facts["LAB_NS_ROUTER"]

    def refresh(self):
        """Reads `lab env` again (host lists grow with `host start`)."""
        out = self.lab("env").stdout
        self.facts = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        f = self.facts
        self.hosts = [int(h) for h in f.get("LAB_HOSTS", "").split()]
        self.host_addr4 = dict(zip(self.hosts, f.get("LAB_HOST_ADDR4", "").split()))
        self.host_addr6 = dict(zip(self.hosts, f.get("LAB_HOST_ADDR6", "").split()))
        self.host_ns = dict(zip(self.hosts, f.get("LAB_HOST_NS", "").split()))
        self.announces = f.get("LAB_TIER_ANNOUNCES") == "1"
        self.uses_etcd = f.get("LAB_TIER_ETCD") == "1"

    def up(self):
        log(f"lab up --hosts {self.hosts_at_start}")
        result = self.lab("up", "--hosts", str(self.hosts_at_start), check=False, timeout=240)
        if result.returncode != 0:
            raise RuntimeError(f"lab up --hosts failed:\n{result.stdout}{result.stderr}")
        self.refresh()

    def print_logs(self, lines=40):
        """The tail of every log of the tier (the hosts' and etcd's live in subdirectories)."""
        run_dir = self.facts["LAB_RUN_DIR"]
        for root, _, names in sorted(os.walk(run_dir)):
            for name in sorted(names):
                if name.endswith(".log"):
                    path = os.path.join(root, name)
                    with open(path, errors="replace") as f:
                        tail = f.readlines()[-lines:]
                    print(f"--- {os.path.relpath(path, run_dir)} (last {len(tail)} lines)\n"
                          f"{''.join(tail)}", flush=True)

    # Hosts.
    def host(self, action, i, *args, timeout=120):
        result = self.lab("host", action, str(i), *args, timeout=timeout)
        if action == "start":
            self.refresh()
        return result

    def host_ctl(self, i, *args, timeout=30):
        return self.host("ctl", i, *args, timeout=timeout)

    def host_status(self, i):
        return json.loads(self.host_ctl(i, "status", "--json").stdout)

    def host_vip_active_flows(self, i, vip):
        s = self.host_status(i)
        return next(v for v in s["vips"] if v["vip"] == vip).get("active_flows", 0)

    # The router.
    def route_hosts(self, family=4):
        """The hosts the router's route to the VIP points at (a frozenset of host numbers)."""
        vip = self.vip6 if family == 6 else self.vip4
        prefix = "128" if family == 6 else "32"
        out = subprocess.run(["ip", "-n", self.router_ns, f"-{family}", "-j", "route", "show",
                              f"{vip}/{prefix}"], check=True, capture_output=True, text=True,
                             timeout=10).stdout
        addresses = self.host_addr6 if family == 6 else self.host_addr4
        by_address = {a: h for h, a in addresses.items()}
        hosts = set()
        for route in json.loads(out or "[]"):
            for hop in [route] + route.get("nexthops", []):
                if hop.get("gateway") in by_address:
                    hosts.add(by_address[hop["gateway"]])
        return frozenset(hosts)

    def bird_router(self, *args):
        return subprocess.run(["ip", "netns", "exec", self.router_ns, "birdc", "-s",
                               self.facts["LAB_ROUTER_BIRD_SOCKET"], *args], check=False,
                              capture_output=True, text=True, timeout=10).stdout


class NewConnections:
    """lab_client.py http at a steady rate in the background; `window(t0, t1)` analyses the
    requests that started in [t0, t1)."""

    def __init__(self, lab, workdir, rate=50, slow_ms=500):
        self.rate, self.slow_ms = rate, slow_ms
        self.lab = lab
        self.jsonl = os.path.join(workdir, f"new-{time.monotonic_ns()}.jsonl")
        self.process = lab.client_background(
            "http", "--target", lab.vip4, "--rate", str(rate), "--concurrency", "16",
            "--count", "1000000", "--duration", "600", "--timeout", "3",
            "--slow-ms", str(slow_ms), "--jsonl", self.jsonl)
        self.summary = None

    def stop(self):
        self.process.terminate()
        out, _ = self.process.communicate(timeout=30)
        self.summary = json.loads(out)
        with open(self.jsonl) as f:
            self.rows = [json.loads(line) for line in f if line.strip()]
        return self.summary

    def window(self, t0, t1):
        rows = [r for r in self.rows if t0 <= r["t"] < t1]
        bad = [r for r in rows if "error" in r or r["ms"] > self.slow_ms]
        span = 0.0
        if bad:
            span = max(r["t"] + r["ms"] / 1000 for r in bad) - min(r["t"] for r in bad)
        return {"requests": len(rows), "failed": sum(1 for r in rows if "error" in r),
                "slow": sum(1 for r in rows if "error" not in r and r["ms"] > self.slow_ms),
                "disrupted_s": round(span, 3),
                "backends": sorted({r["backend"] for r in rows if "backend" in r})}


class RouteWatcher:
    """Polls the router's route to the IPv4 VIP every `interval_s` in a thread, for the duration
    of a `with` block, and records (time, hosts) at every change."""

    def __init__(self, lab, interval_s=0.02):
        self.lab, self.interval_s = lab, interval_s
        self.changes = []  # [(epoch s, frozenset of hosts)]
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def __enter__(self):
        self.changes.append((time.time(), self.lab.route_hosts()))
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)
        return False

    def run(self):
        while not self.stop.wait(self.interval_s):
            try:
                hosts = self.lab.route_hosts()
            except (subprocess.SubprocessError, json.JSONDecodeError):
                continue
            with self.lock:
                if hosts != self.changes[-1][1]:
                    self.changes.append((time.time(), hosts))

    def current(self):
        with self.lock:
            return self.changes[-1][1]

    def wait_for(self, what, predicate, since, timeout_s):
        """The first time at or after `since` at which the route satisfied `predicate`
        (bounded wait); raises AssertionError on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self.lock:
                for i, (t, hosts) in enumerate(self.changes):
                    next_t = self.changes[i + 1][0] if i + 1 < len(self.changes) else None
                    if predicate(hosts) and (next_t is None or next_t >= since):
                        return max(t, since)
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s} s waiting for {what}; "
                                     f"route history: {self.history()}")
            time.sleep(self.interval_s)

    def history(self):
        with self.lock:
            t0 = self.changes[0][0]
            return [(round(t - t0, 3), sorted(h)) for t, h in self.changes]


def tier_main(name, test_cases, hosts=3):
    """Runs `test_cases` against one tier lab of `hosts` LB hosts, always torn down."""

    def skip_reason(lab):
        if lab.announces:
            return None
        return ("this sluice-controlplane has no controlplane.bgp (nothing announces the VIPs "
                "to the router)")

    def on_failure(lab):
        print(lab.lab("status", check=False).stdout, flush=True)

    return run_against(TierLab(name, hosts), test_cases, skip_reason, on_failure)

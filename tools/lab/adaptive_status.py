#!/usr/bin/python3
"""The control plane's view of adaptive weights over time, for the lab's tests and scenarios
(tests/e2e/test_adaptive_weights.py, tools/lab/scenario_adaptive.py): `sluicectl status --json`
polled on a thread every `interval` seconds, keeping per adaptive VIP and backend the weight
fields (docs/adaptive-weights.md) and per VIP the publication counters."""
import json
import subprocess
import threading
import time

BACKEND_FIELDS = ("weight_percent", "weight_reason", "passive_out", "state", "health", "agent",
                  "effective_weight", "syn_retransmits_per_s", "syns_per_s", "new_flows_per_s")


class Poller(threading.Thread):
    """samples: [(epoch s, {vip: {"backends": {be: {...}}, "publications", "slots_moved"}})];
    backends are named by `names` ({address: "be1"}), p50/p99/ewma from check_latency_ms."""

    def __init__(self, sluicectl, socket_path, vips, names, interval=0.1, max_s=900):
        super().__init__(daemon=True)
        self.command = [sluicectl, "--socket", socket_path, "--timeout", "2", "status", "--json"]
        self.vips = set(vips)
        self.names = names
        self.interval = interval
        self.max_s = max_s
        self.samples = []
        self.lock = threading.Lock()
        self.stopped = threading.Event()

    def sample(self):
        out = subprocess.run(self.command, capture_output=True, text=True, timeout=10)
        if out.returncode != 0:
            return None
        view = {}
        for v in json.loads(out.stdout)["vips"]:
            if v["vip"] not in self.vips:
                continue
            backends = {}
            for b in v["backends"]:
                row = {k: b.get(k) for k in BACKEND_FIELDS}
                latency = b.get("check_latency_ms") or {}
                row.update(p50=latency.get("p50"), p99=latency.get("p99"), ewma=latency.get("ewma"))
                backends[self.names.get(b["address"], b["address"])] = row
            view[v["vip"]] = {"backends": backends, "publications": v.get("weight_publications"),
                              "slots_moved": v.get("weight_slots_moved")}
        return view

    def run(self):
        deadline = time.monotonic() + self.max_s
        while not self.stopped.is_set() and time.monotonic() < deadline:
            t = time.time()
            try:
                view = self.sample()
            except (subprocess.SubprocessError, json.JSONDecodeError, KeyError):
                view = None
            if view:
                with self.lock:
                    self.samples.append((t, view))
            self.stopped.wait(self.interval)

    def stop(self):
        self.stopped.set()
        self.join(15)

    def latest(self):
        with self.lock:
            return self.samples[-1] if self.samples else (None, None)

    def since(self, t0):
        with self.lock:
            return [(t, v) for t, v in self.samples if t >= t0]

    def wait(self, what, predicate, timeout_s, after=0.0):
        """The time of the first sample taken at or after `after` for which predicate(view)
        holds (samples already taken count); raises AssertionError after timeout_s."""
        deadline = time.monotonic() + timeout_s
        seen = 0
        while time.monotonic() < deadline:
            with self.lock:
                new = self.samples[seen:]
                seen = len(self.samples)
            for t, view in new:
                if t >= after:
                    try:
                        if predicate(view):
                            return t
                    except (KeyError, TypeError):
                        pass
            time.sleep(0.02)
        raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")

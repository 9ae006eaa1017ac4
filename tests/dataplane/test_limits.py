#!/usr/bin/python3
"""A state at the documented limits on the real sluice-dataplane under traffic (net_pcap
infinite_rx into net_null, --no-huge): 4096 VIPs with 4 backends each (16384 backends, the
dataplane's limit of stable backend ids; Maglev tables of the default 65537 slots, about 1.2 GB
for the two snapshots of a swap) is accepted within a bounded, measured time while the worker
keeps forwarding (its longest loop gap, get_counters max_loop_gap_ns, stays far below the build
time; telemetry, which has its own thread, watches packets flow during the build); a change of
one VIP and a same-content resync are fast; one VIP or one backend past the limit is refused
naming the limit, and the running state stays as it was."""

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ControlClient, Dataplane, nonzero_drops, summary,  # noqa: E402
                     telemetry_query, write_yaml)

ARGS = None
MAX_VIPS = 4096
MAX_BACKENDS = 16384  # lib/sluice/limits.hpp kMaxBackends
PER_VIP = MAX_BACKENDS // MAX_VIPS
VIP0 = "198.18.0.10:80/tcp"
# Bounds. Measured on the 2-core lab VM (load average 9-12 from other builds): the full state's
# build takes about 5.5 s of CPU and 20-30 s of wall time there. A worker that waited for the
# build would show a gap of seconds; preemption by other processes on its core shows up as
# milliseconds.
FULL_PUSH_BOUND_S = 90.0
SMALL_PUSH_BOUND_S = 10.0
WORKER_GAP_BOUND_NS = 250_000_000


def dataplane_settings():
    return {"next_hop_mac": "02:00:00:00:00:fe", "tunnel_source_v4": "198.18.0.1",
            "flow_table_entries": 65536}


def vip(i, backends):
    # VIP 0 carries sluice-flowgen's traffic; the others sit on 10.0.0.0/12, backends on
    # 10.128.0.0/12.
    address = "198.18.0.10" if i == 0 else f"10.{i // 256}.{i % 256}.1"
    if i == 0:
        addresses = ["198.18.1.1", "198.18.1.2"] + [f"198.18.1.{k + 3}" for k in range(backends - 2)]
    else:
        addresses = [f"10.{128 + i // 256}.{i % 256}.{k + 1}" for k in range(backends)]
    return {"address": address, "port": 80, "protocol": "tcp",
            "backends": [{"address": a, "weight": 1} for a in addresses]}


def limits_state(generation, vips=MAX_VIPS, per_vip=PER_VIP):
    return {"generation": generation, "dataplane": dataplane_settings(),
            "vips": [vip(i, per_vip) for i in range(vips)]}


def max_gaps(counters):
    return {l["lcore"]: l["max_loop_gap_ns"] for l in counters["per_lcore"]}


class Limits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="sl-dp-limits-")
        d = cls.tmp.name
        pcap = os.path.join(d, "flows.pcap")
        subprocess.run([ARGS.flowgen, "--out", pcap, "--flows", "1000"], check=True,
                       stdout=subprocess.DEVNULL)
        start = {"generation": 1, "dataplane": dataplane_settings(), "vips": [vip(0, 2)]}
        config = write_yaml(os.path.join(d, "state.yaml"), start)
        cls.dp = Dataplane(ARGS.dataplane, d, "limits",
                           [f"net_pcap0,rx_pcap={pcap},infinite_rx=1", "net_null0,no-rx=1"],
                           ["--config", config, "--tx-port", "1", "--mbufs", "16383"],
                           memory_mb=512)
        cls.dp.start()
        cls.dp.wait_counters(lambda c: summary(c)["rx"] > 100000)

    @classmethod
    def tearDownClass(cls):
        cls.dp.stop()
        cls.tmp.cleanup()

    def push(self, state):
        """(reply, seconds) of one push_state on a fresh connection."""
        c = ControlClient(self.dp.socket_path, timeout=FULL_PUSH_BOUND_S + 30)
        try:
            t = time.monotonic()
            reply = c.request({"op": "push_state", "state": state})
            return reply, time.monotonic() - t
        finally:
            c.close()

    def status(self):
        reply = self.dp.request({"op": "get_status"})
        self.assertTrue(reply["ok"], reply)
        return reply

    def assert_forwarding(self):
        before = summary(self.dp.counters())["tx"]
        time.sleep(0.2)
        after = self.dp.counters()
        self.assertGreater(summary(after)["tx"], before)
        self.assertEqual(nonzero_drops(after), {})

    def test_1_the_full_state_is_accepted_while_the_worker_forwards(self):
        before = self.dp.counters()
        gaps_before = max_gaps(before)
        # Telemetry answers from its own thread while the control thread builds: sample the
        # packets the worker sends during the build.
        samples, stop = [], threading.Event()

        def watch():
            while not stop.is_set():
                try:
                    t = telemetry_query(self.dp.prefix, "/sluice/counters")["/sluice/counters"]
                    samples.append((time.monotonic(), t["tx_packets"]))
                except (OSError, ValueError, KeyError):
                    pass
                time.sleep(0.1)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            reply, seconds = self.push(limits_state(2))
        finally:
            stop.set()
            watcher.join()
        self.assertTrue(reply.get("ok"), reply)
        after = self.dp.counters()
        gaps_after = max_gaps(after)
        stalls = [b[0] - a[0] for a, b in zip(samples, samples[1:]) if b[1] == a[1]]
        print(f"\n{MAX_VIPS} VIPs x {PER_VIP} backends (Maglev 65537): accepted in {seconds:.2f} s; "
              f"longest worker loop gap {gaps_before} ns before, {gaps_after} ns after; "
              f"{len(samples)} telemetry samples during the build, "
              f"{len(stalls)} without a packet sent")
        self.assertLess(seconds, FULL_PUSH_BOUND_S)
        self.assertEqual(self.status()["vips"], MAX_VIPS)
        self.assertEqual(after["generation"], 2)
        self.assertEqual(len(after["per_vip"]), MAX_VIPS)
        self.assertEqual(sum(len(v["per_backend"]) for v in after["per_vip"]), MAX_BACKENDS)
        for lcore, gap in gaps_after.items():
            self.assertLess(gap, WORKER_GAP_BOUND_NS, f"lcore {lcore}")
            self.assertGreater(gap, 0)
        self.assertGreater(len(samples), 2)
        self.assertEqual(stalls, [], "the worker stopped sending during the build")
        self.assertEqual(nonzero_drops(after), {})
        self.assertGreater(summary(after)["tx"], summary(before)["tx"])
        self.assert_forwarding()

    def test_2_a_change_of_one_vip_and_a_resync_are_fast(self):
        generation = self.status()["generation"]
        changed = limits_state(generation + 1)
        changed["vips"][7]["backends"][0]["weight"] = 3
        reply, one_vip = self.push(changed)
        self.assertTrue(reply.get("ok"), reply)
        resync = copy.deepcopy(changed)
        resync["generation"] = generation + 2
        reply, same = self.push(resync)  # what a restarted control plane sends
        self.assertTrue(reply.get("ok"), reply)
        gaps = max_gaps(self.dp.counters())
        print(f"\nat the limits: one VIP changed in {one_vip:.2f} s, same content resynced in "
              f"{same:.2f} s; longest worker loop gap {gaps} ns")
        self.assertLess(one_vip, SMALL_PUSH_BOUND_S)
        self.assertLess(same, SMALL_PUSH_BOUND_S)
        for gap in gaps.values():
            self.assertLess(gap, WORKER_GAP_BOUND_NS)
        self.assert_forwarding()

    def test_3_one_vip_past_the_limit_is_refused(self):
        generation = self.status()["generation"]
        reply, seconds = self.push(limits_state(generation + 1, vips=MAX_VIPS + 1))
        self.assertFalse(reply.get("ok"), reply)
        self.assertIn("vips: 4097 VIPs; the limit is 4096", reply["error"])
        print(f"\n4097 VIPs refused in {seconds:.2f} s: {reply['error'].splitlines()[0]}")
        status = self.status()
        self.assertEqual((status["generation"], status["vips"]), (generation, MAX_VIPS))
        self.assert_forwarding()

    def test_4_one_backend_past_the_limit_is_refused(self):
        generation = self.status()["generation"]
        state = limits_state(generation + 1)
        state["vips"][4095]["backends"].append({"address": "10.143.255.99", "weight": 1})
        reply, seconds = self.push(state)
        self.assertFalse(reply.get("ok"), reply)
        self.assertIn("16385 backends over all VIPs; the limit is 16384", reply["error"])
        print(f"\n16385 backends refused in {seconds:.2f} s: {reply['error'].splitlines()[0]}")
        status = self.status()
        self.assertEqual((status["generation"], status["vips"]), (generation, MAX_VIPS))
        self.assert_forwarding()

    def test_5_telemetry_shows_the_longest_gap(self):
        t = telemetry_query(self.dp.prefix, "/sluice/counters")["/sluice/counters"]
        self.assertGreater(t["max_loop_gap_ns"], 0)
        self.assertGreater(t["lcore_1"]["max_loop_gap_ns"], 0)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--dataplane", required=True)
    p.add_argument("--flowgen", required=True)
    ARGS, rest = p.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)

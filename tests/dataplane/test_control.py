#!/usr/bin/python3
"""sluice-dataplane under traffic (net_pcap infinite_rx -> net_null), driven over its control
socket and DPDK telemetry: state swaps while packets flow lose and misroute nothing, bad and
stale pushes are refused with the field named and the running generation kept, counters and
explain answer, telemetry shows the same counters, and SIGTERM stops cleanly."""

import argparse
import copy
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Dataplane, nonzero_drops, summary, telemetry_query, write_yaml  # noqa: E402

ARGS = None
VIP = "198.18.0.10:80/tcp"
FLOWS = 1000


def state(generation, backends, **dataplane):
    dp = {"next_hop_mac": "02:00:00:00:00:fe", "tunnel_source_v4": "198.18.0.1",
          "tunnel_source_v6": "2001:db8::1", "mtu": 1500, "flow_table_entries": 65536}
    dp.update(dataplane)
    return {"generation": generation, "dataplane": dp,
            "vips": [{"address": "198.18.0.10", "port": 80, "protocol": "tcp",
                      "scheduler": "maglev", "encap": "ipip",
                      "backends": [{"address": a, "weight": w} for a, w in backends]}]}


def vip_counters(c):
    for v in c["per_vip"]:
        if v["vip"] == VIP:
            return v
    raise AssertionError(f"no counters for {VIP}: {c['per_vip']}")


def per_backend(c, field):
    return {b["address"]: b[field] for b in vip_counters(c)["per_backend"]}


class ControlUnderTraffic(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="sl-dp-control-")
        d = cls.tmp.name
        cls.pcap = os.path.join(d, "flows.pcap")
        subprocess.run([ARGS.flowgen, "--out", cls.pcap, "--flows", str(FLOWS)], check=True)
        cls.config = write_yaml(os.path.join(d, "state.yaml"),
                                state(1, [("198.18.1.1", 1), ("198.18.1.2", 1)]))
        cls.dp = Dataplane(ARGS.dataplane, d, "control",
                           [f"net_pcap0,rx_pcap={cls.pcap},infinite_rx=1", "net_null0,no-rx=1"],
                           ["--config", cls.config, "--tx-port", "1", "--mbufs", "16383"])
        cls.dp.start()

    @classmethod
    def tearDownClass(cls):
        cls.dp.stop()
        cls.tmp.cleanup()

    def push(self, s):
        return self.dp.request({"op": "push_state", "state": s})

    def generation(self):
        reply = self.dp.request({"op": "get_status"})
        self.assertTrue(reply["ok"], reply)
        return reply["generation"]

    def test_1_config_loaded_and_forwarding(self):
        status = self.dp.request({"op": "get_status"})
        self.assertTrue(status["ok"], status)
        self.assertEqual(status["generation"], 1)
        self.assertEqual(status["vips"], 1)
        self.assertEqual([l["role"] for l in status["lcores"]], ["main", "worker"])
        self.assertEqual([p["driver"] for p in status["ports"]], ["net_pcap", "net_null"])
        # Every flow seen once, each pinned to one of the two backends.
        c = self.dp.wait_counters(lambda c: summary(c)["rx"] > 20 * FLOWS)
        self.assertEqual(vip_counters(c)["new_flows"], FLOWS)
        self.assertEqual(vip_counters(c)["active_flows"], FLOWS)
        flows = per_backend(c, "new_flows")
        self.assertEqual(sorted(flows), ["198.18.1.1", "198.18.1.2"])
        self.assertEqual(sum(flows.values()), FLOWS)
        self.assertTrue(all(n > FLOWS // 4 for n in flows.values()), flows)
        self.assertEqual(nonzero_drops(c), {})

    def test_2_swaps_under_traffic_keep_every_flow(self):
        before = self.dp.counters()
        backends = [("198.18.1.1", 1), ("198.18.1.2", 1)]
        generation = self.generation()
        # 20 swaps back to back while packets flow: weights change and a backend is added,
        # so the Maglev tables differ, but every existing flow must keep its backend.
        for i in range(20):
            generation += 1
            weights = [("198.18.1.1", 1 + i % 3), ("198.18.1.2", 1 + (i + 1) % 3),
                       ("198.18.1.3", 1)]
            reply = self.push(state(generation, weights if i % 2 else backends))
            self.assertTrue(reply["ok"], reply)
            self.assertEqual(reply["generation"], generation)
        after = self.dp.wait_counters(lambda c: summary(c)["rx"] > summary(before)["rx"] + 20 * FLOWS)
        self.assertEqual(self.generation(), generation)
        self.assertGreater(summary(after)["rx"], summary(before)["rx"])  # traffic during swaps
        self.assertEqual(nonzero_drops(after), {})
        self.assertEqual(vip_counters(after)["new_flows"], FLOWS)  # nobody rescheduled
        moved = per_backend(after, "new_flows")
        self.assertEqual(moved.pop("198.18.1.3", 0), 0)  # added late: no existing flow went there
        self.assertEqual(moved, per_backend(before, "new_flows"))

    def test_3_invalid_push_is_refused_naming_the_field(self):
        generation = self.generation()
        bad = state(generation + 1, [("198.18.1.1", 70000), ("198.18.1.2", 1)])
        reply = self.push(bad)
        self.assertFalse(reply["ok"], reply)
        self.assertIn("vips[0].backends[0].weight", reply["error"])
        self.assertEqual(self.generation(), generation)

        bad = state(generation + 1, [("198.18.1.1", 1)])
        bad["vips"][0]["address"] = "198.18.0.300"
        reply = self.push(bad)
        self.assertFalse(reply["ok"], reply)
        self.assertIn("vips[0].address", reply["error"])
        self.assertEqual(self.generation(), generation)

    def test_4_stale_generation_is_refused(self):
        generation = self.generation()
        reply = self.push(state(generation - 1, [("198.18.1.9", 1)]))
        self.assertFalse(reply["ok"], reply)
        self.assertIn("generation", reply["error"])
        self.assertEqual(self.generation(), generation)
        # Still forwarding with the running state, to the running backends only.
        c = self.dp.counters()
        self.assertNotIn("198.18.1.9", per_backend(c, "packets"))
        self.assertEqual(nonzero_drops(c), {})

    def test_5_unknown_op_is_an_error_not_a_crash(self):
        reply = self.dp.request({"op": "reboot"})
        self.assertFalse(reply["ok"], reply)
        self.assertTrue(reply["error"])

    def test_6_explain(self):
        # Flow 5 of sluice-flowgen: 198.19.0.5:1024 -> VIP; it is in the flow table.
        reply = self.dp.request({"op": "explain", "flow": {
            "src": "198.19.0.5", "dst": "198.18.0.10", "src_port": 1024, "dst_port": 80,
            "protocol": "tcp"}})
        self.assertTrue(reply["ok"], reply)
        self.assertEqual(reply["vip"], VIP)
        self.assertEqual(reply["source"], "flow_table")
        self.assertIn(reply["backend"], ["198.18.1.1", "198.18.1.2", "198.18.1.3"])
        # A flow never seen: what the scheduler would choose.
        reply = self.dp.request({"op": "explain", "flow": {
            "src": "198.19.250.1", "dst": "198.18.0.10", "src_port": 9999, "dst_port": 80,
            "protocol": "tcp"}})
        self.assertTrue(reply["ok"], reply)
        self.assertEqual(reply["source"], "scheduler")
        self.assertTrue(reply["backend"])
        # Not a VIP.
        reply = self.dp.request({"op": "explain", "flow": {
            "src": "198.19.0.5", "dst": "198.18.0.99", "src_port": 1024, "dst_port": 80,
            "protocol": "tcp"}})
        self.assertTrue(reply["ok"], reply)
        self.assertEqual(reply["source"], "none")
        self.assertEqual(reply["backend"], "")

    def test_7_removed_backend_flows_move_drained_keep(self):
        generation = self.generation() + 1
        # 198.18.1.1 drained (weight 0: keeps its flows), 198.18.1.2 removed (its flows move to
        # the only backend taking new flows, 198.18.1.3).
        before = self.dp.counters()
        reply = self.push(state(generation, [("198.18.1.1", 0), ("198.18.1.3", 1)]))
        self.assertTrue(reply["ok"], reply)
        p0 = per_backend(before, "packets")
        after = self.dp.wait_counters(
            lambda c: per_backend(c, "packets").get("198.18.1.3", 0) > p0.get("198.18.1.3", 0) + 10 * FLOWS
            and per_backend(c, "packets")["198.18.1.1"] > p0["198.18.1.1"] + 10 * FLOWS)
        self.assertEqual(sorted(per_backend(after, "packets")), ["198.18.1.1", "198.18.1.3"])
        self.assertEqual(per_backend(after, "new_flows")["198.18.1.1"],
                         per_backend(before, "new_flows")["198.18.1.1"])
        self.assertEqual(nonzero_drops(after), {})

    def test_8_telemetry_shows_the_counters(self):
        c = self.dp.counters()
        t = telemetry_query(self.dp.prefix, "/sluice/counters")["/sluice/counters"]
        self.assertGreaterEqual(t["rx_packets"], summary(c)["rx"])
        self.assertEqual(t["generation"], c["generation"])
        self.assertEqual(t["drop"], 0)
        # Under traffic a few packets are in flight (a held burst, a TX buffer): at most 32 + 64.
        in_flight = t["rx_packets"] - (t["forward"] + t["reply"] + t["pass"] + t["drop"])
        self.assertGreaterEqual(in_flight, 0)
        self.assertLessEqual(in_flight, 96)
        self.assertIn("lcore_1", t)
        self.assertGreater(t["lcore_1"]["rx_polls"], 0)
        vips = telemetry_query(self.dp.prefix, "/sluice/vips")["/sluice/vips"]
        self.assertEqual(vips["vip_0"]["vip"], VIP)
        self.assertGreaterEqual(vips["vip_0"]["packets"], vip_counters(c)["packets"])
        self.assertEqual(vips["vip_0"]["active_flows"], FLOWS)
        drops = telemetry_query(self.dp.prefix, "/sluice/drops")["/sluice/drops"]
        self.assertIn("no_backend", drops)
        self.assertEqual(sum(drops.values()), 0)
        backends = telemetry_query(self.dp.prefix, f"/sluice/backends,{VIP}")["/sluice/backends"]
        self.assertEqual({b["address"] for b in backends.values()},
                         set(per_backend(self.dp.counters(), "packets")))
        status = telemetry_query(self.dp.prefix, "/sluice/status")["/sluice/status"]
        self.assertEqual(status["generation"], self.generation())
        # The stock client, as an operator would run it.
        out = subprocess.run(["dpdk-telemetry.py", "-f", self.dp.prefix],
                             input="/sluice/counters\n", capture_output=True, text=True,
                             timeout=20)
        self.assertIn('"rx_packets"', out.stdout)

    def test_9_sigterm_stops_cleanly_with_nothing_lost(self):
        code = self.dp.stop()
        self.assertEqual(code, 0, self.dp.log_text())
        self.assertFalse(os.path.exists(self.dp.socket_path), "control socket not removed")
        m = re.search(r"stopped: (\d+) packets received: (\d+) forwarded, (\d+) replied, "
                      r"(\d+) passed to the host, (\d+) dropped; (\d+) sent", self.dp.log_text())
        self.assertIsNotNone(m, self.dp.log_text())
        received, forwarded, replied, passed, dropped, sent = map(int, m.groups())
        self.assertGreater(received, 0)
        self.assertEqual((forwarded, replied, passed, dropped, sent), (received, 0, 0, 0, received))
        # Every state change was logged with what changed.
        log = self.dp.log_text()
        self.assertIn("backend 198.18.1.3 added (up weight 1)", log)
        self.assertIn("backend 198.18.1.2 removed (its flows are rescheduled)", log)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--dataplane", required=True)
    p.add_argument("--flowgen", required=True)
    ARGS, rest = p.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)

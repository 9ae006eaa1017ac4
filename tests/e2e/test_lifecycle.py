#!/usr/bin/python3
"""A backend's life through a real failure: be2's servers are stopped until the health checks
take it down, then started until they bring it back. The backend keeps its identity in the
dataplane the whole time, so its counters go on from where they were, and the counters
reconcile with what the client saw:

- UDP: 200 datagrams, the flap, 200 more. Every datagram is one packet, so each backend's
  packet count must equal the replies it sent, exactly, and the VIP's total must be 400 and
  the sum of its backends;
- TCP: 300 connections, the flap, 300 more. Each connection is one new flow on the backend
  that answered it, so each backend's new_flows must equal the connections it answered; the
  VIP's packets, bytes and flows are the sums of its backends';
- Prometheus says what `sluicectl stats` says, and neither went back to zero.
"""
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labfixture import log, main  # noqa: E402

VICTIM = "be2"
DATAGRAMS = 200
CONNECTIONS = 300
TCP_TIMEOUT_S = "10"  # see test_traffic.py: a connection fails only when TCP gives up


class Lifecycle(unittest.TestCase):
    lab = None

    def stats_vip(self, vip):
        return next(v for v in self.lab.ctl_json("stats")["vips"] if v["vip"] == vip)

    def backend_counts(self, vip, key):
        return {b["address"]: b[key] for b in self.stats_vip(vip)["backends"]}

    def by_address(self, per_backend_name):
        return {self.lab.addr4[name]: n for name, n in per_backend_name.items()}

    def wait_counted(self, vip, packets):
        """The control plane polls the dataplane about once a second: waits (bounded) until its
        stats show `packets` for the VIP."""
        self.lab.wait_for(f"{vip} to show {packets} packets in sluicectl stats",
                          lambda: self.stats_vip(vip)["packets"] == packets, 10)

    def flap(self, vip):
        """Stops the victim's servers until the checks push it down, then starts them until
        the checks bring it back; returns the seconds each took."""
        lab, address = self.lab, self.lab.addr4[VICTIM]

        def state():
            return lab.backend_status(vip, address)["state"]

        lab.lab("server", VICTIM, "stop")
        stopped = time.time()
        down_at = lab.wait_for(f"{VICTIM} to be down in {vip}",
                               lambda: state() == "down" and lab.in_sync(),
                               lab.detection_bound_s + 5, interval_s=0.05)
        lab.lab("server", VICTIM, "start")
        started = time.time()
        up_at = lab.wait_for(f"{VICTIM} to be up again in {vip}",
                             lambda: state() == "up" and lab.in_sync(),
                             lab.recovery_bound_s + 5, interval_s=0.05)
        return down_at - stopped, up_at - started

    def assert_vip_is_the_sum(self, vip):
        v = self.stats_vip(vip)
        for key in ("packets", "bytes", "new_flows", "active_flows"):
            self.assertEqual(v[key], sum(b[key] for b in v["backends"]), f"{vip} {key}: {v}")

    def test_1_udp_datagrams_reconcile_through_a_down_up_cycle(self):
        lab, vip = self.lab, self.lab.udp_vip
        base = self.backend_counts(vip, "packets")
        base_vip = self.stats_vip(vip)["packets"]
        udp = ["--target", lab.vip4, "--count", str(DATAGRAMS), "--concurrency", "4",
               "--duration", "60", "--timeout", "2"]
        first = lab.client("udp", *udp)
        self.assertEqual(first["failed"], 0, first)
        self.wait_counted(vip, base_vip + DATAGRAMS)
        victim_before = self.backend_counts(vip, "packets")[lab.addr4[VICTIM]]
        down_s, up_s = self.flap(vip)
        again = lab.client("udp", *udp)
        self.assertEqual(again["failed"], 0, again)
        self.wait_counted(vip, base_vip + 2 * DATAGRAMS)

        answered = {a: 0 for a in base}
        for summary in (first, again):
            for address, n in self.by_address(summary["per_backend"]).items():
                answered[address] += n
        counted = {a: n - base.get(a, 0) for a, n in self.backend_counts(vip, "packets").items()}
        log(f"UDP: {VICTIM} down after {down_s:.2f} s, up after {up_s:.2f} s; answered by "
            f"backend {answered}; counted by the dataplane {counted}")
        self.assertEqual(counted, answered, "every datagram counted once, on the backend that "
                                            "answered it")
        self.assertGreater(again["per_backend"].get(VICTIM, 0), 0, "back up, it takes new flows")
        self.assertGreater(self.backend_counts(vip, "packets")[lab.addr4[VICTIM]], victim_before)
        self.assert_vip_is_the_sum(vip)

    def test_2_tcp_flows_reconcile_through_a_down_up_cycle(self):
        lab, vip = self.lab, self.lab.tcp_vip
        base = self.backend_counts(vip, "new_flows")
        http = ["--target", lab.vip4, "--count", str(CONNECTIONS), "--concurrency", "4",
                "--duration", "120", "--timeout", TCP_TIMEOUT_S]
        first = lab.client("http", *http)
        self.assertEqual(first["failed"], 0, first)
        down_s, up_s = self.flap(vip)
        again = lab.client("http", *http)
        self.assertEqual(again["failed"], 0, again)
        answered = {a: 0 for a in base}
        for summary in (first, again):
            for address, n in self.by_address(summary["per_backend"]).items():
                answered[address] += n
        lab.wait_for("every connection to be counted",
                     lambda: sum(self.backend_counts(vip, "new_flows").values()) -
                     sum(base.values()) == 2 * CONNECTIONS, 10)
        counted = {a: n - base.get(a, 0) for a, n in self.backend_counts(vip, "new_flows").items()}
        log(f"TCP: {VICTIM} down after {down_s:.2f} s, up after {up_s:.2f} s; connections "
            f"answered by backend {answered}; new flows counted {counted}")
        self.assertEqual(counted, answered, "each connection is one new flow on its backend")
        self.assertGreater(again["per_backend"].get(VICTIM, 0), 0)
        self.assert_vip_is_the_sum(vip)

    def test_3_prometheus_says_what_stats_says(self):
        lab = self.lab
        metrics = lab.run_in(lab.lb_ns, "curl", "-s", "--max-time", "5",
                             f"http://{lab.facts['LAB_LB_METRICS']}/metrics").stdout
        vip, address = lab.udp_vip, lab.addr4[VICTIM]
        stats = self.backend_counts(vip, "packets")[address]
        pattern = (r'^sluice_backend_packets_total\{dataplane="[^"]+",vip="' + re.escape(vip) +
                   r'",backend="' + re.escape(address) + r'"\} (\d+)$')
        found = re.search(pattern, metrics, re.M)
        self.assertIsNotNone(found, metrics[:2000])
        self.assertEqual(int(found.group(1)), stats)
        self.assertGreaterEqual(stats, 1, "after two rounds of traffic and a flap")
        self.assertIn(f'sluice_backend_state{{vip="{vip}",backend="{address}",state="up"}} 1',
                      metrics)


if __name__ == "__main__":
    sys.exit(main("lifecycle", [Lifecycle]))

#!/usr/bin/python3
"""Long-lived connections through the lab survive what operators do to Sluice.

Each case opens fresh HTTP/1.1 keep-alive connections through the IPv4 VIP (one request every
200 ms on each), changes something, keeps them talking for a while, then checks that not one
connection broke and that every answer on a connection came from the backend that answered
its first request:

- a weight change (the Maglev table changes; the flow table keeps the flows where they are);
- a backend added (likewise);
- a drain (the drained backend keeps its connections and gets no new ones);
- sluice-controlplane killed with SIGKILL and started again (the dataplane keeps forwarding;
  the new control plane adopts its generation);
- sluice-dataplane restarted (its flow table is gone; Maglev sends each flow to the same
  backend again because the state is the same).
"""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labfixture import HeldConnections, log, main  # noqa: E402

CONNECTIONS = 24
TALK_AFTER_S = 3  # keep the connections talking this long after the change


class LongLivedConnections(unittest.TestCase):
    lab = None
    workdir = None

    def hold(self, connections=CONNECTIONS):
        return HeldConnections(self.lab, self.workdir, connections=connections)

    def assert_survived(self, label, held):
        s = held.summary
        broken = [c for c in s["per_connection"] if c["error"]]
        moved = [c for c in s["per_connection"] if len(c["backends"]) > 1]
        log(f"{label}: {s['connections']} connections, {s['requests']} requests in "
            f"{s['seconds']} s, first answered by {s['per_backend']}; broken {len(broken)}, "
            f"moved {len(moved)}")
        self.assertEqual(broken, [], f"{label}: connections broke")
        self.assertEqual(moved, [], f"{label}: connections changed backend")
        # Every connection kept talking through the change.
        min_requests = int(TALK_AFTER_S / 0.2 / 2)
        self.assertTrue(all(c["requests"] >= min_requests for c in s["per_connection"]),
                        f"{label}: a connection stalled: {s['per_connection']}")
        # The case means something only when the connections were spread over backends.
        self.assertGreaterEqual(len(s["per_backend"]), 2, s["per_backend"])

    def set_weight(self, be, weight):
        self.lab.change("backend", "weight", self.lab.tcp_vip, self.lab.addr4[be], str(weight))

    def test_1_weight_change(self):
        with self.hold() as held:
            self.set_weight("be1", 6)
            time.sleep(TALK_AFTER_S)
            self.set_weight("be1", self.lab.weights["be1"])
            time.sleep(1)
        self.assert_survived("weight change be1 1 -> 6 -> 1", held)

    def test_2_backend_added(self):
        lab, vip, be3 = self.lab, self.lab.tcp_vip, self.lab.addr4["be3"]
        lab.change("backend", "remove", vip, be3)
        with self.hold() as held:
            lab.ctl("backend", "add", vip, be3, "--weight", str(lab.weights["be3"]))
            # Added backends join after `rise` good checks (a new generation then).
            lab.wait_for("be3 to be scheduled again",
                         lambda: lab.backend_status(vip, be3)["state"] == "up" and lab.in_sync(),
                         lab.recovery_bound_s + 5)
            new = lab.client("http", "--count", "300", "--concurrency", "4", "--duration", "60")
            time.sleep(TALK_AFTER_S)
        self.assertNotIn("be3", held.summary["per_backend"])  # it was not there before
        self.assertGreater(new["per_backend"].get("be3", 0), 0, new)  # it takes new flows now
        self.assert_survived("backend be3 added", held)

    def test_3_drain(self):
        lab, vip, be3 = self.lab, self.lab.tcp_vip, self.lab.addr4["be3"]
        with self.hold() as held:
            lab.change("backend", "drain", vip, be3)
            new = lab.client("http", "--count", "300", "--concurrency", "4", "--duration", "60")
            time.sleep(TALK_AFTER_S)
        lab.change("backend", "undrain", vip, be3)
        self.assertEqual(new["failed"], 0, new)
        self.assertNotIn("be3", new["per_backend"], "a drained backend got new connections")
        self.assertGreater(held.summary["per_backend"].get("be3", 0), 0,
                           "no held connection on the drained backend: the case proves nothing")
        self.assert_survived("backend be3 drained", held)

    def test_4_controlplane_killed_and_restarted(self):
        lab = self.lab
        generation = lab.status()["generation"]
        with self.hold() as held:
            lab.lab("kill", "controlplane")
            time.sleep(TALK_AFTER_S)  # no control plane: the dataplane keeps forwarding
            lab.up()
            lab.wait_in_sync()
            time.sleep(1)
        status = lab.status()
        log(f"control plane restarted: generation {generation} -> {status['generation']}")
        self.assertTrue(all(b["health"] == "up" for v in status["vips"] for b in v["backends"]))
        self.assert_survived("control plane SIGKILL + restart", held)

    def test_5_dataplane_restarted(self):
        lab = self.lab
        with self.hold() as held:
            started = time.monotonic()
            lab.lab("restart", "dataplane")
            lab.wait_in_sync()
            log(f"dataplane restarted and programmed in {time.monotonic() - started:.1f} s")
            time.sleep(TALK_AFTER_S)
        self.assert_survived("dataplane restart", held)


if __name__ == "__main__":
    sys.exit(main("persist", [LongLivedConnections]))

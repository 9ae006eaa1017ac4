#!/usr/bin/python3
"""A dead backend is taken out within the health-check bound and gets no new connection after
it; when it comes back it is put back.

New connections run through the IPv4 VIP at a steady rate while be2's servers are stopped
(the backend's kernel then refuses connections, as after a crash of the service). Measured:
the detection time (stop -> the control plane reports be2 down and the dataplane runs the new
state), the failed requests before it, and the failed requests after it (must be none).
"""
import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labfixture import log, main  # noqa: E402

RATE = 300  # new connections per second
# A request fails when TCP gives up, not when one SYN retransmission (1 s, then 3 s) made it
# slower than 2 s: a packet lost and recovered on the veth path is not a failure (see
# test_traffic.py). Requests to the stopped backend before detection still fail (refused or
# timed out); the assertions are about the requests started after detection.
TCP_TIMEOUT_S = "10"
PUSH_SLACK_S = 0.5  # the push to the dataplane, the 50 ms status polls, a loaded machine


class DeadBackend(unittest.TestCase):
    lab = None
    workdir = None

    def test_dead_backend_gets_no_new_connections_after_detection(self):
        lab, vip, victim = self.lab, self.lab.tcp_vip, "be2"
        address = lab.addr4[victim]
        requests_file = os.path.join(self.workdir, "requests.jsonl")
        duration = 3 + lab.detection_bound_s + 4
        traffic = {}

        def run_traffic():
            traffic.update(lab.client("http", "--count", str(int(RATE * duration)),
                                      "--concurrency", "4", "--rate", str(RATE),
                                      "--duration", str(duration), "--timeout", TCP_TIMEOUT_S,
                                      "--jsonl", requests_file))

        thread = threading.Thread(target=run_traffic)
        thread.start()
        time.sleep(3)
        stopped_at = time.time()
        lab.lab("server", victim, "stop")
        detected_at = lab.wait_for(
            f"{victim} to be down in the pushed state",
            lambda: lab.backend_status(vip, address)["state"] == "down" and lab.in_sync(),
            lab.detection_bound_s + 5, interval_s=0.05)
        thread.join(duration + 60)
        self.assertFalse(thread.is_alive())

        with open(requests_file) as f:
            requests = [json.loads(line) for line in f]
        failures = [r for r in requests if "error" in r]
        detection_s = detected_at - stopped_at
        bound_at = stopped_at + lab.detection_bound_s + PUSH_SLACK_S
        after_detection = [r for r in requests if r["t"] > detected_at]
        failed_after_detection = [r for r in after_detection if "error" in r]
        to_victim_after_bound = [r for r in requests
                                 if r["t"] > bound_at and r.get("backend") == victim]
        failed_after_bound = [r for r in requests if r["t"] > bound_at and "error" in r]
        last_failure_s = max((r["t"] for r in failures), default=stopped_at) - stopped_at
        log(f"{victim} stopped: detected (out of the dataplane's state) after {detection_s:.3f} s "
            f"(bound {lab.detection_bound_s:.1f} s); last failed request started "
            f"{last_failure_s:.3f} s after the stop; {len(requests)} requests, "
            f"{len(failures)} failed before detection, {len(failed_after_detection)} of "
            f"{len(after_detection)} failed after it")

        self.assertGreater(len(after_detection), RATE, "too little traffic after detection")
        self.assertLessEqual(detection_s, lab.detection_bound_s + PUSH_SLACK_S)
        self.assertEqual(failed_after_detection, [])
        self.assertEqual(failed_after_bound, [])
        self.assertEqual(to_victim_after_bound, [])
        # Before the stop the victim took its share; after detection the others took it all.
        self.assertTrue(any(r.get("backend") == victim for r in requests if r["t"] < stopped_at))

        # It comes back after `rise` good checks and takes new connections again.
        restarted_at = time.time()
        lab.lab("server", victim, "start")
        back_at = lab.wait_for(f"{victim} to be scheduled again",
                               lambda: lab.backend_status(vip, address)["state"] == "up"
                               and lab.in_sync(),
                               lab.recovery_bound_s + 5)
        again = lab.client("http", "--count", "600", "--concurrency", "4", "--duration", "60",
                           "--timeout", TCP_TIMEOUT_S)
        log(f"{victim} started again: back in the dataplane's state after "
            f"{back_at - restarted_at:.1f} s (bound {lab.recovery_bound_s:.1f} s after it answers); "
            f"new connections {again['per_backend']}")
        self.assertEqual(again["failed"], 0, again)
        self.assertGreater(again["per_backend"].get(victim, 0), 0, again)


if __name__ == "__main__":
    sys.exit(main("health", [DeadBackend]))

#!/usr/bin/python3
"""The lab's slow and silent backends (`tools/lab/lab server BE slow MS | blackhole | normal`)
do what they say, through the VIP, without a restart and without touching held connections.

Connections are pinned to a backend by their client port: `sluicectl explain --syn` says which
backend a new connection from that port gets (the dataplane's own decision), and every port is
used once. A keep-alive connection to be1, opened first, is held through all three modes.
The health checks are given room (timeout 450 ms, fall 20) so that be1 stays up: the point is
what the client sees, not how fast the checks notice (tests/e2e/test_health.py does that).

- slow 300: a request to be1 (new connections and the held one) takes >= 300 ms, requests to
  be2 and be3 stay fast (< 300 ms), be1 stays up;
- blackhole: new connections to be1 time out (the SYN is dropped, counted by the nftables
  rule), the held connection to be1 still answers, be2 and be3 answer;
- normal: new connections to be1 answer fast again, the held one too.
About 20 s with the lab's start.
"""
import ctypes
import json
import os
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labfixture import REPO, log, main  # noqa: E402

sys.path.insert(0, os.path.join(REPO, "tools", "lab"))
from lab_client import read_response  # noqa: E402

os.environ.setdefault("SLUICE_LAB_HC_TIMEOUT_MS", "450")
os.environ.setdefault("SLUICE_LAB_HC_FALL", "20")

SLOW_MS = 300
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def in_namespace(namespace, fn):
    """Runs fn() on a thread that entered `namespace` (setns is per thread): sockets it makes
    stay in that namespace whichever thread uses them later."""
    out = {}

    def run():
        fd = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                out["error"] = OSError(ctypes.get_errno(), f"setns {namespace}")
                return
        finally:
            os.close(fd)
        try:
            out["value"] = fn()
        except Exception as exc:  # noqa: BLE001  handed to the caller
            out["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


class Connection:
    """One HTTP/1.1 keep-alive connection through the VIP from a chosen client port."""

    def __init__(self, lab, port, timeout_s):
        client = lab.facts["LAB_CLIENT4"]

        def make():
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((client, port))
            return sock

        self.sock = in_namespace(lab.client_ns, make)
        self.sock.settimeout(timeout_s)
        self.sock.connect((lab.vip4, int(lab.facts["LAB_HTTP_PORT"])))
        self.buffer = b""

    def request(self):
        """(backend, seconds) of one GET /."""
        started = time.monotonic()
        self.sock.sendall(b"GET / HTTP/1.1\r\nHost: sluice-lab\r\n\r\n")
        _, headers, _, self.buffer = read_response(self.sock, self.buffer)
        return headers.get("x-backend"), time.monotonic() - started

    def close(self):
        self.sock.close()


class SlowAndSilentBackends(unittest.TestCase):
    lab = None
    workdir = None

    def setUp(self):
        self.lab.wait_in_sync()
        self.next_port = 30000 + (os.getpid() % 1000) * 20
        self.ctl = [self.lab.facts["LAB_SLUICECTL"], "--socket", self.lab.facts["LAB_LB_API_SOCKET"]]
        self.by_address = {a: be for be, a in self.lab.addr4.items()}

    def backend_of_new_connection(self, port):
        out = subprocess.run([*self.ctl, "explain", self.lab.facts["LAB_CLIENT4"], self.lab.vip4,
                              str(port), self.lab.facts["LAB_HTTP_PORT"], "tcp", "--syn",
                              "--json"], check=True, capture_output=True, text=True).stdout
        return self.by_address.get(json.loads(out).get("backend"))

    def port_for(self, backend):
        """A client port not used before whose new connection goes to `backend`."""
        for _ in range(400):
            port = self.next_port
            self.next_port += 1
            if self.backend_of_new_connection(port) == backend:
                return port
        raise AssertionError(f"no client port maps to {backend}")

    def new_request(self, backend, timeout_s=5):
        connection = Connection(self.lab, self.port_for(backend), timeout_s)
        try:
            return connection.request()
        finally:
            connection.close()

    def modes(self):
        return self.lab.lab("env").stdout.split("LAB_BACKEND_MODES=", 1)[1].split("\n", 1)[0].split()

    def assert_up(self, backend):
        status = self.lab.backend_status(self.lab.tcp_vip, self.lab.addr4[backend])
        self.assertEqual((status["state"], status["health"]), ("up", "up"), status)

    def test_slow_blackhole_normal(self):
        lab = self.lab
        others = [be for be in lab.backends if be != "be1"]
        held = Connection(lab, self.port_for("be1"), timeout_s=5)
        try:
            backend, seconds = held.request()
            self.assertEqual(backend, "be1")
            log(f"normal: held connection to be1 answered in {seconds * 1000:.1f} ms")

            # slow
            lab.lab("server", "be1", "slow", str(SLOW_MS))
            self.assertEqual(self.modes(), [f"slow:{SLOW_MS}", "normal", "normal"])
            backend, seconds = held.request()
            log(f"slow {SLOW_MS}: held connection to be1 answered in {seconds * 1000:.1f} ms")
            self.assertEqual(backend, "be1")
            self.assertGreaterEqual(seconds, SLOW_MS / 1000)
            for _ in range(2):
                backend, seconds = self.new_request("be1")
                log(f"slow {SLOW_MS}: new connection to be1: {seconds * 1000:.1f} ms")
                self.assertEqual(backend, "be1")
                self.assertGreaterEqual(seconds, SLOW_MS / 1000)
            for be in others:
                # The fastest of three, so that one request delayed by a loaded machine does
                # not count: the delay under test is on every request.
                answers = [self.new_request(be) for _ in range(3)]
                log(f"slow {SLOW_MS}: new connections to {be}: "
                    f"{', '.join(f'{s * 1000:.1f}' for _, s in answers)} ms")
                self.assertEqual({b for b, _ in answers}, {be})
                self.assertLess(min(s for _, s in answers), SLOW_MS / 1000)
            self.assert_up("be1")

            # blackhole (slow undone first: the two are independent)
            lab.lab("server", "be1", "normal")
            lab.lab("server", "be1", "blackhole")
            blackholed_at = time.monotonic()
            self.assertEqual(self.modes(), ["blackhole", "normal", "normal"])
            for _ in range(2):
                port = self.port_for("be1")
                with self.assertRaises(TimeoutError, msg=f"a new connection from port {port}"):
                    Connection(lab, port, timeout_s=1.0)
            drops = lab.run_in(lab.facts["LAB_BACKEND_NS"].split()[0], "nft", "-j", "list",
                               "table", "inet", "sluice_lab_blackhole").stdout
            dropped = sum(e["counter"]["packets"] for item in json.loads(drops)["nftables"]
                          if "rule" in item for e in item["rule"]["expr"] if "counter" in e)
            backend, seconds = held.request()
            log(f"blackhole: 2 new connections to be1 timed out, {dropped} SYNs dropped; held "
                f"connection to be1 answered in {seconds * 1000:.1f} ms")
            self.assertEqual(backend, "be1")
            self.assertGreaterEqual(dropped, 2)
            for be in others:
                self.assertEqual(self.new_request(be)[0], be)
            # The checks time out too, but fall 20 x 500 ms keeps be1 up for this phase.
            self.assertLess(time.monotonic() - blackholed_at, 8)
            self.assert_up("be1")

            # normal
            lab.lab("server", "be1", "normal")
            self.assertEqual(self.modes(), ["normal", "normal", "normal"])
            backend, seconds = self.new_request("be1")
            log(f"normal: new connection to be1 answered in {seconds * 1000:.1f} ms")
            self.assertEqual(backend, "be1")
            self.assertLess(seconds, SLOW_MS / 1000)
            backend, seconds = held.request()
            self.assertEqual(backend, "be1")
            self.assertLess(seconds, SLOW_MS / 1000)
        finally:
            held.close()


if __name__ == "__main__":
    sys.exit(main("slow-backends", [SlowAndSilentBackends]))

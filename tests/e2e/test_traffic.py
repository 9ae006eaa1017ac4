#!/usr/bin/python3
"""End to end through the namespace lab: real TCP and UDP from the client namespace through
sluice-dataplane (af_xdp + steering program) to backends that answer directly (DSR).

- TCP over the IPv4 VIP: thousands of new connections split across backends within a few
  percentage points of the weights, none failing;
- the IPv6 VIP (GUE over IPv6) and the UDP VIP work and follow the weights too;
- traffic for the Sluice host itself (ping, a TCP service on port 22) still reaches its kernel.
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labfixture import log, main  # noqa: E402

TCP_CONNECTIONS = 4000
# A connection fails only when TCP itself gives up, not when one lost packet made it slow: the
# first SYN retransmission comes after 1 s and a second after 3 s, so a 2 s client timeout
# turned a recovered loss on the af_xdp veth path into a "failed" connection (seen once in CI-like
# runs). A broken or misrouted connection still fails the test.
TCP_TIMEOUT_S = "10"
IPV6_CONNECTIONS = 1500
UDP_DATAGRAMS = 3000
# Maglev shares of a 65537-slot table are within 0.1 % of the weights; the rest is sampling
# noise: one standard deviation is at most 0.8 points at 4000 connections.
TOLERANCE_POINTS = 3.0
TOLERANCE_POINTS_SMALL = 4.5  # 1500-3000 samples


class Traffic(unittest.TestCase):
    lab = None

    def expected_shares(self):
        total = sum(self.lab.weights.values())
        return {be: 100.0 * w / total for be, w in self.lab.weights.items()}

    def assert_distribution(self, label, summary, tolerance):
        ok = summary["ok"]
        shares = {be: 100.0 * summary["per_backend"].get(be, 0) / ok for be in self.lab.backends}
        expected = self.expected_shares()
        worst = max(abs(shares[be] - expected[be]) for be in self.lab.backends)
        table = ", ".join(f"{be} {shares[be]:.1f}% (weight {expected[be]:.1f}%)"
                          for be in self.lab.backends)
        log(f"{label}: {ok} ok, {summary['failed']} failed in {summary['seconds']} s: {table}; "
            f"largest error {worst:.2f} points")
        self.assertLessEqual(worst, tolerance, f"{label}: {table}")
        return worst

    def test_tcp_ipv4_distribution_follows_weights(self):
        summary = self.lab.client("http", "--target", self.lab.vip4,
                                  "--count", str(TCP_CONNECTIONS), "--concurrency", "8",
                                  "--duration", "120", "--timeout", TCP_TIMEOUT_S)
        self.assertEqual(summary["failed"], 0, summary["errors"])
        self.assertEqual(summary["ok"], TCP_CONNECTIONS)
        self.assert_distribution("TCP IPv4 VIP", summary, TOLERANCE_POINTS)

    def test_tcp_ipv6_vip(self):
        summary = self.lab.client("http", "--target", self.lab.vip6,
                                  "--count", str(IPV6_CONNECTIONS), "--concurrency", "8",
                                  "--duration", "120", "--timeout", TCP_TIMEOUT_S)
        self.assertEqual(summary["failed"], 0, summary["errors"])
        self.assertEqual(summary["ok"], IPV6_CONNECTIONS)
        self.assert_distribution("TCP IPv6 VIP (GUE)", summary, TOLERANCE_POINTS_SMALL)

    def test_udp_vip(self):
        summary = self.lab.client("udp", "--target", self.lab.vip4,
                                  "--count", str(UDP_DATAGRAMS), "--concurrency", "4",
                                  "--duration", "120", "--timeout", "2")
        self.assertEqual(summary["failed"], 0, summary["errors"])
        self.assert_distribution("UDP VIP", summary, TOLERANCE_POINTS_SMALL)

    def test_host_kernel_still_reachable(self):
        lab = self.lab
        lb4 = lab.facts["LAB_LB4"]
        lb6 = lab.facts["LAB_LB6"]
        ping = lab.run_in(lab.client_ns, "ping", "-c", "3", "-i", "0.2", "-W", "2", lb4,
                          check=False, timeout=20)
        self.assertEqual(ping.returncode, 0, ping.stdout + ping.stderr)
        ping6 = lab.run_in(lab.client_ns, "ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", lb6,
                           check=False, timeout=20)
        self.assertEqual(ping6.returncode, 0, ping6.stdout + ping6.stderr)

        # An ssh-like TCP service on the Sluice host: a one-shot listener on :22 in the lb
        # namespace that sends a banner; the client must read it.
        banner = f"SSH-2.0-sluice-lab-{os.getpid()}"
        listener = lab.run_in_background(
            lab.lb_ns, "/usr/bin/python3", "-c",
            "import socket,sys\n"
            "s=socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
            "s.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_V6ONLY,0); s.bind(('::',22)); s.listen()\n"
            "s.settimeout(30); print('ready', flush=True)\n"
            "for _ in range(2):\n"
            "  c,_=s.accept(); c.sendall(sys.argv[1].encode()+b'\\r\\n'); c.close()\n",
            banner)
        try:
            self.assertEqual(listener.stdout.readline().strip(), "ready")
            for address in (lb4, lb6):
                got = lab.run_in(lab.client_ns, "/usr/bin/python3", "-c",
                                 "import socket,sys\n"
                                 "c=socket.create_connection((sys.argv[1],22),timeout=5)\n"
                                 "print(c.recv(100).decode().strip())\n", address,
                                 timeout=30, check=False)
                self.assertEqual(got.stdout.strip(), banner, f"{address}:22: {got.stderr}")
            log(f"host kernel: ping {lb4} and {lb6} answered; TCP :22 banner read over IPv4 and IPv6")
        finally:
            listener.kill()
            listener.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main("traffic", [Traffic]))

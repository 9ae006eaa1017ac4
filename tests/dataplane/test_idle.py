#!/usr/bin/python3
"""sluice-dataplane --idle: on an idle af_packet port (a veth in a private namespace), `sleep`
uses a small fraction of a core where `poll` uses about a whole one (the process's utime +
stime from /proc/<pid>/stat over 2 s, both measured in the same run), keeps rx_polls moving
(the control plane's liveness signal) and reports its sleeps; packets that arrive while it
sleeps are still forwarded, every one. `pause` (DPDK power management PAUSE) is enabled on the
queue, forwards, and, as documented, does not give CPU time back."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Dataplane, nonzero_drops, summary, write_yaml  # noqa: E402

ARGS = None
MEASURE_S = 2.0
PACKETS = 100

STATE = {"generation": 1,
         "dataplane": {"next_hop_mac": "02:00:00:00:00:fe", "tunnel_source_v4": "198.18.0.1",
                       "mtu": 1500, "flow_table_entries": 16384},
         "vips": [{"address": "198.18.0.10", "port": 80, "protocol": "tcp",
                   "backends": [{"address": "198.18.1.1", "weight": 1}]}]}

# Run inside the namespace: PACKETS TCP SYNs to the VIP sent on vb (the dataplane owns va), and
# the IPIP packets coming back on vb counted. Raw AF_PACKET sockets: no scapy start-up time.
TRAFFIC = r"""
import socket, struct, sys, time
N = int(sys.argv[1])
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF); s += s >> 16
    return ~s & 0xFFFF
def syn(i):
    src = bytes([198, 19, i // 256, i % 256]); dst = bytes([198, 18, 0, 10])
    tcp = struct.pack("!HHIIBBHHH", 1000 + i, 80, i, 0, 5 << 4, 0x02, 65535, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), i, 0, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return bytes.fromhex("020000000001") + bytes.fromhex("020000000002") + b"\x08\x00" + ip + tcp
rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
rx.bind(("vb", 0)); rx.settimeout(0.2)
tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
tx.bind(("vb", 0))
for i in range(N):
    tx.send(syn(i))
got, deadline = 0, time.monotonic() + 10
while got < N and time.monotonic() < deadline:
    try:
        frame, addr = rx.recvfrom(2048)
    except socket.timeout:
        continue
    if addr[2] != socket.PACKET_OUTGOING and frame[12:14] == b"\x08\x00" and frame[23] == 4:
        got += 1
print("captured", got)
"""


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


class IdleModes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ns = f"sl-idle-t{os.getpid()}"
        subprocess.run(["ip", "netns", "add", cls.ns], check=True)
        try:
            for cmd in (["link", "add", "va", "type", "veth", "peer", "name", "vb"],
                        ["link", "set", "va", "up"], ["link", "set", "vb", "up"]):
                subprocess.run(["ip", "-n", cls.ns] + cmd, check=True)
        except Exception:
            subprocess.run(["ip", "netns", "del", cls.ns])
            raise

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["ip", "netns", "del", cls.ns])

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="slidle-test-")
        self.config = write_yaml(os.path.join(self.tmp.name, "state.yaml"), STATE)

    def tearDown(self):
        self.tmp.cleanup()

    def dataplane(self, mode: str) -> Dataplane:
        dp = Dataplane(ARGS.dataplane, self.tmp.name, mode, ["net_af_packet0,iface=va"],
                       ["--config", self.config, "--idle", mode],
                       prefix=f"slidle-t{os.getpid()}-{mode}")
        dp.cmd = ["ip", "netns", "exec", self.ns] + dp.cmd
        return dp

    def idle_figures(self, dp: Dataplane) -> dict:
        """CPU share of the idle process over MEASURE_S, and its worker's counter deltas."""
        time.sleep(0.5)  # past the start-up
        before, cpu0, t0 = dp.counters()["per_lcore"][0], cpu_seconds(dp.proc.pid), time.monotonic()
        time.sleep(MEASURE_S)
        after, cpu1, t1 = dp.counters()["per_lcore"][0], cpu_seconds(dp.proc.pid), time.monotonic()
        out = {k: after[k] - before[k] for k in ("rx_polls", "sleeps", "slept_ns", "rx_packets")}
        out["cpu"] = (cpu1 - cpu0) / (t1 - t0)
        out["seconds"] = t1 - t0
        return out

    def forwards_every_packet(self, dp: Dataplane):
        out = subprocess.run(["ip", "netns", "exec", self.ns, "/usr/bin/python3", "-c", TRAFFIC,
                              str(PACKETS)], capture_output=True, text=True, timeout=30)
        self.assertIn(f"captured {PACKETS}", out.stdout, out.stderr + dp.log_text())
        c = dp.wait_counters(lambda c: sum(v["packets"] for v in c["per_vip"]) >= PACKETS)
        self.assertEqual(sum(v["packets"] for v in c["per_vip"]), PACKETS)
        # The kernel's own IPv6 ND/MLD on va reaches the dataplane too: no host port, counted.
        self.assertEqual(set(nonzero_drops(c)) - {"no_host_port"}, set())
        return c

    def test_sleep_frees_the_core_poll_does_not_and_sleep_still_forwards(self):
        with self.dataplane("poll") as dp:
            poll = self.idle_figures(dp)
        self.assertEqual(dp.returncode, 0, dp.log_text())
        with self.dataplane("sleep") as dp:
            lcores = dp.request({"op": "get_status"})["lcores"]
            self.assertEqual([(l["role"], l.get("idle")) for l in lcores],
                             [("main", None), ("worker", "sleep")])
            sleep = self.idle_figures(dp)
            # A state swap does not wait for the sleeping worker (RCU-offline while asleep),
            # and the worker uses the new snapshot once awake.
            new_state = json.loads(json.dumps(STATE))
            new_state["generation"] = 2
            new_state["vips"][0]["backends"] = [{"address": "198.18.1.2", "weight": 1}]
            started = time.monotonic()
            reply = dp.request({"op": "push_state", "state": new_state})
            push_s = time.monotonic() - started
            self.assertTrue(reply.get("ok"), reply)
            self.assertLess(push_s, 5.0)
            # The worker is asleep now: these packets wake it.
            c = self.forwards_every_packet(dp)
            backends = {b["address"]: b["packets"] for b in c["per_vip"][0]["per_backend"]}
            self.assertEqual(backends, {"198.18.1.2": PACKETS})
            self.assertGreater(summary(c)["rx"], 0)
        self.assertEqual(dp.returncode, 0, dp.log_text())
        self.assertIn("--idle sleep: after 256 empty polls", dp.log_text())
        report = (f"idle CPU: poll {100 * poll['cpu']:.1f}%, sleep {100 * sleep['cpu']:.1f}% "
                  f"of a core; sleep mode: {sleep}; push while asleep {1000 * push_s:.0f} ms")
        print(report)
        self.assertLess(sleep["cpu"], 0.20, report)
        # poll spins a whole core; other processes on the 2 cores can take a share of it
        # (measured 53-66% while other builds ran, ~100% on a quiet machine).
        self.assertGreater(poll["cpu"], 0.25, report)
        self.assertGreater(poll["cpu"], 4 * sleep["cpu"], report)
        self.assertEqual((poll["sleeps"], poll["slept_ns"]), (0, 0), report)
        # Mostly asleep, and still polling at least every 5 ms (500 us cap + wake-up latency;
        # the control plane's hung-worker check watches rx_polls).
        self.assertGreater(sleep["slept_ns"], 0.5 * sleep["seconds"] * 1e9, report)
        self.assertGreater(sleep["rx_polls"], sleep["seconds"] / 0.005, report)
        self.assertGreater(sleep["sleeps"], sleep["seconds"] / 0.005, report)

    def test_unknown_mode_is_refused_before_eal(self):
        out = subprocess.run([ARGS.dataplane, "--no-huge", "--", "--idle", "nap"],
                             capture_output=True, text=True, timeout=10)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("--idle", out.stderr + out.stdout)
        help_text = subprocess.run([ARGS.dataplane, "--help"], capture_output=True, text=True,
                                   timeout=10).stdout
        self.assertIn("--idle", help_text)

    def test_pause_uses_dpdk_power_management_and_forwards(self):
        with self.dataplane("pause") as dp:
            pause = self.idle_figures(dp)
            self.forwards_every_packet(dp)
        self.assertEqual(dp.returncode, 0, dp.log_text())
        log = dp.log_text()
        self.assertIn("PAUSE on 1 RX", log)
        self.assertNotIn("PAUSE refused", log)
        print(f"idle CPU: pause {100 * pause['cpu']:.1f}% of a core")
        # PAUSE keeps the thread runnable: the kernel counts the core as busy (docs/dataplane.md).
        self.assertGreater(pause["cpu"], 0.25, pause)
        self.assertEqual(pause["sleeps"], 0)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--dataplane", required=True)
    ARGS, rest = p.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)

#!/usr/bin/python3
"""sluice-dataplane as a process: command line, refusal of a bad config, a finite pcap replayed
and then SIGTERM (every packet out, encapsulated, to a configured backend, and the final totals
logged), non-VIP packets without a host port (counted as no_host_port), no state at all
(everything to the host), the control socket's permissions, and the exception TAP (inside a
private network namespace)."""

import argparse
import os
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Dataplane, nonzero_drops, read_pcap, summary, write_yaml  # noqa: E402

ARGS = None
BACKENDS = ["198.18.1.1", "198.18.1.2"]


def state(generation=1):
    return {"generation": generation,
            "dataplane": {"next_hop_mac": "02:00:00:00:00:fe", "tunnel_source_v4": "198.18.0.1",
                          "mtu": 1500, "flow_table_entries": 16384},
            "vips": [{"address": "198.18.0.10", "port": 80, "protocol": "tcp",
                      "backends": [{"address": b, "weight": 1} for b in BACKENDS]}]}


class Process(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="sl-dp-process-")
        self.d = self.tmp.name
        self.config = write_yaml(os.path.join(self.d, "state.yaml"), state())

    def tearDown(self):
        self.tmp.cleanup()

    def flows(self, name, n, vip="198.18.0.10"):
        path = os.path.join(self.d, name)
        subprocess.run([ARGS.flowgen, "--out", path, "--flows", str(n), "--vip", vip], check=True)
        return path

    def test_help_without_eal(self):
        out = subprocess.run([ARGS.dataplane, "--help"], capture_output=True, text=True,
                             timeout=10)
        self.assertEqual(out.returncode, 0, out.stderr)
        for option in ("--config", "--control-socket", "--tx-port", "--host-port",
                       "--exception-tap", "EAL options"):
            self.assertIn(option, out.stdout)

    def test_unknown_option_fails_before_eal(self):
        out = subprocess.run([ARGS.dataplane, "--no-huge", "--", "--frobnicate"],
                             capture_output=True, text=True, timeout=10)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("frobnicate", out.stderr + out.stdout)

    def test_invalid_config_is_refused_with_the_field(self):
        bad = state()
        bad["vips"][0]["backends"][0]["weight"] = -1
        path = write_yaml(os.path.join(self.d, "bad.yaml"), bad)
        dp = Dataplane(ARGS.dataplane, self.d, "badcfg", ["net_null0"], ["--config", path])
        dp.start(wait_for_socket=False)
        self.assertEqual(dp.wait_exit(30), 1)
        self.assertIn("vips[0].backends[0].weight", dp.log_text())

    def test_pcap_replay_forwards_every_packet(self):
        n = 2000
        inp = self.flows("in.pcap", n)
        out = os.path.join(self.d, "out.pcap")
        with Dataplane(ARGS.dataplane, self.d, "replay",
                       [f"net_pcap0,rx_pcap={inp},tx_pcap={out}"],
                       ["--config", self.config]) as dp:
            # The whole pcap has been received and sent once tx reaches n.
            c = dp.wait_counters(lambda c: summary(c)["tx"] >= n, timeout=60)
            self.assertEqual((summary(c)["rx"], summary(c)["tx"]), (n, n))
            self.assertEqual(nonzero_drops(c), {})
        # Leaving the block sent SIGTERM: a clean exit logs the final totals and closes out.pcap.
        self.assertEqual(dp.returncode, 0, dp.log_text())
        self.assertIn("signal 15: stopping", dp.log_text())
        self.assertIn(f"stopped: {n} packets received: {n} forwarded, 0 replied, 0 passed to the "
                      f"host, 0 dropped; {n} sent", dp.log_text())
        sent, received = read_pcap(out), read_pcap(inp)
        self.assertEqual(len(sent), n)
        seen = {b: 0 for b in BACKENDS}
        for frame_in, frame_out in zip(received, sent):
            # IPIP: outer IPv4 (protocol 4) from the tunnel source, then the client's datagram.
            self.assertEqual(frame_out[:6], bytes.fromhex("0200000000fe"))
            self.assertEqual(frame_out[23], 4)
            self.assertEqual(frame_out[26:30], bytes([198, 18, 0, 1]))
            backend = ".".join(str(x) for x in frame_out[30:34])
            self.assertIn(backend, seen)
            seen[backend] += 1
            self.assertEqual(frame_out[34:], frame_in[14:])
        self.assertTrue(all(v > n // 4 for v in seen.values()), seen)

    def test_non_vip_without_host_port_is_counted(self):
        inp = self.flows("other.pcap", 300, vip="198.18.0.99")
        out = os.path.join(self.d, "out.pcap")
        with Dataplane(ARGS.dataplane, self.d, "nohost",
                       [f"net_pcap0,rx_pcap={inp},tx_pcap={out}"],
                       ["--config", self.config]) as dp:
            c = dp.wait_counters(lambda c: summary(c)["rx"] >= 300)
            self.assertEqual(nonzero_drops(c), {"no_host_port": 300})
            mode = stat.S_IMODE(os.stat(dp.socket_path).st_mode)
            self.assertEqual(mode, 0o600)
        self.assertEqual(read_pcap(out), [])

    def test_without_state_everything_goes_to_the_host(self):
        inp = self.flows("in.pcap", 100)
        host = os.path.join(self.d, "host.pcap")
        with Dataplane(ARGS.dataplane, self.d, "nostate",
                       [f"net_pcap0,rx_pcap={inp}", f"net_pcap1,tx_pcap={host}"],
                       ["--host-port", "1"]) as dp:
            status = dp.request({"op": "get_status"})
            self.assertEqual((status["generation"], status["vips"]), (0, 0))
            c = dp.wait_counters(lambda c: summary(c)["tx"] >= 100)
            self.assertEqual(nonzero_drops(c), {})
        self.assertEqual(read_pcap(host), read_pcap(inp))

    def test_exception_tap_in_a_private_namespace(self):
        ns = f"sl-dpt-tap-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", ns], check=True)
        try:
            inp = self.flows("in.pcap", 10)
            dp = Dataplane(ARGS.dataplane, self.d, "tap", [f"net_pcap0,rx_pcap={inp}"],
                           ["--config", self.config, "--exception-tap", "sl-exc0"])
            dp.cmd = ["ip", "netns", "exec", ns] + dp.cmd
            with dp:
                link = subprocess.run(["ip", "-n", ns, "link", "show", "sl-exc0"],
                                      capture_output=True, text=True)
                self.assertEqual(link.returncode, 0, dp.log_text())
                self.assertIn("02:70:63:61:70:00", link.stdout)  # the uplink's (pcap) MAC
                self.assertIn("host (exception path)", dp.log_text())
            self.assertEqual(dp.returncode, 0, dp.log_text())
            gone = subprocess.run(["ip", "-n", ns, "link", "show", "sl-exc0"],
                                  capture_output=True, text=True)
            self.assertNotEqual(gone.returncode, 0, "TAP left behind")
        finally:
            subprocess.run(["ip", "netns", "del", ns])


    def test_kernel_ports_af_packet_and_af_xdp(self):
        """The same forwarding on kernel-backed PMDs, on a veth pair in a private namespace:
        100 SYNs to the VIP sent on one end come back IPIP-encapsulated on it."""
        ns = f"sl-dpt-veth-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", ns], check=True)
        try:
            for cmd in (["link", "add", "va", "type", "veth", "peer", "name", "vb"],
                        ["link", "set", "va", "up"], ["link", "set", "vb", "up"]):
                subprocess.run(["ip", "-n", ns] + cmd, check=True)
            for vdev in ("net_af_packet0,iface=va",
                         "net_af_xdp0,iface=va,start_queue=0,queue_count=1"):
                with self.subTest(vdev=vdev):
                    dp = Dataplane(ARGS.dataplane, self.d, "veth", [vdev],
                                   ["--config", self.config])
                    dp.cmd = ["ip", "netns", "exec", ns] + dp.cmd
                    with dp:
                        out = subprocess.run(
                            ["ip", "netns", "exec", ns, "/usr/bin/python3", "-c", VETH_TRAFFIC],
                            capture_output=True, text=True, timeout=60)
                        self.assertIn("captured 100", out.stdout, out.stderr)
                        c = dp.wait_counters(
                            lambda c: sum(v["packets"] for v in c["per_vip"]) >= 100)
                        self.assertEqual(sum(v["packets"] for v in c["per_vip"]), 100)
                        # Whatever else the kernel sent (IPv6 ND/MLD) is not ours and there is
                        # no host port: counted, never forwarded.
                        self.assertEqual(set(nonzero_drops(c)) - {"no_host_port"}, set())
                    self.assertEqual(dp.returncode, 0, dp.log_text())
        finally:
            subprocess.run(["ip", "netns", "del", ns])

    def test_af_xdp_steering_map_follows_the_state(self):
        """af_xdp with Sluice's steering program: the dataplane fills its VIP map, so VIP
        packets reach DPDK and the rest stays in the kernel; a pushed state updates the map."""
        if not ARGS.xdp_prog:
            self.skipTest("no --xdp-prog")
        ns = f"sl-dpt-xdp-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", ns], check=True)
        try:
            for cmd in (["link", "add", "va", "type", "veth", "peer", "name", "vb"],
                        ["link", "set", "va", "up"], ["link", "set", "vb", "up"]):
                subprocess.run(["ip", "-n", ns] + cmd, check=True)
            vdev = (f"net_af_xdp0,iface=va,start_queue=0,queue_count=1,"
                    f"xdp_prog={ARGS.xdp_prog}")
            dp = Dataplane(ARGS.dataplane, self.d, "xdp", [vdev],
                           ["--config", self.config, "--xdp-steering", "/sys/fs/bpf"])
            # bpffs for the pinned maps, in the namespace's own mount namespace.
            dp.cmd = ["ip", "netns", "exec", ns, "sh", "-c",
                      'mount -t bpf bpf /sys/fs/bpf && exec "$@"', "sh"] + dp.cmd
            with dp:
                out = subprocess.run(
                    ["ip", "netns", "exec", ns, "/usr/bin/python3", "-c", VETH_TRAFFIC_MIXED],
                    capture_output=True, text=True, timeout=60)
                self.assertIn("captured 100", out.stdout, out.stderr)
                c = dp.wait_counters(lambda c: sum(v["packets"] for v in c["per_vip"]) >= 100)
                # The 50 non-VIP packets (and the kernel's own ND/MLD) never reached DPDK.
                self.assertEqual(summary(c)["rx"], 100)
                self.assertIn("xdp steering: 1 VIPs steered to DPDK", dp.log_text())
                more = state(2)
                more["vips"].append(dict(more["vips"][0], port=443))
                reply = dp.request({"op": "push_state", "state": more})
                self.assertTrue(reply["ok"], reply)
                self.assertIn("xdp steering: 2 VIPs steered to DPDK", dp.log_text())
            self.assertEqual(dp.returncode, 0, dp.log_text())
        finally:
            subprocess.run(["ip", "netns", "del", ns])


# Sends 100 SYNs to the VIP on vb and counts the IPIP frames that come back (bounded: 5 s).
VETH_TRAFFIC = """
import time
from scapy.all import IP, TCP, AsyncSniffer, Ether, sendp
frames = [Ether(dst="02:00:00:00:00:01") / IP(src="198.19.0.%d" % i, dst="198.18.0.10") /
          TCP(sport=1000 + i, dport=80, flags="S") for i in range(100)]
sniffer = AsyncSniffer(iface="vb", filter="ip proto 4", count=100, timeout=5)
sniffer.start()
time.sleep(0.5)
sendp(frames, iface="vb", verbose=0)
sniffer.join()
print("captured", len(sniffer.results))
"""

# The same plus 50 SYNs to an address that is no VIP (they must stay in the kernel).
VETH_TRAFFIC_MIXED = VETH_TRAFFIC.replace(
    "for i in range(100)]",
    "for i in range(100)] + [Ether(dst='02:00:00:00:00:01') / IP(src='198.19.1.%d' % i, "
    "dst='198.18.0.99') / TCP(sport=1000 + i, dport=80, flags='S') for i in range(50)]")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--dataplane", required=True)
    p.add_argument("--flowgen", required=True)
    p.add_argument("--xdp-prog", help="bpf/xsk_steer.bpf.o (af_xdp steering test)")
    ARGS, rest = p.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)

"""Every drop reason of the parser that a frame can trigger, one packet each, plus the
dataplane's own drops that need no state change (no_backend, segmented frames)."""

import struct

from scapy.all import ICMP, IP, TCP, UDP, Dot1Q, Dot1AD, Ether, IPv6, Raw
from scapy.layers.inet6 import (IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop)

from golden import Case, Step, config, vip
from packets import CLIENT4, CLIENT6, dropped, l2

VIP4 = "198.18.0.10"
VIP6 = "2001:db8::10"


def ip4(**kw):
    return IP(src=CLIENT4, dst=VIP4, **kw)


def ip6(**kw):
    return IPv6(src=CLIENT6, dst=VIP6, **kw)


def malformed():
    tcp = TCP(sport=40000, dport=80, flags="S")
    v4_header = bytes(ip4(proto=6) / tcp)[:20]
    return [
        ("l2_truncated", bytes(l2())[:10]),
        ("l2_truncated", bytes(Ether(src="02:00:00:00:00:c1", dst="02:00:00:00:00:01",
                                     type=0x8100)) + b"\x00\x64"),
        ("l2_double_vlan", l2() / Dot1AD(vlan=1) / Dot1Q(vlan=2) / ip4() / tcp),
        ("ipv4_truncated", bytes(Ether(dst="02:00:00:00:00:01", type=0x0800)) + v4_header[:12]),
        ("ipv4_bad_version", l2() / ip4(version=5) / tcp),
        ("ipv4_bad_ihl", l2() / ip4(ihl=4) / tcp),
        ("ipv4_bad_ihl", bytes(l2() / ip4(ihl=15, proto=6)) + bytes(10)),
        ("ipv4_bad_total_length", l2() / ip4(len=19) / tcp),
        ("ipv4_bad_total_length", l2() / ip4(len=200) / tcp),
        ("ipv4_bad_fragment", l2() / ip4(flags="MF", proto=17) / Raw(b"1234567")),
        ("ipv6_truncated", bytes(Ether(dst="02:00:00:00:00:01", type=0x86DD)) + b"\x60" + bytes(30)),
        ("ipv6_bad_version", l2() / ip6(version=4) / tcp),
        ("ipv6_bad_payload_length", l2() / ip6(plen=100) / TCP(sport=40000, dport=443)),
        ("ipv6_ext_truncated", l2() / ip6(nh=60) / Raw(b"\x06\x05" + bytes(6))),
        ("ipv6_ext_chain_too_long",
         l2() / ip6() / (IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() /
                         IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() /
                         IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt()) /
         TCP(sport=40000, dport=443)),
        ("ipv6_bad_fragment", l2() / ip6() / IPv6ExtHdrFragment(m=1, id=1) /
         IPv6ExtHdrFragment(m=1, id=1) / Raw(b"x" * 16)),
        ("ipv6_misplaced_hop_by_hop", l2() / ip6() / IPv6ExtHdrDestOpt() / IPv6ExtHdrHopByHop() /
         TCP(sport=40000, dport=443)),
        ("tcp_truncated", l2() / ip4(proto=6) / Raw(bytes(10))),
        ("tcp_bad_data_offset", l2() / ip4() / TCP(sport=40000, dport=80, dataofs=4)),
        ("tcp_bad_data_offset", l2() / ip4() / TCP(sport=40000, dport=80, dataofs=15)),
        ("udp_truncated", l2() / ip4(proto=17) / Raw(bytes(4))),
        ("udp_bad_length", l2() / ip4() / UDP(sport=40000, dport=53, len=4)),
        ("udp_bad_length", l2() / ip4() / UDP(sport=40000, dport=53, len=200) / Raw(b"abc")),
        ("icmp_truncated", l2() / ip4(proto=1) / Raw(b"\x08\x00")),
        ("icmp_inner_malformed", l2() / ip4() / ICMP(type=3, code=4) / Raw(bytes(5))),
    ]


def cases():
    cfg = config([vip(VIP4, 80, "tcp", ["198.18.1.1"]), vip(VIP4, 53, "udp", ["198.18.1.1"]),
                  vip(VIP6, 443, "tcp", ["2001:db8:1::1"]),
                  vip("198.18.0.12", 80, "tcp", ["198.18.1.1", "198.18.1.2"], weights=[0, 0])])
    steps = [dropped(pkt, reason) for reason, pkt in malformed()]
    # A VIP whose backends all have weight 0 has nothing to give a new flow to.
    steps.append(dropped(l2() / IP(src=CLIENT4, dst="198.18.0.12") / TCP(dport=80), "no_backend"))

    def every_drop_counted(verdicts, counters):
        for reason, _ in malformed():
            assert counters["drops"][reason] >= 1, reason
        assert counters["drops"]["no_backend"] == 1
        total = sum(counters["drops"].values())
        assert total == len(verdicts), (total, len(verdicts))

    return [Case("malformed_drops", cfg, steps, check=every_drop_counted)]

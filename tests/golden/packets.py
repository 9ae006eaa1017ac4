"""Client packets and expected-verdict helpers shared by the case files."""

from scapy.all import ICMP, IP, TCP, UDP, Ether, IPv6, Raw
from scapy.layers.inet6 import ICMPv6EchoRequest

from golden import CLIENT_MAC, LB_MAC, Step, encap, hash3, hash5

CLIENT4 = "198.18.2.1"
CLIENT6 = "2001:db8:2::1"


def l2():
    return Ether(src=CLIENT_MAC, dst=LB_MAC)


def tcp4(dst="198.18.0.10", dport=80, src=CLIENT4, sport=40000, flags="S", payload=b"",
         df=True, **ip):
    return l2() / IP(src=src, dst=dst, flags="DF" if df else 0, **ip) / \
        TCP(sport=sport, dport=dport, flags=flags, seq=1000) / Raw(payload)


def udp4(dst="198.18.0.10", dport=53, src=CLIENT4, sport=40000, payload=b"query", df=False,
         **ip):
    return l2() / IP(src=src, dst=dst, flags="DF" if df else 0, **ip) / \
        UDP(sport=sport, dport=dport) / Raw(payload)


def tcp6(dst="2001:db8::10", dport=443, src=CLIENT6, sport=40000, flags="S", payload=b"", **ip):
    return l2() / IPv6(src=src, dst=dst, **ip) / TCP(sport=sport, dport=dport, flags=flags,
                                                     seq=1000) / Raw(payload)


def udp6(dst="2001:db8::10", dport=53, src=CLIENT6, sport=40000, payload=b"query", **ip):
    return l2() / IPv6(src=src, dst=dst, **ip) / UDP(sport=sport, dport=dport) / Raw(payload)


def ping4(dst, src=CLIENT4, ident=7, seq=1, payload=b"ping-payload"):
    return l2() / IP(src=src, dst=dst) / ICMP(type=8, id=ident, seq=seq) / Raw(payload)


def ping6(dst, src=CLIENT6, ident=7, seq=1, payload=b"ping-payload"):
    return l2() / IPv6(src=src, dst=dst) / ICMPv6EchoRequest(id=ident, seq=seq, data=payload)


def five_tuple(pkt):
    ip = pkt[IP] if IP in pkt else pkt[IPv6]
    l4 = pkt[TCP] if TCP in pkt else pkt[UDP]
    proto = 6 if TCP in pkt else 17
    return ip.src, ip.dst, l4.sport, l4.dport, proto


def flow_hash(pkt):
    return hash5(*five_tuple(pkt))


def fwd(pkt, backend, kind="ipip", t=None, hash_value=None):
    """The packet is forwarded, encapsulated, to `backend` (an address or a set of allowed)."""
    h = flow_hash(pkt) if hash_value is None else hash_value
    return Step(pkt, "forward", backend=backend, out=[lambda b: encap(pkt, b, kind, h)], t=t)


def passed(pkt, t=None):
    return Step(pkt, "pass", t=t)


def dropped(pkt, reason, t=None):
    return Step(pkt, "drop", reason=reason, t=t)


__all__ = ["CLIENT4", "CLIENT6", "l2", "tcp4", "udp4", "tcp6", "udp6", "ping4", "ping6",
           "five_tuple", "flow_hash", "fwd", "passed", "dropped", "hash3", "hash5", "encap"]

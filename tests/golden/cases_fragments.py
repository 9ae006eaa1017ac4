"""IP fragments: every fragment of a datagram reaches the same backend (3-tuple hash into the
VIP's Maglev table), or is dropped when the VIP's policy says so or the VIP cannot be told
(several of its protocol on the address); a fragment of a protocol no VIP on the address takes
goes to the host."""

from scapy.all import IP, TCP, UDP, Raw, fragment
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, fragment6

from golden import Case, Step, config, encap, vip
from packets import CLIENT4, CLIENT6, dropped, fwd, hash3, l2, passed, udp6

VIP4 = "198.18.0.10"
VIP6 = "2001:db8::10"
B4 = ["198.18.1.1", "198.18.1.2", "198.18.1.3"]
B6 = ["2001:db8:1::1", "2001:db8:1::2"]


def v4_fragments(dst=VIP4, sport=40000, dport=53):
    datagram = IP(src=CLIENT4, dst=dst, id=999) / UDP(sport=sport, dport=dport) / Raw(b"F" * 2000)
    return [l2() / f for f in fragment(datagram, fragsize=800)]


def v6_fragments():
    datagram = IPv6(src=CLIENT6, dst=VIP6) / IPv6ExtHdrFragment(id=1234) / \
        UDP(sport=40000, dport=53) / Raw(b"S" * 2000)
    return [l2() / f for f in fragment6(datagram, 1000)]


def v6_other_protocol_fragments():
    """Datagrams to the VIP address of protocols no VIP there takes (GRE, and TCP while the
    address has only a UDP VIP), fragmented."""
    gre = IPv6(src=CLIENT6, dst=VIP6) / IPv6ExtHdrFragment(id=77, nh=47) / Raw(b"G" * 2000)
    tcp = IPv6(src=CLIENT6, dst=VIP6) / IPv6ExtHdrFragment(id=78) / TCP(dport=80) / \
        Raw(b"T" * 2000)
    return [l2() / f for d in (gre, tcp) for f in fragment6(d, 1000)]


def frag_step(pkt, backends, h):
    return Step(pkt, "forward", backend=backends, out=[lambda b: encap(pkt, b, "gue", h)])


def cases():
    cfg = config([vip(VIP4, 53, "udp", B4, encap="gue"), vip(VIP6, 53, "udp", B6, encap="gue"),
                  vip("198.18.0.20", 53, "udp", B4, fragments="drop"),
                  # two port VIPs on one address: a non-first fragment cannot be told apart
                  vip("198.18.0.21", 53, "udp", B4), vip("198.18.0.21", 54, "udp", B4)])
    f4 = v4_fragments()
    f6 = v6_fragments()
    h4 = hash3(CLIENT4, VIP4, 17)
    h6 = hash3(CLIENT6, VIP6, 17)
    steps = [frag_step(p, B4, h4) for p in f4] + [frag_step(p, B6, h6) for p in f6]
    steps += [dropped(p, "fragment_unsupported") for p in v4_fragments(dst="198.18.0.20")]
    steps += [dropped(p, "fragment_unsupported") for p in v4_fragments(dst="198.18.0.21")]
    # A fragment of a protocol no VIP on the address takes goes to the host, like an
    # unfragmented packet of that protocol (docs/dataplane.md, "Fragments").
    other = v6_other_protocol_fragments()
    steps += [passed(p) for p in other]
    # An unfragmented packet of the same client is an ordinary flow (5-tuple).
    steps.append(fwd(udp6(), B6, "gue"))

    def together(verdicts, counters):
        n4, n6 = len(f4), len(f6)
        assert n4 == 3 and n6 == 3, (n4, n6)
        assert len({v["backend"] for v in verdicts[:n4]}) == 1, verdicts[:n4]
        assert len({v["backend"] for v in verdicts[n4:n4 + n6]}) == 1, verdicts[n4:n4 + n6]
        assert counters["events"]["fragments_forwarded"] == n4 + n6, counters["events"]
        assert counters["drops"]["fragment_unsupported"] == 2 * n4

    return [Case("fragments", cfg, steps, check=together)]

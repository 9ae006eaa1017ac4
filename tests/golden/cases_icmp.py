"""ICMP: echo replies for VIPs, errors about VIP flows routed to the flow's backend,
frag-needed / packet-too-big for packets that would not fit once encapsulated."""

from scapy.all import ICMP, IP, TCP, UDP, Ether, IPv6, Raw
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6ND_NS, ICMPv6PacketTooBig

from golden import OUTER_TTL, Case, Step, config, encap, too_big_reply, vip
from packets import (CLIENT4, CLIENT6, dropped, fwd, hash5, l2, passed, ping4, ping6, tcp4, tcp6,
                     udp4)

VIP4 = "198.18.0.10"
VIP6 = "2001:db8::10"
BACKENDS4 = ["198.18.1.1", "198.18.1.2", "198.18.1.3"]
BACKENDS6 = ["2001:db8:1::1", "2001:db8:1::2"]
ROUTER4 = "198.18.3.1"
ROUTER6 = "2001:db8:3::1"


def echo_reply4(request):
    req = Ether(bytes(request))
    return bytes(Ether(dst=req.src, src=req.dst) /
                 IP(src=req[IP].dst, dst=req[IP].src, ttl=OUTER_TTL, id=req[IP].id,
                    flags=req[IP].flags, tos=req[IP].tos) /
                 ICMP(type=0, id=req[ICMP].id, seq=req[ICMP].seq) / Raw(bytes(req[ICMP].payload)))


def echo_reply6(request):
    req = Ether(bytes(request))
    return bytes(Ether(dst=req.src, src=req.dst) /
                 IPv6(src=req[IPv6].dst, dst=req[IPv6].src, hlim=OUTER_TTL, tc=req[IPv6].tc,
                      fl=req[IPv6].fl) /
                 ICMPv6EchoReply(id=7, seq=1, data=b"ping-payload"))


def frag_needed_from_router(quoted_tcp_sport=40000, vip_port=80):
    """A router on the backend->client path tells the VIP (the packets' source) to shrink."""
    quoted = IP(src=VIP4, dst=CLIENT4, flags="DF") / TCP(sport=vip_port, dport=quoted_tcp_sport,
                                                        flags="A")
    return l2() / IP(src=ROUTER4, dst=VIP4) / ICMP(type=3, code=4, nexthopmtu=1400) / \
        Raw(bytes(quoted)[:28])


def ptb6_from_router():
    quoted = IPv6(src=VIP6, dst=CLIENT6) / TCP(sport=443, dport=40000, flags="A") / Raw(b"x" * 64)
    return l2() / IPv6(src=ROUTER6, dst=VIP6) / ICMPv6PacketTooBig(mtu=1400) / Raw(bytes(quoted))


def cases():
    out = []
    base = config([vip(VIP4, 80, "tcp", BACKENDS4), vip(VIP6, 443, "tcp", BACKENDS6)])

    p4, p6 = ping4(VIP4), ping6(VIP6)
    out.append(Case("icmp_echo", base, [
        Step(p4, "reply", reply="echo", out=[echo_reply4(p4)]),
        Step(p6, "reply", reply="echo", out=[echo_reply6(p6)]),
        passed(ping4("198.18.0.99")),                        # not a VIP address: the host's
        dropped(l2() / IP(src=CLIENT4, dst=VIP4) / ICMP(type=13), "icmp_unsupported"),
        passed(l2() / IPv6(src=CLIENT6, dst=VIP6) / ICMPv6ND_NS(tgt=VIP6)),  # neighbour discovery
    ], check=lambda v, c: _expect(c["events"]["icmp_echo_replies"] == 2, c["events"])))

    # The flow first, then an ICMP error about it: the error must reach the flow's backend.
    syn4 = tcp4()
    syn6 = tcp6()
    err4 = frag_needed_from_router()
    err6 = ptb6_from_router()
    flow4_hash = hash5(CLIENT4, VIP4, 40000, 80, 6)
    flow6_hash = hash5(CLIENT6, VIP6, 40000, 443, 6)

    def same_backend(verdicts, counters):
        assert verdicts[1]["backend"] == verdicts[0]["backend"], verdicts[:2]
        assert verdicts[3]["backend"] == verdicts[2]["backend"], verdicts[2:4]
        assert counters["events"]["icmp_errors_forwarded"] == 3, counters["events"]

    out.append(Case("icmp_error_to_flow_backend", base, [
        fwd(syn4, BACKENDS4),
        Step(err4, "forward", backend=BACKENDS4,
             out=[lambda b: encap(err4, b, "ipip", flow4_hash)]),
        fwd(syn6, BACKENDS6),
        Step(err6, "forward", backend=BACKENDS6,
             out=[lambda b: encap(err6, b, "ipip", flow6_hash)]),
        # No flow-table entry (another client port): the scheduler's choice, same as a new flow.
        Step(frag_needed_from_router(quoted_tcp_sport=41000), "forward", backend=BACKENDS4,
             out=[lambda b: encap(frag_needed_from_router(quoted_tcp_sport=41000), b, "ipip",
                                  hash5(CLIENT4, VIP4, 41000, 80, 6))]),
        # About a port that is no VIP.
        dropped(frag_needed_from_router(vip_port=81), "icmp_error_no_flow"),
    ], check=same_backend))

    # Too big once encapsulated, DF set (always for IPv6): the client is told the usable MTU.
    big4 = tcp4(flags="A", payload=b"a" * (1500 - 40))             # IP length 1500
    fits4 = tcp4(flags="A", payload=b"a" * (1480 - 40))            # 1480 + 20 = 1500: fits
    big6 = tcp6(flags="A", payload=b"b" * (1500 - 60))
    big4_nodf = udp4(df=False, payload=b"c" * (1500 - 28))
    single = config([vip(VIP4, 80, "tcp", ["198.18.1.1"]), vip(VIP6, 443, "tcp", ["2001:db8:1::1"]),
                     vip(VIP4, 53, "udp", ["198.18.1.1"])])
    out.append(Case("too_big_ipip", single, [
        Step(big4, "reply", reply="too_big", out=[too_big_reply(big4, 1480)]),
        fwd(fits4, "198.18.1.1"),
        Step(big6, "reply", reply="too_big", out=[too_big_reply(big6, 1460)]),
        dropped(big4_nodf, "too_big_no_df"),
    ], check=lambda v, c: _expect(c["events"]["too_big_sent"] == 2 and "too_big" not in c["drops"]
                                  and c["per_lcore"][0]["reply"] == 2, c)))

    gue = config([vip(VIP4, 80, "tcp", ["2001:db8:1::1"], encap="gue")], mtu=1400)
    big = tcp4(flags="A", payload=b"a" * (1400 - 40 - 51))   # 1349 + 52 = 1401
    ok = tcp4(flags="A", payload=b"a" * (1400 - 40 - 52))
    out.append(Case("too_big_gue_4in6", gue, [
        Step(big, "reply", reply="too_big", out=[too_big_reply(big, 1348)]),
        fwd(ok, "2001:db8:1::1", "gue"),
    ]))
    return out


def _expect(condition, detail):
    assert condition, detail

"""Effects inside one burst and between two (run_golden.py --burst): a new flow's later packets
in the same burst, flows created and hit in one burst with other flows of the same bucket
interleaved, an eviction inside a burst, a state swap between two bursts of the same flows,
and a burst mixing every verdict. Packets are 1 ms apart (one capture second), so at --burst 7
or 64 they share bursts; every case holds at every size, burst 1 included.

Round-robin makes each scheduling decision visible: a packet that missed an entry created
earlier in its burst would be scheduled again and go to the next backend in turn."""

from scapy.all import ARP, IP, TCP, Ether

from cases_icmp import echo_reply4, frag_needed_from_router
from golden import Case, Step, config, encap, too_big_reply, vip
from packets import CLIENT4, dropped, fwd, hash5, l2, passed, ping4, tcp4, udp4

VIP4 = "198.18.0.10"
B = ["198.18.1.1", "198.18.1.2", "198.18.1.3"]
TABLE = 1024  # flow-table entries: 128 buckets of 8


def one_bucket_ports(n, entries=TABLE, first=20000):
    """n client ports whose flows CLIENT4:port -> VIP4:80/tcp share one flow-table bucket (the
    bucket is the flow hash's high bits: docs/dataplane.md)."""
    shift = 32 - ((entries // 8).bit_length() - 1)  # 32 - log2(buckets)

    def bucket(port):
        return hash5(CLIENT4, VIP4, port, 80, 6) >> shift

    ports = [p for p in range(first, first + 200 * n) if bucket(p) == bucket(first)]
    assert len(ports) >= n, ports
    return ports[:n]


def per_backend(counters, vip_index=0):
    v = counters["per_vip"][vip_index]
    return v, {b["address"]: b for b in v["per_backend"]}


def cases():
    out = []
    rr = dict(scheduler="round-robin")

    # (a) Three packets of one new flow in one burst: one scheduling, one entry.
    def one_new_flow(verdicts, counters):
        v, pb = per_backend(counters)
        assert v["new_flows"] == 1 and v["active_flows"] == 1 and v["packets"] == 3, v
        assert pb[B[0]]["packets"] == 3 and pb[B[0]]["active_flows"] == 1, pb
        assert pb[B[1]]["packets"] == 0 and pb[B[1]]["new_flows"] == 0, pb

    out.append(Case("burst_new_flow_twice", config([vip(VIP4, 80, "tcp", B[:2], **rr)]), [
        fwd(tcp4(sport=1), B[0]),
        fwd(tcp4(sport=1, flags="A"), B[0]),
        fwd(tcp4(sport=1, flags="PA", payload=b"GET /"), B[0]),
    ], check=one_new_flow))

    # (b) Flows created and hit in one burst, interleaved, all in one bucket (so a hit has to
    # pick its own slot among entries written earlier in the burst), plus a UDP VIP.
    a, b_, c, d, e = one_bucket_ports(5)
    udp = vip(VIP4, 53, "udp", B[1:], **rr)

    def interleaved(verdicts, counters):
        v, pb = per_backend(counters)
        assert v["new_flows"] == 5 and v["active_flows"] == 5 and v["packets"] == 12, v
        assert [pb[x]["active_flows"] for x in B] == [2, 2, 1], pb
        assert [pb[x]["packets"] for x in B] == [6, 4, 2], pb
        u = counters["per_vip"][1]
        assert u["new_flows"] == 2 and u["active_flows"] == 2 and u["packets"] == 3, u
        assert counters["events"]["flows_evicted"] == 0, counters["events"]

    out.append(Case("burst_flows_created_and_hit",
                    config([vip(VIP4, 80, "tcp", B, **rr), udp], flow_table_entries=TABLE), [
        fwd(tcp4(sport=a), B[0]),
        fwd(tcp4(sport=b_), B[1]),
        fwd(tcp4(sport=a, flags="A"), B[0]),
        fwd(tcp4(sport=c), B[2]),
        fwd(udp4(sport=a), B[1]),                    # the UDP VIP's own cursor
        fwd(tcp4(sport=b_, flags="A"), B[1]),
        fwd(tcp4(sport=a, flags="PA", payload=b"x"), B[0]),
        fwd(tcp4(sport=d), B[0]),
        fwd(udp4(sport=a), B[1]),
        fwd(tcp4(sport=c, flags="A"), B[2]),
        fwd(tcp4(sport=d, flags="A"), B[0]),
        fwd(udp4(sport=b_), B[2]),
        fwd(tcp4(sport=e), B[1]),
        fwd(tcp4(sport=e, flags="A"), B[1]),
        fwd(tcp4(sport=a, flags="A"), B[0]),
    ], check=interleaved))

    # (e) Eviction inside a burst: eight established flows fill a bucket, one of them closes
    # (closing: the only entry that has not proven a live connection), a ninth flow's SYN takes
    # its slot; the others still hit. The closed flow's next packet (an ACK, which may evict an
    # established entry when the bucket holds nothing else) is a new flow again, the next
    # backend in turn, and takes the least recently refreshed established slot.
    p = one_bucket_ports(9)

    def evicted(verdicts, counters):
        v = counters["per_vip"][0]
        events = counters["events"]
        assert events["flows_evicted"] == 1, events
        assert events["flows_evicted_established"] == 1, events
        assert v["new_flows"] == 10 and v["active_flows"] == 8, v

    out.append(Case("burst_eviction", config([vip(VIP4, 80, "tcp", B, **rr)],
                                             flow_table_entries=TABLE),
                    [fwd(tcp4(sport=p[i]), B[i % 3]) for i in range(8)] +
                    [fwd(tcp4(sport=p[i], flags="A"), B[i % 3]) for i in range(8)] +
                    [fwd(tcp4(sport=p[1], flags="FA"), B[1]),       # closing
                     fwd(tcp4(sport=p[8]), B[2])] +                 # its SYN evicts it
                    [fwd(tcp4(sport=p[i], flags="A"), B[i % 3]) for i in (0, 2, 3, 4, 5, 6, 7)] +
                    [fwd(tcp4(sport=p[8], flags="A"), B[2]),
                     fwd(tcp4(sport=p[1], flags="A"), B[0])],       # gone: scheduled again
                    check=evicted))

    # (c) A state swap between two bursts of the same flows: B[1] is drained after packet 4.
    # Packets 0-4 are planned before the swap (at --burst > 1 as one burst, held while the swap
    # lands) and finish on the old state: packet 4 is a new flow for B[1], its turn (on the new
    # state it would go to B[2]). After the swap the flows keep their backends, B[1] included,
    # and new flows go round B[0] and B[2].
    drained = config([vip(VIP4, 80, "tcp", B, weights=[1, 0, 1], **rr)])

    def swap(verdicts, counters):
        assert counters["generation"] == 1, counters["generation"]
        v, pb = per_backend(counters)
        assert v["new_flows"] == 8 and v["active_flows"] == 8, v
        assert [pb[x]["new_flows"] for x in B] == [4, 2, 2], pb
        assert [pb[x]["active_flows"] for x in B] == [4, 2, 2], pb
        assert counters["events"]["flows_rescheduled"] == 0, counters["events"]

    old = [B[0], B[1], B[2], B[0], B[1]]
    out.append(Case("burst_swap_between_bursts", config([vip(VIP4, 80, "tcp", B, **rr)]),
                    [fwd(tcp4(sport=1 + i), old[i]) for i in range(5)] + [
                        fwd(tcp4(sport=1, flags="A"), B[0]),
                        fwd(tcp4(sport=101), B[0]),           # new flows: B[0], B[2], B[0]
                        fwd(tcp4(sport=2, flags="A"), B[1]),  # drained: keeps its flows
                        fwd(tcp4(sport=3, flags="A"), B[2]),
                        fwd(tcp4(sport=102), B[2]),
                        fwd(tcp4(sport=5, flags="A"), B[1]),
                        fwd(tcp4(sport=4, flags="A"), B[0]),
                        fwd(tcp4(sport=103), B[0]),
                    ], updates={4: drained}, check=swap))

    # (d) One burst of every verdict, in input order: forwards, a malformed frame, non-VIP
    # frames, an echo reply, an ICMP error about a flow created earlier in the burst (to its
    # backend: a scheduler pick would be the next in turn), no_backend, a too-big reply.
    syn = tcp4()                                   # the flow the router's error quotes
    err = frag_needed_from_router()
    big = tcp4(sport=40001, flags="A", payload=b"a" * (1500 - 40))
    ping = ping4(VIP4)
    mix = config([vip(VIP4, 80, "tcp", B[:2], **rr),
                  vip("198.18.0.12", 80, "tcp", B[:2], weights=[0, 0])])

    def every_verdict(verdicts, counters):
        assert [v["verdict"] for v in verdicts] == [
            "forward", "drop", "pass", "reply", "forward", "pass", "forward", "drop", "forward",
            "reply", "drop"], verdicts
        drops = {k: n for k, n in counters["drops"].items() if n}
        assert drops == {"ipv4_bad_version": 1, "no_backend": 1, "udp_truncated": 1}, drops
        lcore = counters["per_lcore"][0]
        assert lcore["rx_packets"] == 11, lcore
        assert (lcore["forward"], lcore["reply"], lcore["pass"], lcore["drop"]) == (4, 2, 2, 3), lcore
        events = counters["events"]
        assert events["icmp_echo_replies"] == 1, events
        assert events["icmp_errors_forwarded"] == 1, events
        assert events["too_big_sent"] == 1, events
        v, pb = per_backend(counters)
        assert v["packets"] == 4 and v["new_flows"] == 2 and v["active_flows"] == 2, v
        assert v["replied"] == 2 and v["dropped"] == 0, v  # the echo and the too-big
        assert pb[B[0]]["packets"] == 3 and pb[B[1]]["packets"] == 1, pb
        empty = counters["per_vip"][1]
        assert empty["packets"] == 0 and empty["dropped"] == 1 and empty["new_flows"] == 0, empty

    out.append(Case("burst_every_verdict", mix, [
        fwd(syn, B[0]),
        dropped(l2() / IP(src=CLIENT4, dst=VIP4, version=5) / TCP(dport=80), "ipv4_bad_version"),
        passed(Ether(src="02:00:00:00:00:c1", dst="ff:ff:ff:ff:ff:ff") /
               ARP(psrc=CLIENT4, pdst=VIP4)),
        Step(ping, "reply", reply="echo", out=[echo_reply4(ping)]),
        Step(err, "forward", backend=B[0],
             out=[lambda b: encap(err, b, "ipip", hash5(CLIENT4, VIP4, 40000, 80, 6))]),
        passed(tcp4(dst="198.18.0.99")),
        fwd(tcp4(flags="A"), B[0]),
        dropped(tcp4(dst="198.18.0.12"), "no_backend"),
        fwd(tcp4(sport=40001), B[1]),
        Step(big, "reply", reply="too_big", out=[too_big_reply(big, 1480)]),
        dropped(l2() / IP(src=CLIENT4, dst=VIP4, proto=17) / b"\x00\x01", "udp_truncated"),
    ], check=every_verdict))
    return out

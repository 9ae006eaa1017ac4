"""Passive signals and SYN rescue (docs/dataplane.md, "Passive signals and SYN rescue"): per
backend, the pure SYNs forwarded, the SYN retransmissions (a SYN on an entry the client never
ACKed), the handshakes (open -> established by the client's first ACK) with their time in
power-of-two millisecond buckets, the open TCP entries that expired unanswered, and the
retransmitted SYNs moved away from a backend that takes no new flows.

sluice-pcap reads the clock once per burst (the first packet's time) and never lets a burst span
a capture second, so every packet whose time matters here is the first of its second: the
handshake times are then the same at every burst size."""

from golden import Case, Step, config, vip
from packets import fwd, tcp4, udp4

VIP4 = "198.18.0.10"
TCP_VIP = f"{VIP4}:80/tcp"
UDP_VIP = f"{VIP4}:53/udp"
B = ["198.18.1.1", "198.18.1.2", "198.18.1.3"]
U = "198.18.1.9"
ZERO_BUCKETS = [0] * 16


def backends(counters, vip_name):
    for v in counters["per_vip"]:
        if v["vip"] == vip_name:
            return {b["address"]: b for b in v["per_backend"]}
    raise AssertionError(f"no VIP {vip_name} in {counters['per_vip']}")


def expect(b, **want):
    got = {k: b[k] for k in want}
    assert got == want, (b["address"], got, want)


def buckets(**at):
    out = list(ZERO_BUCKETS)
    for k, v in at.items():
        out[int(k[1:])] = v
    return out


def cases():
    out = []

    # Counting on one backend: a handshake of 50 ms (bucket 6: [32, 64) ms), a SYN retransmitted
    # once whose handshake takes 2 s (bucket 11: [1024, 2048) ms), a SYN never answered (expires
    # after flow_open_timeout_s), and UDP flows (one of one packet, left open) that count nothing.
    tcp_udp = config([vip(VIP4, 80, "tcp", [B[0]]), vip(VIP4, 53, "udp", [U])],
                     flow_open_timeout_s=3, udp_idle_timeout_s=2)
    steps = [
        fwd(tcp4(sport=1), B[0], t=10.99),
        fwd(tcp4(sport=1, flags="A"), B[0], t=11.04),     # handshake: 50 ms
        fwd(tcp4(sport=1, flags="PA", payload=b"get"), B[0], t=11.05),
        fwd(tcp4(sport=2), B[0], t=12.0),
        fwd(tcp4(sport=2), B[0], t=13.0),                 # retransmission: stays, counted
        fwd(tcp4(sport=2, flags="A"), B[0], t=14.0),      # handshake: 2000 ms from the first SYN
        fwd(tcp4(sport=2, flags="A"), B[0], t=14.001),    # not a second handshake
        fwd(tcp4(sport=3), B[0], t=15.0),                 # never answered
        fwd(udp4(sport=5), U, t=16.0),                    # one packet: stays open, expires
        fwd(udp4(sport=6), U, t=16.001),
        fwd(udp4(sport=6), U, t=16.002),
        fwd(tcp4(sport=1, flags="PA", payload=b"more"), B[0], t=30.0),  # after the sweeps
    ]

    def counts(verdicts, counters):
        be = backends(counters, TCP_VIP)[B[0]]
        expect(be, syns=4, syn_retransmits=1, handshakes=2, unanswered=1, syn_rescued=0,
               new_flows=3, handshake_ms_buckets=buckets(b6=1, b11=1))
        expect(backends(counters, UDP_VIP)[U], syns=0, syn_retransmits=0, handshakes=0,
               unanswered=0, syn_rescued=0, new_flows=2, handshake_ms_buckets=ZERO_BUCKETS)
        assert counters["events"]["flows_expired"] == 3, counters["events"]
        assert counters["events"]["flows_rescued"] == 0, counters["events"]

    out.append(Case("passive_signals", tcp_udp, steps, check=counts))

    # A retransmitted SYN stays on its backend: round-robin over three would send a new flow to
    # B[2], the retransmission goes to B[0] again.
    rr3 = config([vip(VIP4, 80, "tcp", B, scheduler="round-robin")])

    def sticky(verdicts, counters):
        per = backends(counters, TCP_VIP)
        expect(per[B[0]], syns=2, syn_retransmits=1, new_flows=1, syn_rescued=0)
        expect(per[B[1]], syns=1, syn_retransmits=0, new_flows=1)
        expect(per[B[2]], syns=0, new_flows=0)

    out.append(Case("passive_syn_retransmit_sticky", rr3, [
        fwd(tcp4(sport=1), B[0]),
        fwd(tcp4(sport=2), B[1]),
        fwd(tcp4(sport=1), B[0]),
    ], check=sticky))

    # SYN rescue: B[0] is taken out of new-flow scheduling (weight 0) while A's client waits for
    # its SYN-ACK. With syn_rescue on (the default) A's retransmitted SYN goes to B[1] and its
    # handshake counts there, from the first SYN; D (established on B[0]) and C (open on B[1],
    # which takes new flows) stay. With it off, A stays on B[0].
    def rescue_case(name, rescue):
        extra = {} if rescue is None else {"syn_rescue": rescue}
        before = config([vip(VIP4, 80, "tcp", B[:2], scheduler="round-robin", **extra)])
        after = config([vip(VIP4, 80, "tcp", B[:2], weights=[0, 1], scheduler="round-robin",
                             **extra)])
        moved = rescue in (None, "on")
        a_to = B[1] if moved else B[0]
        steps = [
            fwd(tcp4(sport=3), B[0], t=0.0),               # D
            fwd(tcp4(sport=2), B[1], t=0.001),             # C
            fwd(tcp4(sport=3, flags="A"), B[0], t=1.0),    # D established on B[0]: 1000 ms
            fwd(tcp4(sport=1), B[0], t=1.001),             # A
            # update: B[0] weight 0
            fwd(tcp4(sport=1), a_to, t=2.0),               # A's retransmission
            fwd(tcp4(sport=1, flags="A"), a_to, t=3.0),    # A's handshake: 2000 ms
            fwd(tcp4(sport=3, flags="PA", payload=b"x"), B[0], t=3.001),  # D never moves
            fwd(tcp4(sport=2), B[1], t=3.002),             # C's retransmission: B[1] takes flows
            fwd(tcp4(sport=1, flags="PA", payload=b"y"), a_to, t=3.003),
        ]

        def check(verdicts, counters):
            per = backends(counters, TCP_VIP)
            b0, b1 = per[B[0]], per[B[1]]
            # D: 1000 ms (bucket 10); A: about 2000 ms from its first SYN (bucket 11).
            if moved:
                expect(b0, syns=2, syn_retransmits=1, syn_rescued=1, handshakes=1, new_flows=2,
                       handshake_ms_buckets=buckets(b10=1))
                expect(b1, syns=3, syn_retransmits=1, syn_rescued=0, handshakes=1, new_flows=2,
                       handshake_ms_buckets=buckets(b11=1))
            else:
                expect(b0, syns=3, syn_retransmits=1, syn_rescued=0, handshakes=2, new_flows=2,
                       handshake_ms_buckets=buckets(b10=1, b11=1))
                expect(b1, syns=2, syn_retransmits=1, syn_rescued=0, handshakes=0, new_flows=1,
                       handshake_ms_buckets=ZERO_BUCKETS)
            assert counters["events"]["flows_rescued"] == (1 if moved else 0), counters["events"]
            assert counters["events"]["flows_rescheduled"] == 0, counters["events"]

        return Case(name, before, steps, updates={3: after}, check=check)

    out.append(rescue_case("passive_syn_rescue_default_on", None))
    out.append(rescue_case("passive_syn_rescue_on", "on"))
    out.append(rescue_case("passive_syn_rescue_off", "off"))

    # Nowhere to go (every weight 0): the retransmission stays where it was, not a drop.
    def nowhere(verdicts, counters):
        per = backends(counters, TCP_VIP)
        expect(per[B[0]], syns=2, syn_retransmits=1, syn_rescued=0)
        assert counters["events"]["flows_rescued"] == 0, counters["events"]

    out.append(Case("passive_syn_rescue_nowhere",
                    config([vip(VIP4, 80, "tcp", B[:2], scheduler="round-robin")]), [
                        fwd(tcp4(sport=1), B[0], t=1.0),
                        fwd(tcp4(sport=1), B[0], t=2.0),
                        Step(tcp4(sport=9), "drop", reason="no_backend", t=2.001),
                    ], updates={0: config([vip(VIP4, 80, "tcp", B[:2], weights=[0, 0],
                                                scheduler="round-robin")])},
                    check=nowhere))
    return out

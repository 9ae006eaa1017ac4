"""Second chance (docs/second-chance.md): a TCP packet that is no SYN and opens an entry (this
host never saw its flow) in a Maglev slot whose owner changed names the slot's previous owner in
the GUE header; everything else carries nothing.

The previous table holds one backend (B[0]), so every slot's previous owner is B[0] and the
expected hop follows from the chosen backend alone: B[0] itself carries none, B[1] and B[2]
name B[0]."""

from golden import Case, Step, config, encap, vip
from packets import flow_hash, tcp4, tcp6, udp4

VIP4 = "198.18.0.10"
VIP6 = "2001:db8::10"
B = ["198.18.1.1", "198.18.1.2", "198.18.1.3"]
B6 = ["2001:db8:1::1", "2001:db8:1::2", "2001:db8:1::3"]
FLOWS = 48


def previous(addresses):
    return {"replaced_at": 1_700_000_000, "backends": [{"address": a, "weight": 1}
                                                        for a in addresses]}


def gue_vip(address, backends, prev, **extra):
    return vip(address, 80, "tcp", backends, encap="gue", previous=previous(prev), **extra)


def hop_step(pkt, backends, hop_of):
    """Forwarded to one of `backends`; the bytes name hop_of(chosen backend) (None: no hop)."""
    h = flow_hash(pkt)
    return Step(pkt, "forward", backend=backends,
                out=[lambda b: encap(pkt, b, "gue", h, second_hop=hop_of(b))])


def expect_hops(first_index, count, hop_of):
    """Check: verdict lines [first_index, +count) report the hop hop_of(backend) ("" if none)."""
    def check(verdicts):
        for v in verdicts[first_index:first_index + count]:
            want = hop_of(v["backend"]) or ""
            assert v["second_hop"] == want, (v, want)
    return check


def cases():
    out = []
    moved = lambda b: None if b == B[0] else B[0]  # noqa: E731
    none = lambda b: None  # noqa: E731

    # Misses (ACKs of flows this host never saw): the moved slots name B[0]; then the same
    # flows again keep their hop (the entry remembers it); SYNs of new flows carry nothing;
    # a flow that started here (SYN, then ACK) never carries one.
    acks = [tcp4(sport=20000 + i, flags="A", payload=b"data") for i in range(FLOWS)]
    again = [tcp4(sport=20000 + i, flags="PA", payload=b"more") for i in range(FLOWS)]
    syns = [tcp4(sport=30000 + i) for i in range(FLOWS)]
    then = [tcp4(sport=30000 + i, flags="A") for i in range(FLOWS)]
    steps = [hop_step(p, B, moved) for p in acks] + [hop_step(p, B, moved) for p in again] + \
        [hop_step(p, B, none) for p in syns + then]

    def check(verdicts, counters):
        expect_hops(0, 2 * FLOWS, moved)(verdicts)
        expect_hops(2 * FLOWS, 2 * FLOWS, none)(verdicts)
        adopted = sum(1 for v in verdicts[:FLOWS] if v["backend"] != B[0])
        assert 0 < adopted < FLOWS, f"{adopted} of {FLOWS} flows in moved slots"
        events = counters["events"]
        assert events["second_hop_flows"] == adopted, (events, adopted)
        assert events["second_hop_packets"] == 2 * adopted, (events, adopted)

    out.append(Case("second_chance_tcp4", config([gue_vip(VIP4, B, [B[0]])]), steps, check=check))

    # IPv6 outer: a 16-byte hop (hlen 5).
    acks6 = [tcp6(dport=80, sport=20000 + i, flags="A") for i in range(FLOWS)]
    moved6 = lambda b: None if b == B6[0] else B6[0]  # noqa: E731

    def check6(verdicts, counters):
        expect_hops(0, FLOWS, moved6)(verdicts)
        assert any(v["second_hop"] for v in verdicts), verdicts

    out.append(Case("second_chance_tcp6", config([gue_vip(VIP6, B6, [B6[0]])]),
                    [hop_step(p, B6, moved6) for p in acks6], check=check6))

    # A slot whose owner did not change carries nothing: the same table before and after.
    same = config([gue_vip(VIP4, B, B)])
    out.append(Case("second_chance_unmoved_slots",
                    same, [hop_step(p, B, none) for p in acks],
                    check=lambda v, c: expect_hops(0, FLOWS, none)(v)))

    # Off: nothing, even in moved slots.
    off = config([gue_vip(VIP4, B, [B[0]], second_chance="off")])
    out.append(Case("second_chance_off", off, [hop_step(p, B, none) for p in acks],
                    check=lambda v, c: expect_hops(0, FLOWS, none)(v)))

    # The adopted flows keep naming B[0] after `previous` is gone (a later push), and stop when
    # B[0] is down (it would have no flows left).
    gone = config([vip(VIP4, 80, "tcp", B, encap="gue")])
    down = config([vip(VIP4, 80, "tcp", B, encap="gue")])
    down["vips"][0]["backends"][0]["state"] = "down"
    late = [tcp4(sport=20000 + i, flags="A", payload=b"late") for i in range(FLOWS)]
    keep_steps = [hop_step(p, B, moved) for p in acks] + [hop_step(p, B, moved) for p in again]
    keep_steps += [hop_step(p, B[1:], none) for p in late]

    def check_keep(verdicts, counters):
        expect_hops(0, 2 * FLOWS, moved)(verdicts)
        # After B[0] went down its flows were rescheduled; the others name nothing now.
        expect_hops(2 * FLOWS, FLOWS, none)(verdicts)

    out.append(Case("second_chance_hop_kept_then_dropped", config([gue_vip(VIP4, B, [B[0]])]),
                    keep_steps, updates={FLOWS - 1: gone, 2 * FLOWS - 1: down}, check=check_keep))

    # UDP never carries a hop (second chance is TCP only).
    udp_prev = vip(VIP4, 53, "udp", B, encap="gue", previous=previous([B[0]]))
    udps = [udp4(sport=20000 + i) for i in range(FLOWS)]
    out.append(Case("second_chance_not_udp", config([udp_prev]),
                    [Step(p, "forward", backend=B,
                          out=[lambda b, p=p: encap(p, b, "gue", flow_hash(p))]) for p in udps],
                    check=lambda v, c: expect_hops(0, FLOWS, none)(v)))
    return out

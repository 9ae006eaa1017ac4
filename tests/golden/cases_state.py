"""State over time: stickiness across a weight change, drain, backend removal, idle expiry,
the shorter expiry after FIN/RST, and every scheduler's choices."""

from collections import Counter

from golden import Case, Step, config, vip
from packets import dropped, encap, flow_hash, fwd, tcp4, udp4, udp6

VIP4 = "198.18.0.10"
B = ["198.18.1.1", "198.18.1.2", "198.18.1.3", "198.18.1.4"]
FLOWS = 120


def syns(n, sport0=20000, **kw):
    return [tcp4(sport=sport0 + i, **kw) for i in range(n)]


def sticky_case(name, before, after, check_new):
    """FLOWS flows under `before`, the update, the same flows again, then FLOWS new ones."""
    old = syns(FLOWS)
    again = [tcp4(sport=20000 + i, flags="A") for i in range(FLOWS)]
    new = syns(FLOWS, sport0=30000)
    after_backends = [b["address"] for b in after["vips"][0]["backends"]]
    steps = [fwd(p, B) for p in old] + [fwd(p, B) for p in again] + \
        [fwd(p, after_backends) for p in new]

    def check(verdicts, counters):
        first = [v["backend"] for v in verdicts[:FLOWS]]
        second = [v["backend"] for v in verdicts[FLOWS:2 * FLOWS]]
        check_new(first, second, [v["backend"] for v in verdicts[2 * FLOWS:]], counters)

    return Case(name, before, steps, updates={FLOWS - 1: after}, check=check)


def cases():
    out = []
    four = config([vip(VIP4, 80, "tcp", B)])

    # Weight change: existing flows keep their backend; new flows follow the new weights.
    heavier = config([vip(VIP4, 80, "tcp", B, weights=[10, 1, 1, 1])])

    def weight_change(first, second, new, counters):
        assert len(set(first)) == 4, Counter(first)
        assert second == first, "a flow moved after a weight change"
        share = Counter(new)[B[0]] / len(new)
        assert share > 0.6, f"backend 1 got {share:.0%} of new flows at weight 10/13"

    out.append(sticky_case("sticky_weight_change", four, heavier, weight_change))

    # Drain (weight 0): its flows stay, it gets no new ones.
    drained = config([vip(VIP4, 80, "tcp", B, weights=[1, 0, 1, 1])])

    def drain(first, second, new, counters):
        assert second == first, "a flow moved when its backend was drained"
        assert B[1] in first
        assert B[1] not in new, "a drained backend got a new flow"

    out.append(sticky_case("drain_keeps_flows", four, drained, drain))

    # Removal: flows of the removed backend are rescheduled, everyone else stays.
    removed = config([vip(VIP4, 80, "tcp", [B[0], B[2], B[3]])])

    def removal(first, second, new, counters):
        for a, b in zip(first, second):
            if a == B[1]:
                assert b in (B[0], B[2], B[3]), b
            else:
                assert a == b, "a flow of a surviving backend moved"
        moved = first.count(B[1])
        assert moved > 0
        assert counters["events"]["flows_rescheduled"] == moved, counters["events"]
        assert B[1] not in new

    out.append(sticky_case("removed_backend_reschedules", four, removed, removal))

    # Idle expiry (round-robin shows whether the flow was scheduled again) and FIN/RST expiry.
    rr = config([vip(VIP4, 80, "tcp", B[:2], scheduler="round-robin")],
                flow_idle_timeout_s=30, flow_closed_timeout_s=5, flow_open_timeout_s=30)
    out.append(Case("flow_expiry", rr, [
        fwd(tcp4(sport=1), B[0], t=0),
        fwd(tcp4(sport=1, flags="A"), B[0], t=29),     # refreshed: lives until 59
        fwd(tcp4(sport=1, flags="A"), B[0], t=58),
        fwd(tcp4(sport=1, flags="A"), B[1], t=89),     # idle 31 s: a new flow, next in turn
        fwd(tcp4(sport=2), B[0], t=90),
        fwd(tcp4(sport=2, flags="FA"), B[0], t=91),    # closing: 5 s from now
        fwd(tcp4(sport=2, flags="A"), B[0], t=95),     # still within 5 s (refreshed to 100)
        fwd(tcp4(sport=2, flags="A"), B[1], t=101),    # gone: scheduled again
        fwd(tcp4(sport=3), B[0], t=102),
        fwd(tcp4(sport=3, flags="R"), B[0], t=103),
        fwd(tcp4(sport=3, flags="S"), B[1], t=110),    # RST + 5 s passed
    ], check=lambda v, c: _check(c["events"]["flows_expired"] >= 3, c["events"])))

    # A SYN on a closing flow is a new connection: scheduled again (round-robin: next in turn)
    # and counted as a new flow; a SYN retransmission on an open flow stays sticky.
    def syn_reuse(verdicts, counters):
        (v,) = counters["per_vip"]
        assert v["new_flows"] == 4 and v["active_flows"] == 3, v
        per_backend = {b["address"]: b for b in v["per_backend"]}
        assert per_backend[B[0]]["active_flows"] == 1, per_backend
        assert per_backend[B[1]]["active_flows"] == 2, per_backend
        assert per_backend[B[1]]["new_flows"] == 2, per_backend

    out.append(Case("syn_on_closing_flow_reschedules",
                    config([vip(VIP4, 80, "tcp", B[:2], scheduler="round-robin")]), [
        fwd(tcp4(sport=1), B[0]),
        fwd(tcp4(sport=1), B[0]),                # retransmitted SYN: sticky, no new flow
        fwd(tcp4(sport=2), B[1]),
        fwd(tcp4(sport=1, flags="FA"), B[0]),    # closing
        fwd(tcp4(sport=3), B[0]),
        fwd(tcp4(sport=1), B[1]),                # 5-tuple reused: scheduled again, next in turn
        fwd(tcp4(sport=1, flags="A"), B[1]),
    ], check=syn_reuse))

    # A SYN on a flow the client had already ACKed is a new connection reusing the 5-tuple (the
    # backend's RST went straight to the client: DSR): scheduled again. SYN retransmissions
    # before the client's ACK stay sticky.
    def syn_after_ack(verdicts, counters):
        (v,) = counters["per_vip"]
        assert v["new_flows"] == 2 and v["active_flows"] == 1, v
        per_backend = {b["address"]: b for b in v["per_backend"]}
        assert per_backend[B[0]]["active_flows"] == 0, per_backend
        assert per_backend[B[1]]["active_flows"] == 1, per_backend

    out.append(Case("syn_after_ack_reschedules",
                    config([vip(VIP4, 80, "tcp", B[:2], scheduler="round-robin")]), [
        fwd(tcp4(sport=1), B[0]),
        fwd(tcp4(sport=1), B[0]),                # retransmitted SYN: sticky
        fwd(tcp4(sport=1, flags="A"), B[0]),     # established
        fwd(tcp4(sport=1, flags="PA"), B[0]),
        fwd(tcp4(sport=1), B[1]),                # new connection: next in turn
        fwd(tcp4(sport=1), B[1]),                # its retransmission: sticky
        fwd(tcp4(sport=1, flags="A"), B[1]),
    ], check=syn_after_ack))

    # The same under a drain: reused 5-tuples of established flows leave the drained backend.
    established = [tcp4(sport=20000 + i) for i in range(FLOWS)] + \
        [tcp4(sport=20000 + i, flags="A") for i in range(FLOWS)]
    reused = [tcp4(sport=20000 + i) for i in range(FLOWS)]

    def syn_reuse_after_drain(verdicts, counters):
        first = [v["backend"] for v in verdicts[:FLOWS]]
        assert B[1] in first, Counter(first)
        assert all(v["backend"] != B[1] for v in verdicts[2 * FLOWS:]), \
            "a new connection reusing a 5-tuple went to the drained backend"

    out.append(Case("syn_after_ack_leaves_drained_backend", four,
                    [fwd(p, B) for p in established] +
                    [fwd(p, [B[0], B[2], B[3]]) for p in reused],
                    updates={2 * FLOWS - 1: drained}, check=syn_reuse_after_drain))

    # round-robin: exact order, per new flow; existing flows do not advance it.
    three = B[:3]
    out.append(Case("scheduler_round_robin",
                    config([vip(VIP4, 80, "tcp", three, scheduler="round-robin")]), [
        fwd(tcp4(sport=1), B[0]), fwd(tcp4(sport=2), B[1]),
        fwd(tcp4(sport=1, flags="A"), B[0]),
        fwd(tcp4(sport=3), B[2]), fwd(tcp4(sport=4), B[0]), fwd(tcp4(sport=5), B[1]),
    ]))

    # weighted-round-robin (smooth): weights 3,1 give a a b a, then again.
    out.append(Case("scheduler_weighted_round_robin",
                    config([vip(VIP4, 80, "tcp", B[:2], weights=[3, 1],
                                scheduler="weighted-round-robin")]),
                    [fwd(tcp4(sport=i + 1), b) for i, b in
                     enumerate([B[0], B[0], B[1], B[0], B[0], B[0], B[1], B[0]])]))

    # least-connections: ties go to the first backend; a flow that ended frees its backend.
    lc = config([vip(VIP4, 80, "tcp", three, scheduler="least-connections")],
                flow_closed_timeout_s=2)
    out.append(Case("scheduler_least_connections", lc, [
        fwd(tcp4(sport=1), B[0], t=0), fwd(tcp4(sport=2), B[1], t=0.1),
        fwd(tcp4(sport=3), B[2], t=0.2),
        fwd(tcp4(sport=2, flags="R"), B[1], t=0.3),
        fwd(tcp4(sport=4), B[0], t=1),      # still counted until it expires
        fwd(tcp4(sport=5), B[1], t=5),      # flow 2 expired: B2 has the fewest
        fwd(tcp4(sport=6), B[1], t=5.1),    # B2 and B3 tie at one flow: config order
    ]))

    # random: weighted, deterministic for a seed; every backend gets a fair share.
    def spread(verdicts, counters):
        c = Counter(v["backend"] for v in verdicts)
        assert set(c) == set(three), c
        assert all(60 < n < 140 for n in c.values()), c

    out.append(Case("scheduler_random",
                    config([vip(VIP4, 80, "tcp", three, scheduler="random")]),
                    [fwd(p, three) for p in syns(300)], check=spread))

    # source-hash: one client, any port, one backend; clients spread over the backends.
    def by_client(verdicts, counters):
        per_client = {}
        for i, v in enumerate(verdicts):
            per_client.setdefault(i // 4, set()).add(v["backend"])
        assert all(len(s) == 1 for s in per_client.values()), per_client
        assert len({next(iter(s)) for s in per_client.values()}) == 3

    sh_steps = [fwd(tcp4(src=f"198.18.{4 + c // 200}.{c % 200 + 1}", sport=1000 + p), three)
                for c in range(60) for p in range(4)]
    out.append(Case("scheduler_source_hash",
                    config([vip(VIP4, 80, "tcp", three, scheduler="source-hash")]),
                    sh_steps, check=by_client))

    # maglev: spread by weight, and the same flow always gets the same backend.
    def maglev_spread(verdicts, counters):
        c = Counter(v["backend"] for v in verdicts[:300])
        assert set(c) == set(B), c
        assert all(40 < n < 110 for n in c.values()), c
        assert [v["backend"] for v in verdicts[300:]] == [v["backend"] for v in verdicts[:300]]

    out.append(Case("scheduler_maglev", four,
                    [fwd(p, B) for p in syns(300)] +
                    [fwd(p, B) for p in syns(300, flags="A")], check=maglev_spread))

    # Flow table full: the bucket's oldest entry is evicted (counted), the packet still flows.
    small = config([vip(VIP4, 53, "udp", B[:1])], flow_table_entries=1024)
    out.append(Case("flow_table_eviction", small,
                    [fwd(udp4(sport=1 + i), B[0]) for i in range(3000)],
                    check=lambda v, c: _check(c["events"]["flows_evicted"] > 0 and
                                              c["per_vip"][0]["active_flows"] <= 1024, c)))

    # Dataplane settings change: every outer field that comes from them follows the new
    # snapshot (the per-backend header templates are rebuilt with it); the flows keep their
    # backends.
    b6 = "2001:db8:1::1"
    vips = [vip(VIP4, 80, "tcp", B[:1]), vip("2001:db8::10", 53, "udp", [b6], encap="gue")]
    changed = dict(next_hop_mac="02:00:00:00:00:fd", outer_ttl=17, gue_port=7777,
                   tunnel_source_v4="198.18.0.2", tunnel_source_v6="2001:db8::2")
    a4, a6 = tcp4(sport=41000, flags="A"), udp6(sport=41000)
    after = dict(next_hop="02:00:00:00:00:fd", ttl=17, gue_port=7777, tunnel_v4="198.18.0.2",
                 tunnel_v6="2001:db8::2")
    out.append(Case("settings_change_rewrites_outer_headers", config(vips),
                    [fwd(a4, B[0]), fwd(a6, b6, kind="gue"),
                     Step(a4, "forward", backend=B[0],
                          out=[encap(a4, B[0], "ipip", flow_hash(a4), **after)]),
                     Step(a6, "forward", backend=b6,
                          out=[encap(a6, b6, "gue", flow_hash(a6), **after)])],
                    updates={1: config(vips, **changed)}))
    return out


def _check(condition, detail):
    assert condition, detail

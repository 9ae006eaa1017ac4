"""SYN floods and a full flow table: spoofed SYNs, whose entries never get past `open`, cannot
push established connections out of the table; open entries time out fast; a VIP's new-flow
limit drops what is over it and nothing else."""

from collections import Counter

from golden import Case, Step, config, vip
from packets import dropped, fwd, hash5, tcp4

VIP4 = "198.18.0.10"
B = ["198.18.1.1", "198.18.1.2", "198.18.1.3", "198.18.1.4"]
TABLE = 1024            # flow_table_entries: 128 buckets of 8
BUCKET_SHIFT = 32 - 7   # the bucket is the flow hash's top 7 bits (flow_table.hpp)
FLOOD = 10 * TABLE      # spoofed SYNs: ten times the table


def established_flows():
    """Client (address, port) pairs that fill every bucket with exactly 8 flows."""
    per_bucket = Counter()
    flows = []
    client, port = 0, 1024
    while len(flows) < TABLE:
        src = f"198.18.4.{client % 250 + 1}"
        bucket = hash5(src, VIP4, port, 80, 6) >> BUCKET_SHIFT
        if per_bucket[bucket] < 8:
            per_bucket[bucket] += 1
            flows.append((src, port))
        port += 1
        if port == 65535:
            port, client = 1024, client + 1
    return flows


def flood_case():
    flows = established_flows()
    three = config([vip(VIP4, 80, "tcp", B[:3])], flow_table_entries=TABLE)
    four = config([vip(VIP4, 80, "tcp", B)], flow_table_entries=TABLE)
    steps = []
    for src, port in flows:  # the handshake: SYN, then the client's ACK
        steps.append(fwd(tcp4(src=src, sport=port), B[:3], t=None))
        steps.append(fwd(tcp4(src=src, sport=port, flags="A"), B[:3]))
    # Spoofed SYNs from addresses that never answer, within one second.
    t = 3.0
    for i in range(FLOOD):
        spoofed = tcp4(src=f"198.19.{i // 250 % 250}.{i % 250 + 1}", sport=10000 + i % 50000)
        steps.append(fwd(spoofed, B[:3], t=t + i * 0.00009))
    flooded = len(steps)
    # A backend is added (a new Maglev table: about a quarter of the slots change owner), then
    # every established connection speaks again.
    for j, (src, port) in enumerate(flows):
        steps.append(fwd(tcp4(src=src, sport=port, flags="PA", payload=b"again"), B,
                         t=5.0 + j * 0.0001))

    def kept(verdicts, counters):
        first = [verdicts[2 * i + 1]["backend"] for i in range(TABLE)]
        again = [v["backend"] for v in verdicts[flooded:]]
        moved = sum(1 for a, b in zip(first, again) if a != b)
        assert moved == 0, f"{moved} of {TABLE} established connections changed backend"
        events = counters["events"]
        assert events["flows_evicted_established"] == 0, events
        assert events["flows_evicted"] == 0, events
        assert events["flows_not_tracked"] == FLOOD, events
        assert counters["flow_table"]["entries"] == TABLE, counters["flow_table"]
        assert B[3] not in first, "the fourth backend was not there yet"

    return Case("syn_flood_spares_established", three, steps, updates={flooded - 1: four},
                check=kept)


def open_timeout_case():
    """A SYN's entry lives flow_open_timeout_s (5 s by default); once the client's ACK has come,
    flow_idle_timeout_s."""
    cfg = config([vip(VIP4, 80, "tcp", B[:2])])

    def check(verdicts, counters):
        v = counters["per_vip"][0]
        # sport 1: SYN at 0 s, ACK at 6 s: the open entry had expired, a second new flow.
        # sport 2: SYN at 0 s, ACK at 1 s, data at 7 s: established, one new flow.
        assert v["new_flows"] == 3, v
        assert counters["events"]["flows_expired"] >= 1, counters["events"]

    return Case("open_entries_time_out_fast", cfg, [
        fwd(tcp4(sport=1), B[:2], t=0.0),
        fwd(tcp4(sport=2), B[:2], t=0.001),
        fwd(tcp4(sport=2, flags="A"), B[:2], t=1.0),
        fwd(tcp4(sport=1, flags="A"), B[:2], t=6.0),
        fwd(tcp4(sport=2, flags="PA", payload=b"x"), B[:2], t=7.0),
    ], check=check)


def new_flow_limit_case():
    """new_flows_per_s: 5 admits a second's worth at once, then refills; packets of flows
    already admitted are never limited."""
    cfg = config([vip(VIP4, 80, "tcp", B[:2], new_flows_per_s=5)])
    steps = [fwd(tcp4(sport=100 + i), B[:2], t=i * 0.001) for i in range(5)]
    steps += [dropped(tcp4(sport=200 + i), "new_flow_limit", t=0.01 + i * 0.001) for i in range(3)]
    steps += [fwd(tcp4(sport=100 + i, flags="A"), B[:2], t=0.02 + i * 0.001) for i in range(5)]
    # Two seconds later the bucket is full again: five more, not six.
    steps += [fwd(tcp4(sport=200 + i), B[:2], t=2.0 + i * 0.001) for i in range(5)]
    steps += [dropped(tcp4(sport=300), "new_flow_limit", t=2.01)]

    def check(verdicts, counters):
        assert counters["drops"]["new_flow_limit"] == 4, counters["drops"]
        assert counters["per_vip"][0]["new_flows"] == 10, counters["per_vip"][0]

    return Case("new_flow_limit", cfg, steps, check=check)


def cases():
    return [flood_case(), open_timeout_case(), new_flow_limit_case()]

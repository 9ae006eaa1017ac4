"""Golden packet tests for sluice-pcap: the framework.

A case is a config, a list of input packets (steps) and, for each input packet, the expected
verdict and the exact bytes of every frame the dataplane must transmit for it. The expected
frames are built here with scapy, independently of the C++ code (the flow hash is recomputed
from its documented canonical layout), and compared byte for byte.
"""

import copy
import dataclasses
import ipaddress
import json
import os
import struct
import subprocess
import tempfile
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from scapy.all import ICMP, IP, UDP, Ether, IPv6, Raw
from scapy.packet import Packet

NEXT_HOP_MAC = "02:00:00:00:00:fe"
PORT_MAC = "02:00:00:00:00:01"  # sluice-pcap's default --port-mac
CLIENT_MAC = "02:00:00:00:00:c1"
LB_MAC = "02:00:00:00:00:01"
TUNNEL_V4 = "198.18.0.1"
TUNNEL_V6 = "2001:db8::1"
GUE_PORT = 6080
OUTER_TTL = 64
FLOW_HASH_SEED = 0x5EED1CE5
T0 = 1_700_000_000.0


# ---- flow hash: CRC32C over the canonical layout of lib/sluice/lb/flow_hash.cpp -------------

def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data: bytes, seed: int = 0) -> int:
    crc = seed ^ 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283  # the CRC32C check value


def _addr16(text: str) -> bytes:
    a = ipaddress.ip_address(text)
    return a.packed + bytes(16 - len(a.packed))


def _family(text: str) -> int:
    return 4 if ipaddress.ip_address(text).version == 4 else 6


def hash5(src: str, dst: str, sport: int, dport: int, proto: int) -> int:
    data = _addr16(src) + _addr16(dst) + struct.pack("!HHBBxx", sport, dport, proto, _family(src))
    return crc32c(data, FLOW_HASH_SEED)


def hash3(src: str, dst: str, proto: int) -> int:
    data = _addr16(src) + _addr16(dst) + struct.pack("!BBxx", proto, _family(src))
    return crc32c(data, FLOW_HASH_SEED)


# ---- expected frames -------------------------------------------------------------------------

def ip_datagram(frame: Union[bytes, Packet]) -> bytes:
    """The IP datagram of an Ethernet frame: without L2 header (802.1Q included) and padding."""
    raw = bytes(frame)
    off = 14
    if struct.unpack("!H", raw[12:14])[0] == 0x8100:
        off = 18
    version = raw[off] >> 4
    if version == 4:
        length = struct.unpack("!H", raw[off + 2:off + 4])[0]
    else:
        length = 40 + struct.unpack("!H", raw[off + 4:off + 6])[0]
    return raw[off:off + length]


def second_hop_data(hop: str) -> bytes:
    """GUE private data naming `hop` (docs/second-chance.md): 'S', type 1 (IPv4) or 2 (IPv6),
    flags 0, reserved 0, the address."""
    a = ipaddress.ip_address(hop)
    return bytes([0x53, 1 if a.version == 4 else 2, 0, 0]) + a.packed


def encap(frame, backend: str, kind: str = "ipip", flow_hash: int = 0, next_hop=NEXT_HOP_MAC,
          ttl=OUTER_TTL, tunnel_v4=TUNNEL_V4, tunnel_v6=TUNNEL_V6, gue_port=GUE_PORT,
          second_hop: Optional[str] = None) -> bytes:
    """What Sluice sends to `backend` for the client frame `frame` (docs/dataplane.md), with
    the dataplane settings of golden.config() unless given; `second_hop` (gue): the previous
    owner named in the GUE header (docs/second-chance.md)."""
    inner = ip_datagram(frame)
    if inner[0] >> 4 == 4:
        tos, df, ip_id, proto = inner[1], bool(inner[6] & 0x40), struct.unpack("!H", inner[4:6])[0], 4
    else:
        tos, df, ip_id, proto = ((inner[0] & 0x0F) << 4) | (inner[1] >> 4), True, 0, 41
    outer_v4 = _family(backend) == 4
    if kind == "gue":
        udp = UDP(sport=0x8000 | (flow_hash & 0x7FFF), dport=gue_port,
                  chksum=0 if outer_v4 else None)
        private = second_hop_data(second_hop) if second_hop else b""
        payload = udp / Raw(bytes([len(private) // 4, proto, 0, 0]) + private + inner)
        proto = 17
    else:
        payload = Raw(inner)
    if outer_v4:
        outer = IP(tos=tos, id=ip_id, flags="DF" if df else 0, ttl=ttl, proto=proto,
                   src=tunnel_v4, dst=backend) / payload
    else:
        outer = IPv6(tc=tos, fl=flow_hash & 0xFFFFF, hlim=ttl, nh=proto, src=tunnel_v6,
                     dst=backend) / payload
    return bytes(Ether(dst=next_hop, src=PORT_MAC) / outer)


def too_big_reply(frame, mtu: int) -> bytes:
    """frag-needed (IPv4) / packet-too-big (IPv6) from the VIP to the client, quoting the
    datagram up to the minimum MTU, L2 addresses swapped."""
    eth = Ether(bytes(frame))
    inner = ip_datagram(frame)
    if inner[0] >> 4 == 4:
        vip, client = str(ipaddress.ip_address(inner[16:20])), str(ipaddress.ip_address(inner[12:16]))
        reply = IP(tos=0, id=0, flags=0, ttl=OUTER_TTL, proto=1, src=vip, dst=client) / \
            ICMP(type=3, code=4, unused=0, nexthopmtu=mtu) / Raw(inner[:576 - 28])
    else:
        from scapy.layers.inet6 import ICMPv6PacketTooBig
        vip, client = str(ipaddress.ip_address(inner[24:40])), str(ipaddress.ip_address(inner[8:24]))
        reply = IPv6(tc=0, fl=0, hlim=OUTER_TTL, src=vip, dst=client) / \
            ICMPv6PacketTooBig(mtu=mtu) / Raw(inner[:1280 - 48])
    l2 = Ether(dst=eth.src, src=eth.dst)
    if eth.type == 0x8100:
        from scapy.all import Dot1Q
        l2 = l2 / Dot1Q(vlan=eth[Dot1Q].vlan, prio=eth[Dot1Q].prio)
    return bytes(l2 / reply)


def pcap_stamp(t: float):
    """(seconds, microseconds) of a capture time, as write_pcap() records it."""
    usec = round(t * 1_000_000)
    return usec // 1_000_000, usec % 1_000_000


def write_pcap(path: str, packets) -> None:
    """A classic Ethernet pcap (microsecond timestamps); malformed frames are written as-is."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for p in packets:
            data = bytes(p)
            f.write(struct.pack("<IIII", *pcap_stamp(float(p.time)), len(data), len(data)))
            f.write(data)


# ---- cases -----------------------------------------------------------------------------------

Expected = Union[bytes, Callable[[str], bytes]]  # a frame, or a function of the chosen backend


@dataclasses.dataclass
class Step:
    packet: Union[Packet, bytes]
    verdict: str
    reason: str = ""  # drop: the reason counted
    reply: str = ""   # reply: what was answered ("echo", "too_big")
    backend: Union[None, str, Sequence[str]] = None  # one address, or the allowed set
    out: List[Expected] = dataclasses.field(default_factory=list)
    t: Optional[float] = None  # seconds after T0; default: previous + 1 ms


@dataclasses.dataclass
class Case:
    name: str
    config: dict
    steps: List[Step]
    updates: Dict[int, dict] = dataclasses.field(default_factory=dict)  # after index -> config
    # Extra checks on (verdict lines, counters JSON); raise AssertionError with a message.
    check: Optional[Callable[[List[dict], dict], None]] = None


def config(vips: List[dict], mtu: int = 1500, **dataplane) -> dict:
    dp = {"next_hop_mac": NEXT_HOP_MAC, "tunnel_source_v4": TUNNEL_V4,
          "tunnel_source_v6": TUNNEL_V6, "mtu": mtu, "flow_table_entries": 4096}
    dp.update(dataplane)
    return {"dataplane": dp, "vips": vips}


def vip(address: str, port: int, protocol: str, backends: List[str], weights=None, **extra):
    weights = weights or [1] * len(backends)
    v = {"address": address, "port": port, "protocol": protocol,
         "backends": [{"address": b, "weight": w} for b, w in zip(backends, weights)]}
    v.update(extra)
    return v


class Failure(Exception):
    pass


def _describe(frame: bytes) -> str:
    try:
        return Ether(frame).show(dump=True)
    except Exception:  # pragma: no cover - diagnostics only
        return frame.hex()


def _first_difference(a: bytes, b: bytes) -> str:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"first difference at byte {i}: got 0x{x:02x}, expected 0x{y:02x}"
    return f"lengths differ: got {len(a)}, expected {len(b)}"


def read_frames(path: str) -> List[Tuple[Tuple[int, int], bytes]]:
    """The (timestamp, frame) records of a classic microsecond pcap, frames as written (no
    dissection and rebuild)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise Failure(f"{path}: no pcap header")
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        order = "<"
    elif magic == b"\xa1\xb2\xc3\xd4":
        order = ">"
    else:
        raise Failure(f"{path}: not a microsecond pcap file")
    frames, off = [], 24
    while off < len(data):
        if off + 16 > len(data):
            raise Failure(f"{path}: truncated record header at byte {off}")
        sec, usec, caplen, length = struct.unpack(order + "IIII", data[off:off + 16])
        if caplen != length or off + 16 + caplen > len(data):
            raise Failure(f"{path}: truncated record at byte {off}")
        frames.append(((sec, usec), data[off + 16:off + 16 + caplen]))
        off += 16 + caplen
    return frames


@dataclasses.dataclass
class Output:
    """What one sluice-pcap run produced."""
    verdicts: List[dict]
    frames: List[Tuple[Tuple[int, int], bytes]]  # (timestamp, frame)
    counters: dict


def _write_inputs(case: Case, d: str) -> Tuple[List[str], List[Tuple[int, int]]]:
    """Writes the case's config, input pcap and updates: the sluice-pcap arguments for them
    and each input packet's timestamp."""
    cfg = os.path.join(d, "config.yaml")
    with open(cfg, "w") as f:
        json.dump(case.config, f, indent=1)  # JSON is YAML
    packets = []
    t = 0.0
    for i, step in enumerate(case.steps):
        t = step.t if step.t is not None else (t + 0.001 if i else 0.0)
        p = Raw(load=bytes(step.packet))  # written as bytes, malformed frames included
        p.time = T0 + t
        packets.append(p)
    inp = os.path.join(d, "in.pcap")
    write_pcap(inp, packets)
    stamps = [pcap_stamp(float(p.time)) for p in packets]
    args = ["--config", cfg, "--in", inp]
    for index, update in sorted(case.updates.items()):
        path = os.path.join(d, f"update-{index}.yaml")
        with open(path, "w") as f:
            json.dump(update, f, indent=1)
        args += ["--update-at", f"{index}:{path}"]
    return args, stamps


def _run(sluice_pcap: str, inputs: List[str], d: str, burst: int) -> Output:
    suffix = "" if burst == 1 else f"-burst{burst}"
    outp = os.path.join(d, f"out{suffix}.pcap")
    verdicts_path = os.path.join(d, f"verdicts{suffix}.jsonl")
    counters_path = os.path.join(d, f"counters{suffix}.json")
    cmd = [sluice_pcap, *inputs, "--out", outp, "--verdicts", verdicts_path,
           "--counters", counters_path, "--burst", str(burst)]
    if burst == 1:
        cmd.append("--explain")  # explain() can only predict packet by packet
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise Failure(f"sluice-pcap exited {proc.returncode}: {proc.stderr.strip()}")
    with open(verdicts_path) as f:
        verdicts = [json.loads(line) for line in f]
    with open(counters_path) as f:
        counters = json.load(f)
    return Output(verdicts, read_frames(outp), counters)


def _check_counters(counters: dict) -> None:
    """What must hold after any input: every received packet counted once at its fate, every
    drop under one reason, each VIP's traffic the sum of its backends', and the active-flow
    gauges equal to what the flow table holds."""
    for lcore in counters["per_lcore"]:
        fates = lcore["forward"] + lcore["reply"] + lcore["pass"] + lcore["drop"]
        if lcore["rx_packets"] != fates:
            raise Failure(f"rx_packets {lcore['rx_packets']} != forward + reply + pass + drop "
                          f"{fates}: {lcore}")
    drops = sum(counters["drops"].values())
    if drops != sum(lcore["drop"] for lcore in counters["per_lcore"]):
        raise Failure(f"the drop reasons sum to {drops}, the drop verdicts to "
                      f"{sum(lcore['drop'] for lcore in counters['per_lcore'])}")
    for vip in counters["per_vip"]:
        for key in ("packets", "bytes", "new_flows", "active_flows"):
            total = sum(b[key] for b in vip["per_backend"])
            if vip[key] != total:
                raise Failure(f"VIP {vip['vip']} {key} {vip[key]} != its backends' sum {total}")
    if not counters["flow_table"]["gauges_match"]:
        raise Failure(f"the active-flow gauges disagree with the flow table: {counters}")


def _check_explain(verdicts: List[dict]) -> None:
    """explain() said, before each packet, what the worker then did with it."""
    for v in verdicts:
        said = v.get("explain")
        if said is None:
            continue
        if v["verdict"] == "forward":
            if said["backend"] != v["backend"]:
                raise Failure(f"packet {v['index']}: explain said {said}, the worker forwarded "
                              f"to {v['backend']}")
        elif v["verdict"] == "pass":
            if said["action"] != "pass":
                raise Failure(f"packet {v['index']}: passed, explain said {said}")
        elif v["reason"] == "no_backend" and said["action"] != "no_backend":
            raise Failure(f"packet {v['index']}: no_backend, explain said {said}")


def _verify(case: Case, got: Output, stamps: List[Tuple[int, int]],
            expected_cache: Dict[tuple, bytes]) -> None:
    _check_counters(got.counters)
    _check_explain(got.verdicts)
    verdicts = got.verdicts
    if len(verdicts) != len(case.steps):
        raise Failure(f"{len(verdicts)} verdict lines for {len(case.steps)} packets")
    expected_frames: List[Tuple[Tuple[int, int], bytes]] = []
    for i, (step, v) in enumerate(zip(case.steps, verdicts)):
        if v["index"] != i:
            raise Failure(f"verdict line {i} has index {v['index']}")
        got_verdict = (v["verdict"], v["reason"], v["reply"])
        if got_verdict != (step.verdict, step.reason, step.reply):
            raise Failure(f"packet {i}: (verdict, reason, reply) {got_verdict}, "
                          f"expected {(step.verdict, step.reason, step.reply)}")
        if step.backend is not None:
            allowed = [step.backend] if isinstance(step.backend, str) else list(step.backend)
            if v["backend"] not in allowed:
                raise Failure(f"packet {i}: backend {v['backend']!r}, expected one of {allowed}")
        elif step.verdict != "forward" and v["backend"] != "":
            raise Failure(f"packet {i}: backend {v['backend']!r} on a {step.verdict} verdict")
        for k, e in enumerate(step.out):
            key = (i, k, v["backend"])
            if key not in expected_cache:  # building frames with scapy is the slow part
                expected_cache[key] = e(v["backend"]) if callable(e) else bytes(e)
            expected_frames.append((stamps[i], expected_cache[key]))

    got_frames = got.frames
    if len(got_frames) != len(expected_frames):
        raise Failure(f"{len(got_frames)} frames transmitted, expected {len(expected_frames)}")
    for i, ((got_stamp, g), (stamp, e)) in enumerate(zip(got_frames, expected_frames)):
        if got_stamp != stamp:  # a frame is stamped with its input packet's time
            raise Failure(f"transmitted frame {i} stamped {got_stamp}, expected {stamp}")
        if g != e:
            raise Failure(f"transmitted frame {i} differs: {_first_difference(g, e)}\n"
                          f"--- got\n{_describe(g)}--- expected\n{_describe(e)}")
    if case.check is not None:
        try:
            case.check(verdicts, got.counters)
        except AssertionError as e:
            raise Failure(f"check failed: {e}") from e


def _burst_independent(counters: dict) -> dict:
    """The counters without the handshake-time buckets: the worker reads its clock once per
    burst (sluice-pcap: the burst's first packet), so a handshake within one burst may take 0 ms
    at one burst size and 1 ms at another. Their sum (handshakes) is still compared; cases that
    check the buckets (cases_passive.py) time their packets so that every size agrees."""
    out = copy.deepcopy(counters)
    for v in out.get("per_vip", []):
        for b in v.get("per_backend", []):
            b.pop("handshake_ms_buckets", None)
    return out


def _same_output(a: Output, b: Output) -> str:
    """Where two runs of one case differ, or ""."""
    for i, (x, y) in enumerate(zip(a.verdicts, b.verdicts)):
        x, y = ({k: v for k, v in line.items() if k != "explain"} for line in (x, y))
        if x != y:
            return f"verdict line {i}: {y} instead of {x}"
    for i, ((_, x), (_, y)) in enumerate(zip(a.frames, b.frames)):  # stamps: checked by _verify
        if x != y:
            return f"transmitted frame {i}: {_first_difference(y, x)}"
    ca, cb = _burst_independent(a.counters), _burst_independent(b.counters)
    if ca != cb:
        keys = sorted(k for k in set(ca) | set(cb) if ca.get(k) != cb.get(k))
        return f"counters differ in {keys}"
    return ""


def run_case(case: Case, sluice_pcap: str, workdir: str, bursts: Sequence[int] = (1,)) -> None:
    """Runs the case at each burst size (sluice-pcap --burst): every run must meet the case's
    expectations and produce exactly what the first one produced."""
    d = os.path.join(workdir, case.name)
    os.makedirs(d, exist_ok=True)
    inputs, stamps = _write_inputs(case, d)
    expected_cache: Dict[tuple, bytes] = {}
    first: Optional[Output] = None
    for burst in bursts:
        try:
            got = _run(sluice_pcap, inputs, d, burst)
            _verify(case, got, stamps, expected_cache)
            difference = _same_output(first, got) if first is not None else ""
        except Failure as e:
            raise Failure(f"--burst {burst}: {e}") from e
        if difference:
            raise Failure(f"--burst {burst} differs from --burst {bursts[0]}: {difference}")
        first = first or got

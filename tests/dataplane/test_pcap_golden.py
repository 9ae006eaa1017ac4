#!/usr/bin/python3
"""Golden packet cases (tests/golden) through the real sluice-dataplane on net_pcap vdevs.

Each case runs in its own process: port 0 replays the case's input pcap and writes what the
dataplane transmits (forwarded and reply frames, one-armed), port 1 is the host port (a
transmit-only pcap) that must receive exactly the non-VIP frames. Transmitted frames are
compared byte for byte with the frames tests/golden builds independently with scapy, and each
expected drop must appear under its reason in get_counters. Cases that need a state update in
the middle or explicit packet times are left to sluice-pcap (the dataplane runs on the TSC)."""

import argparse
import ipaddress
import os
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "golden"))

from harness import Dataplane, read_pcap, summary, write_pcap, write_yaml  # noqa: E402

import golden  # noqa: E402

CASE_MODULES = ["cases_forward", "cases_icmp", "cases_malformed"]


def load_cases():
    cases = []
    for name in CASE_MODULES:
        try:
            module = __import__(name)
        except ImportError as e:
            print(f"note: {name} not available ({e})")
            continue
        cases.extend(module.cases())
    return cases


def eligible(case) -> bool:
    return not case.updates and all(step.t is None for step in case.steps)


def outer_destination(frame: bytes) -> str:
    """The backend a forwarded frame is addressed to (outer IPv4/IPv6 destination)."""
    ethertype = int.from_bytes(frame[12:14], "big")
    if ethertype == 0x0800:
        return str(ipaddress.ip_address(frame[30:34]))
    if ethertype == 0x86DD:
        return str(ipaddress.ip_address(frame[38:54]))
    return ""


def first_difference(got: bytes, want: bytes) -> str:
    for i, (x, y) in enumerate(zip(got, want)):
        if x != y:
            return f"byte {i}: got 0x{x:02x}, expected 0x{y:02x}"
    return f"lengths: got {len(got)}, expected {len(want)}"


def run_case(case, exe: str, workdir: str) -> None:
    d = os.path.join(workdir, case.name)
    os.makedirs(d, exist_ok=True)
    cfg = write_yaml(os.path.join(d, "state.yaml"), dict(case.config, generation=1))
    inputs = [bytes(s.packet) for s in case.steps]
    in_pcap, out_pcap, host_pcap = (os.path.join(d, n) for n in ("in.pcap", "out.pcap",
                                                                  "host.pcap"))
    write_pcap(in_pcap, inputs)
    dp = Dataplane(exe, d, "dp",
                   [f"net_pcap0,rx_pcap={in_pcap},tx_pcap={out_pcap}",
                    f"net_pcap1,tx_pcap={host_pcap}"],
                   ["--config", cfg, "--host-port", "1", "--source-mac", golden.PORT_MAC])
    with dp:
        c = dp.wait_counters(lambda c: summary(c)["rx"] >= len(inputs), timeout=20)
        time.sleep(0.05)  # > the 100 us TX drain timer
    if dp.returncode != 0:
        raise AssertionError(f"exit code {dp.returncode}:\n{dp.log_text()}")

    expected_tx, expected_host, expected_drops = [], [], {}
    got_tx = read_pcap(out_pcap)
    for i, step in enumerate(case.steps):
        if step.verdict == "pass":
            expected_host.append(inputs[i])
        elif step.verdict == "drop":
            expected_drops[step.reason] = expected_drops.get(step.reason, 0) + 1
        for e in step.out:
            if callable(e):
                # The backend is whatever the transmitted frame says; it must be allowed.
                k = len(expected_tx)
                backend = outer_destination(got_tx[k]) if k < len(got_tx) else ""
                allowed = [step.backend] if isinstance(step.backend, str) else list(step.backend or [])
                if allowed and backend not in allowed:
                    raise AssertionError(f"packet {i}: sent to {backend!r}, expected one of {allowed}")
                expected_tx.append(e(backend))
            else:
                expected_tx.append(bytes(e))
        if step.verdict == "reply" and step.reason:
            expected_drops[step.reason] = expected_drops.get(step.reason, 0) + 1

    if len(got_tx) != len(expected_tx):
        raise AssertionError(f"{len(got_tx)} frames transmitted, expected {len(expected_tx)}")
    for k, (g, e) in enumerate(zip(got_tx, expected_tx)):
        if g != e:
            raise AssertionError(f"transmitted frame {k} differs at {first_difference(g, e)}\n"
                                 f"got      {g.hex()}\nexpected {e.hex()}")
    got_host = read_pcap(host_pcap)
    if got_host != expected_host:
        raise AssertionError(f"host port got {len(got_host)} frames, expected "
                             f"{len(expected_host)} (the non-VIP input frames, unchanged)")
    drops = {k: v for k, v in c["drops"].items() if v}
    if drops != expected_drops:
        raise AssertionError(f"drops {drops}, expected {expected_drops}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dataplane", required=True)
    p.add_argument("--only", help="run the cases whose name contains this")
    args = p.parse_args()
    all_cases = load_cases()
    cases = [c for c in all_cases if eligible(c)]
    print(f"{len(cases)} of {len(all_cases)} golden cases apply to a live dataplane (the others "
          f"need mid-case state updates or packet times: sluice-pcap runs them)")
    if args.only:
        cases = [c for c in cases if args.only in c.name]
    if not cases:
        print("no golden case found")
        return 1
    failed = []
    with tempfile.TemporaryDirectory(prefix="sl-dp-golden-") as workdir:
        for case in cases:
            started = time.monotonic()
            try:
                run_case(case, args.dataplane, workdir)
                print(f"ok   {case.name} ({len(case.steps)} packets, "
                      f"{time.monotonic() - started:.1f} s)", flush=True)
            except Exception as e:  # report every case, then fail
                failed.append(case.name)
                print(f"FAIL {case.name}: {e}", flush=True)
                if not isinstance(e, AssertionError):
                    traceback.print_exc()
    print(f"{len(cases) - len(failed)} of {len(cases)} golden cases passed through sluice-dataplane")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

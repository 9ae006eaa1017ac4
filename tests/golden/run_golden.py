#!/usr/bin/python3
"""Runs the golden packet cases through sluice-pcap:
run_golden.py --sluice-pcap PATH [--burst 1,7,64] [-k NAME] [--keep DIR]"""

import argparse
import os
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cases_burst  # noqa: E402
import cases_flood  # noqa: E402
import cases_forward  # noqa: E402
import cases_fragments  # noqa: E402
import cases_icmp  # noqa: E402
import cases_malformed  # noqa: E402
import cases_passive  # noqa: E402
import cases_second_chance  # noqa: E402
import cases_state  # noqa: E402
from golden import Failure, run_case  # noqa: E402


def all_cases():
    for module in (cases_forward, cases_icmp, cases_malformed, cases_fragments, cases_state,
                   cases_flood, cases_second_chance, cases_passive,
                   cases_burst):
        yield from module.cases()


def burst_sizes(text: str):
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected sizes like 1,7,64") from None
    if not sizes or any(not 1 <= n <= 64 for n in sizes):
        raise argparse.ArgumentTypeError(f"{text!r}: every size must be 1 to 64")
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sluice-pcap", required=True)
    parser.add_argument("-k", dest="filter", default="", help="run cases whose name contains this")
    parser.add_argument("--keep", help="write each case's files under this directory")
    parser.add_argument("--burst", default="1", type=burst_sizes,
                        help="sluice-pcap burst sizes, comma-separated (default 1): every case "
                        "runs at each, with the same expected output")
    args = parser.parse_args()

    failed = []
    ran = 0
    sizes = "burst " + ",".join(str(n) for n in args.burst)
    with tempfile.TemporaryDirectory(prefix="sluice-golden-") as tmp:
        workdir = args.keep or tmp
        for case in all_cases():
            if args.filter not in case.name:
                continue
            ran += 1
            start = time.monotonic()
            try:
                run_case(case, args.sluice_pcap, workdir, args.burst)
                print(f"PASS {case.name} ({len(case.steps)} packets, {sizes}, "
                      f"{time.monotonic() - start:.1f}s)", flush=True)
            except Failure as e:
                failed.append(case.name)
                print(f"FAIL {case.name}: {e}", flush=True)
    print(f"{ran - len(failed)}/{ran} golden cases passed at {sizes}")
    if ran == 0:
        print("no case matched", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Runs the golden packet cases through sluice-pcap: run_golden.py --sluice-pcap PATH [-k NAME]"""

import argparse
import os
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cases_forward  # noqa: E402
import cases_fragments  # noqa: E402
import cases_icmp  # noqa: E402
import cases_malformed  # noqa: E402
import cases_state  # noqa: E402
from golden import Failure, run_case  # noqa: E402


def all_cases():
    for module in (cases_forward, cases_icmp, cases_malformed, cases_fragments, cases_state):
        yield from module.cases()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sluice-pcap", required=True)
    parser.add_argument("-k", dest="filter", default="", help="run cases whose name contains this")
    parser.add_argument("--keep", help="write each case's files under this directory")
    args = parser.parse_args()

    failed = []
    ran = 0
    with tempfile.TemporaryDirectory(prefix="sluice-golden-") as tmp:
        workdir = args.keep or tmp
        for case in all_cases():
            if args.filter not in case.name:
                continue
            ran += 1
            start = time.monotonic()
            try:
                run_case(case, args.sluice_pcap, workdir)
                print(f"PASS {case.name} ({len(case.steps)} packets, "
                      f"{time.monotonic() - start:.1f}s)", flush=True)
            except Failure as e:
                failed.append(case.name)
                print(f"FAIL {case.name}: {e}", flush=True)
    print(f"{ran - len(failed)}/{ran} golden cases passed")
    if ran == 0:
        print("no case matched", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

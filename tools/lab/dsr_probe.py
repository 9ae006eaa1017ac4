#!/usr/bin/python3
"""Sends one encapsulated TCP SYN to a VIP and waits for the SYN-ACK that the backend sends
straight back (DSR). Exit 0 when a SYN-ACK from the VIP arrives in time, 1 otherwise.

With --second-hop ADDR (GUE only) the GUE header carries a Sluice second hop as private data
(docs/tier.md wire format: hlen 2 or 5, 0x53, 0x01|0x02, flags, 0, the address), and --flags
picks the inner TCP flags (`lab probe-hop` sends an ACK no backend has a socket for, --send-only).

Used by tools/lab and tests/bpf/dsr_namespace_test.sh. Bounded: one packet, one timeout."""
import argparse
import logging
import random
import socket
import sys
import time

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)  # no "no route" warnings
from scapy.all import IP, IPv6, TCP, UDP, AsyncSniffer, Ether, Raw, conf, sendp

conf.verb = 0


def gue_header(inner_is_v6, second_hop=None):
    # Variant 0, no control flag, no extension words; protocol = the inner IP protocol. A second
    # hop is private data: hlen words of it after the 4-byte header.
    protocol = 41 if inner_is_v6 else 4
    if second_hop is None:
        return bytes([0, protocol, 0, 0])
    family = socket.AF_INET6 if ":" in second_hop else socket.AF_INET
    address = socket.inet_pton(family, second_hop)
    private = bytes([0x53, 0x02 if family == socket.AF_INET6 else 0x01, 0, 0]) + address
    return bytes([len(private) // 4, protocol, 0, 0]) + private


def build(args, sport):
    inner_cls = IPv6 if ":" in args.vip else IP
    inner = inner_cls(src=args.client, dst=args.vip) / TCP(sport=sport, dport=args.port, flags=args.flags,
                                                            seq=random.randrange(1 << 32))
    outer_cls = IPv6 if ":" in args.backend else IP
    outer = outer_cls(src=args.outer_src, dst=args.backend)
    if args.encap == "gue":
        packet = outer / UDP(sport=sport, dport=args.gue_port) / Raw(gue_header(inner_cls is IPv6, args.second_hop)) / inner
    else:
        packet = outer / inner  # scapy sets protocol / next header 4 or 41 from the inner family
    return Ether(dst=args.dst_mac) / packet


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iface", required=True, help="interface to send on")
    parser.add_argument("--sniff-iface", help="interface the SYN-ACK arrives on (default: --iface)")
    parser.add_argument("--dst-mac", help="next hop MAC for the encapsulated packet")
    parser.add_argument("--outer-src", help="outer source (the load balancer)")
    parser.add_argument("--backend", help="outer destination (backend tunnel address)")
    parser.add_argument("--client", required=True, help="inner source: where the SYN-ACK goes")
    parser.add_argument("--vip", required=True)
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--encap", choices=["ip", "gue"], default="ip")
    parser.add_argument("--gue-port", type=int, default=6080)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--sport", type=int, help="client source port (default: random)")
    parser.add_argument("--flags", default="S", help="inner TCP flags (scapy letters, default S)")
    parser.add_argument("--second-hop", help="GUE only: name this second hop in the GUE header")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--send-only", action="store_true", help="send, do not wait for the reply")
    mode.add_argument("--sniff-only", action="store_true",
                      help="only wait for the SYN-ACK to --sport (run it where the client is)")
    args = parser.parse_args()

    if not args.sniff_only and not (args.dst_mac and args.outer_src and args.backend):
        parser.error("sending needs --dst-mac, --outer-src and --backend")
    if args.second_hop and args.encap != "gue":
        parser.error("--second-hop needs --encap gue")
    sport = args.sport or random.randrange(20000, 60000)
    if args.send_only:
        sendp(build(args, sport), iface=args.iface)
        return 0

    def is_syn_ack(p):
        ip = p.getlayer(IPv6) if ":" in args.vip else p.getlayer(IP)
        return (ip is not None and ip.src == args.vip and p.haslayer(TCP)
                and p[TCP].sport == args.port and p[TCP].dport == sport
                and (p[TCP].flags & 0x12) == 0x12)

    sniffer = AsyncSniffer(iface=args.sniff_iface or args.iface, lfilter=is_syn_ack, count=1,
                           timeout=args.timeout, store=True)
    sniffer.start()
    if not args.sniff_only:
        time.sleep(0.3)  # let the capture socket open before the packet leaves
        sendp(build(args, sport), iface=args.iface)
    sniffer.join()
    got = sniffer.results or []
    if got:
        print(f"dsr_probe: SYN-ACK from {args.vip}:{args.port} to {args.client}:{sport}")
        return 0
    print(f"dsr_probe: no SYN-ACK from {args.vip}:{args.port} to {args.client}:{sport} within "
          f"{args.timeout}s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

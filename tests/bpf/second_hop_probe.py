#!/usr/bin/python3
"""Plays the client and the load balancer of a second-chance check (tests/bpf/
second_hop_namespace_test.sh): opens a real TCP connection to the VIP (routed plainly to backend
A), learns its sequence numbers from the handshake, then sends one data segment of that
connection as a load balancer would after its table changed: GUE-encapsulated to backend B,
naming A as the second hop (or naming none, with --no-hop). Keeps the connection open for
--hold seconds so that A's socket is still there when the segment arrives.

Exit 0 when the segment was sent, 1 when the connection or its handshake was not seen. Bounded:
one connection, one segment, every wait with a timeout."""
import argparse
import ipaddress
import logging
import socket
import sys
import time

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import IP, IPv6, TCP, UDP, AsyncSniffer, Ether, Raw, conf, sendp

conf.verb = 0


def gue_with_hop(inner_is_v6, hop):
    """GUE variant 0, hlen 2 (IPv4 hop) or 5 (IPv6 hop), private data 'S', type, flags 0, 0,
    the hop's address (docs/second-chance-backend.md)."""
    address = ipaddress.ip_address(hop)
    hlen, kind = (2, 1) if address.version == 4 else (5, 2)
    return bytes([hlen, 41 if inner_is_v6 else 4, 0, 0, 0x53, kind, 0, 0]) + address.packed


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iface", required=True, help="the client's interface")
    parser.add_argument("--client", required=True, help="the client's address (bound)")
    parser.add_argument("--vip", required=True)
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--lb", required=True, help="outer source: a Sluice tunnel source")
    parser.add_argument("--backend", required=True, help="outer destination: backend B")
    parser.add_argument("--backend-mac", required=True, help="B's MAC")
    parser.add_argument("--hop", help="the second hop: backend A")
    parser.add_argument("--gue-port", type=int, default=6080)
    parser.add_argument("--payload", default="second-chance")
    parser.add_argument("--hold", type=float, default=3.0)
    args = parser.parse_args()

    v6 = ":" in args.vip
    ip_cls = IPv6 if v6 else IP
    family = socket.AF_INET6 if v6 else socket.AF_INET

    def is_syn_ack(p):
        ip = p.getlayer(ip_cls)
        return (ip is not None and ip.src == args.vip and p.haslayer(TCP)
                and p[TCP].sport == args.port and (p[TCP].flags & 0x12) == 0x12)

    sniffer = AsyncSniffer(iface=args.iface, lfilter=is_syn_ack, count=1, timeout=5, store=True)
    sniffer.start()
    time.sleep(0.3)  # let the capture socket open before the SYN leaves
    connection = socket.socket(family, socket.SOCK_STREAM)
    connection.settimeout(5)
    connection.bind((args.client, 0))
    connection.connect((args.vip, args.port))
    sport = connection.getsockname()[1]
    sniffer.join()
    syn_acks = [p for p in (sniffer.results or []) if p[TCP].dport == sport]
    if not syn_acks:
        print("second_hop_probe: no SYN-ACK seen", file=sys.stderr)
        return 1
    syn_ack = syn_acks[0][TCP]

    inner = ip_cls(src=args.client, dst=args.vip) / TCP(
        sport=sport, dport=args.port, flags="PA", seq=syn_ack.ack, ack=syn_ack.seq + 1
    ) / Raw(args.payload.encode())
    outer_cls = IPv6 if ":" in args.backend else IP
    gue = gue_with_hop(v6, args.hop) if args.hop else bytes([0, 41 if v6 else 4, 0, 0])
    frame = Ether(dst=args.backend_mac) / outer_cls(src=args.lb, dst=args.backend) / UDP(
        sport=50000 + sport % 10000, dport=args.gue_port) / Raw(gue) / inner
    sendp(frame, iface=args.iface)
    print(f"second_hop_probe: sent {args.payload!r} of {args.client}:{sport} to {args.backend}"
          f" with hop {args.hop or 'none'}")
    time.sleep(args.hold)
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

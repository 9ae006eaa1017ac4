#!/usr/bin/python3
"""Plays the client and the load balancer of a second-chance check (tests/bpf/
second_hop_namespace_test.sh): opens a real TCP connection to the VIP (routed plainly to backend
A), reads its next sequence numbers from the kernel (TCP_REPAIR), then sends one data segment of that
connection as a load balancer would after its table changed: GUE-encapsulated to backend B,
naming A as the second hop (or naming none, with --no-hop). Keeps the connection open for
--hold seconds so that A's socket is still there when the segment arrives.

Exit 0 when the segment was sent; an exception (non-zero) when the connection failed. Bounded:
one connection, one segment, every wait with a timeout."""
import argparse
import ipaddress
import logging
import socket
import struct
import sys
import time

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import IP, IPv6, TCP, UDP, Ether, Raw, conf, sendp

conf.verb = 0
# linux/tcp.h
TCP_REPAIR, TCP_REPAIR_QUEUE, TCP_QUEUE_SEQ = 19, 20, 21
TCP_RECV_QUEUE, TCP_SEND_QUEUE = 1, 2
TCP_REPAIR_OFF_NO_WP = -1


def gue_with_hop(inner_is_v6, hop):
    """GUE variant 0, hlen 2 (IPv4 hop) or 5 (IPv6 hop), private data 'S', type, flags 0, 0,
    the hop's address (docs/second-chance.md)."""
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
    connection = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM)
    connection.settimeout(5)
    connection.bind((args.client, 0))
    connection.connect((args.vip, args.port))
    sport = connection.getsockname()[1]
    # The connection's next sequence numbers, from the kernel (repair mode needs
    # CAP_NET_ADMIN): no capture, so nothing to miss on a loaded machine.
    connection.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 1)
    connection.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE)
    seq = struct.unpack("I", connection.getsockopt(socket.IPPROTO_TCP, TCP_QUEUE_SEQ, 4))[0]
    connection.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE)
    ack = struct.unpack("I", connection.getsockopt(socket.IPPROTO_TCP, TCP_QUEUE_SEQ, 4))[0]
    connection.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP)

    inner = ip_cls(src=args.client, dst=args.vip) / TCP(
        sport=sport, dport=args.port, flags="PA", seq=seq, ack=ack) / Raw(args.payload.encode())
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

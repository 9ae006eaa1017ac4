"""Forwarding: TCP and UDP, IPv4 and IPv6, ipip (4in4, 6in6, 4in6) and gue, port-0 VIPs,
VLAN input, Ethernet padding, non-VIP traffic."""

from scapy.all import ARP, IP, TCP, UDP, Dot1Q, Ether, IPv6, Raw
from scapy.layers.inet6 import IPv6ExtHdrDestOpt

from golden import Case, Step, config, encap, vip
from packets import (CLIENT4, CLIENT6, flow_hash, fwd, l2, passed, tcp4, tcp6, udp4, udp6)

B4 = "198.18.1.1"
B6 = "2001:db8:1::1"


def cases():
    out = []

    syn = tcp4(tos=0x28)
    ack = tcp4(flags="A", payload=b"GET / HTTP/1.1\r\n\r\n", tos=0x2B, id=77)
    out.append(Case("tcp4_ipip", config([vip("198.18.0.10", 80, "tcp", [B4])]),
                    [fwd(syn, B4), fwd(ack, B4), fwd(tcp4(flags="FA"), B4)]))

    out.append(Case("udp4_ipip_df_clear", config([vip("198.18.0.10", 53, "udp", [B4])]),
                    [fwd(udp4(id=4242), B4), fwd(udp4(df=True, id=4243, payload=b"x" * 300), B4)]))

    out.append(Case("tcp6_ipip_6in6", config([vip("2001:db8::10", 443, "tcp", [B6])]),
                    [fwd(tcp6(tc=0xB8), B6), fwd(tcp6(flags="A", payload=b"hello"), B6)]))

    out.append(Case("udp4_ipip_4in6", config([vip("198.18.0.10", 53, "udp", [B6])]),
                    [fwd(udp4(tos=0x10), B6), fwd(udp4(df=True), B6)]))

    out.append(Case("tcp4_gue_4in4", config([vip("198.18.0.10", 80, "tcp", [B4], encap="gue")]),
                    [fwd(tcp4(), B4, "gue"), fwd(tcp4(sport=40001, flags="A"), B4, "gue")]))

    out.append(Case("udp6_gue_6in6", config([vip("2001:db8::10", 53, "udp", [B6], encap="gue")]),
                    [fwd(udp6(), B6, "gue"), fwd(udp6(sport=1, payload=b""), B6, "gue")]))

    out.append(Case("udp4_gue_4in6", config([vip("198.18.0.10", 53, "udp", [B6], encap="gue")]),
                    [fwd(udp4(), B6, "gue")]))

    # Port 0 = any port (of its protocol); a port VIP on another address is unaffected.
    port0 = config([vip("198.18.0.11", 0, "udp", [B4]),
                    vip("198.18.0.12", 80, "udp", ["198.18.1.2"])])
    out.append(Case("port0_vip", port0, [
        fwd(udp4(dst="198.18.0.11", dport=53), B4),
        fwd(udp4(dst="198.18.0.11", dport=9999), B4),
        fwd(udp4(dst="198.18.0.12", dport=80), "198.18.1.2"),
        passed(udp4(dst="198.18.0.12", dport=81)),
        passed(tcp4(dst="198.18.0.11", dport=53)),  # wrong protocol: not a VIP
    ]))

    # Not VIP traffic: everything goes to the host, nothing is transmitted.
    out.append(Case("non_vip_pass", config([vip("198.18.0.10", 80, "tcp", [B4])]), [
        passed(Ether(src="02:00:00:00:00:c1", dst="ff:ff:ff:ff:ff:ff") /
               ARP(psrc=CLIENT4, pdst="198.18.0.10")),
        passed(tcp4(dst="198.18.0.99")),
        passed(tcp4(dport=22)),  # VIP address, other port
        passed(udp4(dport=80)),  # VIP address and port, other protocol
        passed(tcp6(dst="2001:db8::99")),
        passed(l2() / IP(src=CLIENT4, dst="198.18.0.10", proto=47) / Raw(b"gre?")),
    ]))

    # 802.1Q input: the encapsulated frame is untagged; padding after the datagram is cut.
    tagged = Ether(src="02:00:00:00:00:c1", dst="02:00:00:00:00:01") / Dot1Q(vlan=100) / \
        IP(src=CLIENT4, dst="198.18.0.10", flags="DF") / TCP(sport=40000, dport=80, flags="S")
    padded = Ether(bytes(tcp4(flags="A")) + b"\x00" * 6)
    out.append(Case("vlan_and_padding", config([vip("198.18.0.10", 80, "tcp", [B4])]),
                    [fwd(tagged, B4), fwd(padded, B4)]))

    # IPv4 options and IPv6 extension headers are forwarded untouched inside the tunnel.
    opts = l2() / IP(src=CLIENT4, dst="198.18.0.10", flags="DF",
                     options=[b"\x94\x04\x00\x00"]) / TCP(sport=40000, dport=80, flags="S")
    ext = l2() / IPv6(src=CLIENT6, dst="2001:db8::10") / IPv6ExtHdrDestOpt() / \
        TCP(sport=40000, dport=443, flags="S")

    def check_counted(verdicts, counters):
        assert counters["events"]["ipv4_options_forwarded"] == 1, counters["events"]
        assert counters["events"]["ipv6_extensions_forwarded"] == 1, counters["events"]

    out.append(Case("options_and_extensions",
                    config([vip("198.18.0.10", 80, "tcp", [B4]),
                            vip("2001:db8::10", 443, "tcp", [B6])]),
                    [fwd(opts, B4), fwd(ext, B6)], check=check_counted))

    # Counters: per VIP and per backend packets, bytes, new and active flows.
    def check_counters(verdicts, counters):
        (v,) = counters["per_vip"]
        assert v["packets"] == 3 and v["new_flows"] == 2 and v["active_flows"] == 2, v
        sizes = len(tcp4()) * 2 + len(tcp4(sport=40001))
        assert v["bytes"] == sizes, (v["bytes"], sizes)
        (b,) = v["per_backend"]
        assert b["address"] == B4 and b["packets"] == 3 and b["active_flows"] == 2, b

    out.append(Case("counters", config([vip("198.18.0.10", 80, "tcp", [B4])]),
                    [fwd(tcp4(), B4), fwd(tcp4(), B4), fwd(tcp4(sport=40001), B4)],
                    check=check_counters))
    return out

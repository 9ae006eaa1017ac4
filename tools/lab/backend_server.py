#!/usr/bin/python3
"""A lab backend: an HTTP server and a UDP service that both answer with the backend's name, so
a client can tell which backend served it.

HTTP (TCP, IPv4 and IPv6 on one socket per --http-port; the same answers on every port):
  GET /                 -> "<name>\\n"
  GET /health           -> "ok\\n"            (health checks)
  GET /slow?seconds=N   -> "<name> i\\n" once a second, N lines (N <= 300): a long-lived
                           connection for drain and restart tests
With --delay-file, every HTTP answer (health checks included) waits the number of milliseconds
that file holds (a missing or empty file: 0) before it starts: a slow backend. The file is
read again whenever it changes, so `tools/lab/lab server BE slow MS` changes it at runtime and
connections held open keep working. The file may hold a second number, a jitter in percent:
"20 20" waits 16..24 ms, drawn anew for every answer.
Agent (--agent-port, the adaptive lab): a TCP connection gets one HAProxy-style agent line
("50%", "drain", "up 100%", ...) and is closed. The line is the first line of --agent-file,
read at every connection (`tools/lab/lab agent BE TEXT|clear`), or --agent-default without one.
UDP: every datagram gets "<name> <datagram>" back. The UDP sockets are bound to each given
address (the VIPs and the backend's own address) so that replies leave from the address the
client used: with DSR that must be the VIP.
"""
import argparse
import http.server
import os
import random
import selectors
import socket
import socketserver
import sys
import threading
import time
import urllib.parse

MAX_SLOW_SECONDS = 300
MAX_DELAY_MS = 60_000


class Delay:
    """The delay in --delay-file ("MS" or "MS JITTER_PCT"), read again when the file's mtime or
    size changes."""

    def __init__(self, path):
        self.path = path
        self.key = None
        self.ms = 0
        self.jitter = 0.0
        self.lock = threading.Lock()
        self.random = random.Random()

    def seconds(self):
        if not self.path:
            return 0
        try:
            st = os.stat(self.path)
            key = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            return 0
        with self.lock:
            if key != self.key:
                try:
                    with open(self.path) as f:
                        words = f.read().split()
                    self.ms = max(0, min(MAX_DELAY_MS, int(words[0]))) if words else 0
                    self.jitter = max(0, min(100, int(words[1]))) / 100 if len(words) > 1 else 0.0
                except (OSError, ValueError):
                    self.ms, self.jitter = 0, 0.0
                self.key = key
            if self.jitter:
                return self.ms * (1 + self.random.uniform(-self.jitter, self.jitter)) / 1000
            return self.ms / 1000


def make_handler(name, delay):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # one line per request would fill the lab's disk
            pass

        def end_headers(self):
            # Say so when this response ends the connection (the client asked for it): a
            # client that is not told may send its next request into the closed connection
            # and get a reset (curl does), which a DSR load balancer never sees.
            if self.close_connection:
                self.send_header("Connection", "close")
            super().end_headers()

        def send_text(self, text):
            body = text.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Backend", name)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self):
            self.do_GET()

        def do_GET(self):
            wait = delay.seconds()
            if wait:
                time.sleep(wait)
            url = urllib.parse.urlparse(self.path)
            if url.path == "/health":
                self.send_text("ok\n")
            elif url.path == "/slow":
                self.slow(urllib.parse.parse_qs(url.query))
            else:
                self.send_text(f"{name}\n")

        def slow(self, query):
            try:
                seconds = max(1, min(MAX_SLOW_SECONDS, int(query.get("seconds", ["10"])[0])))
            except ValueError:
                seconds = 10
            lines = [f"{name} {i}\n".encode() for i in range(seconds)]
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(sum(len(line) for line in lines)))
            self.send_header("X-Backend", name)
            self.end_headers()
            for i, line in enumerate(lines):
                if i:
                    time.sleep(1)
                self.wfile.write(line)
                self.wfile.flush()

    return Handler


class DualStackHttpServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog (5) overflows under a few hundred held connections plus
    # new ones at a steady rate: dropped SYNs come back a second later and look like a failover.
    request_queue_size = 256

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def serve_agent(port, path, default):
    """The agent: every connection gets one line and is closed (the HAProxy agent protocol)."""
    server = socket.create_server(("::", port), family=socket.AF_INET6, dualstack_ipv6=True,
                                  backlog=64)
    def answer(conn):
        with conn:
            line = default
            if path:
                try:
                    with open(path) as f:
                        line = f.readline().strip() or default
                except OSError:
                    pass
            try:
                conn.settimeout(1)
                conn.sendall(f"{line}\n".encode())
                conn.shutdown(socket.SHUT_WR)
                # Read what the checker may have sent (HAProxy's agent-send) until it closes:
                # closing with unread bytes would reset the connection under the line.
                while conn.recv(512):
                    pass
            except OSError:
                pass

    while True:
        conn, _ = server.accept()
        threading.Thread(target=answer, args=(conn,), daemon=True).start()


def serve_udp(name, addresses, port):
    selector = selectors.DefaultSelector()
    for address in addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        selector.register(sock, selectors.EVENT_READ)
    prefix = f"{name} ".encode()
    while True:
        for key, _ in selector.select():
            data, peer = key.fileobj.recvfrom(2048)
            key.fileobj.sendto(prefix + data, peer)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True)
    parser.add_argument("--http-port", type=int, action="append", default=[],
                        help="TCP port to answer HTTP on; repeat for several (default 80)")
    parser.add_argument("--udp-port", type=int, default=7)
    parser.add_argument("--udp-address", action="append", default=[],
                        help="address to answer UDP on; repeat (VIPs and the backend's own)")
    parser.add_argument("--pidfile")
    parser.add_argument("--delay-file",
                        help="file holding the milliseconds to wait before each HTTP answer")
    parser.add_argument("--agent-port", type=int,
                        help="TCP port of the agent (one HAProxy-style line per connection)")
    parser.add_argument("--agent-file", help="file whose first line the agent answers")
    parser.add_argument("--agent-default", default="up 100%",
                        help="what the agent answers without --agent-file (default 'up 100%%')")
    args = parser.parse_args()

    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write(f"{os.getpid()}\n")
    if args.udp_address:
        threading.Thread(target=serve_udp, args=(args.name, args.udp_address, args.udp_port),
                         daemon=True).start()
    if args.agent_port:
        threading.Thread(target=serve_agent,
                         args=(args.agent_port, args.agent_file, args.agent_default),
                         daemon=True).start()
    servers = [DualStackHttpServer(("::", port), make_handler(args.name, Delay(args.delay_file)))
               for port in args.http_port or [80]]
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        servers[0].serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

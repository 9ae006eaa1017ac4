#!/usr/bin/python3
"""A test backend for the control-plane tests: an HTTP, TCP or UDP server bound to one address.

It exits by itself after --lifetime seconds, so a crashed test never leaves it running.
"""
import argparse
import http.server
import signal
import socket
import socketserver
import sys
import threading


def serve_http(args):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = args.body.encode()
            self.send_response(args.status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *unused):
            pass

    http.server.ThreadingHTTPServer.allow_reuse_address = True
    server = http.server.ThreadingHTTPServer((args.bind, args.port), Handler)
    # A health check that timed out closes its connection before the (frozen) server answers.
    server.handle_error = lambda *unused: None
    server.serve_forever()


def serve_tcp(args):
    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.close()

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer((args.bind, args.port), Handler).serve_forever()


def serve_udp(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((args.bind, args.port))
    while True:
        data, peer = sock.recvfrom(2048)
        sock.sendto(args.body.encode() + data, peer)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["http", "tcp", "udp"], required=True)
    parser.add_argument("--bind", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--body", default="ok")
    parser.add_argument("--lifetime", type=float, default=180)
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, lambda *unused: sys.exit(0))
    signal.setitimer(signal.ITIMER_REAL, args.lifetime)
    {"http": serve_http, "tcp": serve_tcp, "udp": serve_udp}[args.mode](args)


if __name__ == "__main__":
    main()

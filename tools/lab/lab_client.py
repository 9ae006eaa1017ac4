#!/usr/bin/python3
"""Traffic for the Sluice lab, run inside the client namespace. Every mode is bounded in count
and in time, and prints one JSON summary on stdout.

  http   many short TCP connections: one HTTP request each ("Connection: close"), from
         --concurrency threads, until --count requests, --duration seconds or SIGTERM/SIGINT. The backend that
         answered comes from the X-Backend header. --jsonl writes one line per request:
         {"t": start (epoch s), "ms": duration, "port": client port, "backend": "be2"} or
         {"t", "ms", "port", "error"}. With --rate R the threads start R requests a second in
         all (steady new connections). The summary's "disruption" is the span from the start of
         the first request that failed (or took longer than --slow-ms) to the end of the last
         one: "new connections failed for at most X s".
  udp    --count datagrams, each from a new socket (a new source port, a new flow); the reply
         "<backend> <payload>" names the backend.
  hold   --connections long-lived HTTP/1.1 keep-alive connections, one request every
         --interval seconds on each, until --duration or SIGTERM/SIGINT. A connection that
         breaks is never reopened: it counts as broken. The summary has, per connection, the
         backends that answered (one, if nothing moved), the error if it broke and when, and
         its slowest answer ("max_ms": a stall while packets were lost and retransmitted);
         "broken_connections" lists the broken ones in the order they broke.
         --ready-file is created (atomically) once every connection has had its first answer:
         {"t": epoch s, "connections": [{"port": client port, "backend": "be2"}, ...]}, so a
         test can tell the flows and their backends while they are held.
"""
import argparse
import json
import os
import signal
import socket
import sys
import threading
import time

MAX_COUNT = 1_000_000
MAX_DURATION_S = 3600


def address_of(target, port):
    family = socket.AF_INET6 if ":" in target else socket.AF_INET
    return family, (target, port)


def read_response(sock, buffer):
    """Reads one HTTP response from `sock`; `buffer` holds bytes already read. Returns
    (status, headers, body, rest of the buffer)."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("connection closed before the response headers")
        buffer += chunk
    head, buffer = buffer.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(buffer) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("connection closed in the middle of the body")
        buffer += chunk
    return status, headers, buffer[:length], buffer[length:]


def request_bytes(host, path, keep_alive):
    connection = "keep-alive" if keep_alive else "close"
    return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: sluice-lab-client\r\n"
            f"Connection: {connection}\r\n\r\n").encode()


def http_once(family, address, host, timeout, flow):
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        finally:
            flow["port"] = sock.getsockname()[1]
        sock.sendall(request_bytes(host, "/", keep_alive=False))
        status, headers, _, _ = read_response(sock, b"")
        if status != 200:
            raise ConnectionError(f"HTTP {status}")
        return headers.get("x-backend", "?")


class Tally:
    """Results shared by the worker threads."""

    def __init__(self, jsonl, slow_s):
        self.lock = threading.Lock()
        self.issued = 0
        self.per_backend = {}
        self.errors = {}
        self.failed = 0
        self.slow = 0
        self.slow_s = slow_s
        self.disrupted_from = None  # start of the first failed or slow request (epoch s)
        self.disrupted_to = None  # end of the last one
        self.jsonl = jsonl

    def take(self, count):
        with self.lock:
            if self.issued >= count:
                return False
            self.issued += 1
            return True

    def record(self, started, seconds, flow, backend=None, error=None):
        with self.lock:
            if error is None:
                self.per_backend[backend] = self.per_backend.get(backend, 0) + 1
            else:
                self.failed += 1
                self.errors[error] = self.errors.get(error, 0) + 1
            slow = error is None and self.slow_s and seconds > self.slow_s
            self.slow += 1 if slow else 0
            if error is not None or slow:
                ended = started + seconds
                if self.disrupted_from is None or started < self.disrupted_from:
                    self.disrupted_from = started
                if self.disrupted_to is None or ended > self.disrupted_to:
                    self.disrupted_to = ended
            if self.jsonl:
                line = {"t": round(started, 6), "ms": round(seconds * 1000, 3)}
                line.update(flow)
                line.update({"backend": backend} if error is None else {"error": error})
                self.jsonl.write(json.dumps(line) + "\n")


def error_name(exc):
    if isinstance(exc, socket.timeout):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    return type(exc).__name__ + (f": {exc}" if str(exc) else "")


def run_parallel(args, one):
    """Runs `one()` from --concurrency threads until --count or --duration; returns the tally."""
    jsonl = open(args.jsonl, "w") if args.jsonl else None
    tally = Tally(jsonl, args.slow_ms / 1000)
    deadline = time.monotonic() + args.duration
    interval = args.concurrency / args.rate if args.rate else 0
    stop = threading.Event()  # SIGTERM / SIGINT: no new requests, then the summary
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    def worker():
        next_start = time.monotonic()
        while time.monotonic() < deadline and not stop.is_set() and tally.take(args.count):
            if interval:
                next_start += interval
            started, t0 = time.time(), time.monotonic()
            flow = {}  # what one() learns about the flow (the client port)
            try:
                backend = one(flow)
                tally.record(started, time.monotonic() - t0, flow, backend=backend)
            except (OSError, ValueError, IndexError) as exc:
                tally.record(started, time.monotonic() - t0, flow, error=error_name(exc))
            if interval:
                stop.wait(max(0.0, next_start - time.monotonic()))

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(args.duration + args.timeout + 5)
    if jsonl:
        jsonl.close()
    ok = sum(tally.per_backend.values())
    disruption = None
    if tally.disrupted_from is not None:
        disruption = {"from": round(tally.disrupted_from, 6), "to": round(tally.disrupted_to, 6),
                      "seconds": round(tally.disrupted_to - tally.disrupted_from, 3)}
    return {"requests": ok + tally.failed, "ok": ok, "failed": tally.failed, "slow": tally.slow,
            "seconds": round(time.monotonic() - t0, 3),
            "per_backend": dict(sorted(tally.per_backend.items())), "errors": tally.errors,
            "disruption": disruption}


def cmd_http(args):
    family, address = address_of(args.target, args.port)
    host = f"[{args.target}]" if family == socket.AF_INET6 else args.target
    return run_parallel(args, lambda flow: http_once(family, address, host, args.timeout, flow))


def cmd_udp(args):
    family, address = address_of(args.target, args.port)

    def one(flow):
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.settimeout(args.timeout)
            payload = os.urandom(8).hex().encode()
            sock.sendto(payload, address)
            flow["port"] = sock.getsockname()[1]
            reply, _ = sock.recvfrom(2048)
            name, _, echoed = reply.partition(b" ")
            if echoed != payload:
                raise ValueError("reply does not echo the datagram")
            return name.decode()

    return run_parallel(args, one)


class HeldConnection(threading.Thread):
    def __init__(self, index, args, stop, ready):
        super().__init__(daemon=True)
        self.index, self.args, self.stop, self.ready = index, args, stop, ready
        self.backends = []  # in order of first appearance
        self.requests = 0
        self.error = None
        self.error_at = None
        self.local_port = None
        self.max_ms = 0.0  # the slowest answer
        self.max_ms_at = None  # when that request started

    def run(self):
        args = self.args
        family, address = address_of(args.target, args.port)
        host = f"[{args.target}]" if family == socket.AF_INET6 else args.target
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.settimeout(args.timeout)
                sock.connect(address)
                self.local_port = sock.getsockname()[1]
                buffer = b""
                while True:
                    sent_at, t0 = time.time(), time.monotonic()
                    sock.sendall(request_bytes(host, "/", keep_alive=True))
                    status, headers, _, buffer = read_response(sock, buffer)
                    ms = (time.monotonic() - t0) * 1000
                    if ms > self.max_ms:
                        self.max_ms, self.max_ms_at = ms, sent_at
                    if status != 200:
                        raise ConnectionError(f"HTTP {status}")
                    backend = headers.get("x-backend", "?")
                    if backend not in self.backends:
                        self.backends.append(backend)
                    self.requests += 1
                    if self.requests == 1:
                        self.ready.release()
                    if self.stop.wait(args.interval):
                        return
        except (OSError, ValueError, IndexError) as exc:
            self.error = error_name(exc)
            self.error_at = time.time()
            if self.requests == 0:
                self.ready.release()


def cmd_hold(args):
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    ready = threading.Semaphore(0)
    connections = [HeldConnection(i, args, stop, ready) for i in range(args.connections)]
    started = time.time()
    for connection in connections:
        connection.start()
        time.sleep(0.01)  # distinct source ports, no SYN burst
    for _ in connections:
        ready.acquire(timeout=args.timeout)
    if args.ready_file:
        ready_state = {"t": time.time(),
                       "connections": [{"port": c.local_port,
                                        "backend": c.backends[0] if c.backends else None}
                                       for c in connections]}
        with open(args.ready_file + ".tmp", "w") as f:
            json.dump(ready_state, f)
        os.replace(args.ready_file + ".tmp", args.ready_file)
    stop.wait(args.duration)
    stop.set()
    for connection in connections:
        connection.join(args.timeout + 1)
    per_connection = [{"port": c.local_port, "backends": c.backends, "requests": c.requests,
                       "error": c.error, "error_at": c.error_at, "max_ms": round(c.max_ms, 3),
                       "max_ms_at": c.max_ms_at} for c in connections]
    broken = sorted((c for c in per_connection if c["error"]), key=lambda c: c["error_at"])
    slowest = max(connections, key=lambda c: c.max_ms, default=None)
    return {"connections": len(connections),
            "broken": len(broken),
            "moved": sum(1 for c in connections if len(c.backends) > 1),
            "requests": sum(c.requests for c in connections),
            "seconds": round(time.time() - started, 3),
            "max_ms": round(slowest.max_ms, 3) if slowest else 0,
            "max_ms_at": slowest.max_ms_at if slowest else None,
            "per_backend": count_by_first_backend(connections),
            "broken_connections": [{"port": c["port"], "error": c["error"],
                                    "error_at": c["error_at"], "backends": c["backends"],
                                    "requests": c["requests"]} for c in broken],
            "per_connection": per_connection}


def count_by_first_backend(connections):
    counts = {}
    for c in connections:
        if c.backends:
            counts[c.backends[0]] = counts.get(c.backends[0], 0) + 1
    return dict(sorted(counts.items()))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    for name in ("http", "udp", "hold"):
        p = sub.add_parser(name)
        p.add_argument("--target", default="198.18.0.10", help="VIP address")
        p.add_argument("--port", type=int, default=7 if name == "udp" else 80)
        p.add_argument("--duration", type=float, default=30, help="upper bound, seconds")
        if name == "hold":
            p.add_argument("--connections", type=int, default=16)
            p.add_argument("--interval", type=float, default=0.2, help="seconds between requests")
            p.add_argument("--timeout", type=float, default=20, help="per request, seconds")
            p.add_argument("--ready-file")
        else:
            p.add_argument("--count", type=int, default=1000)
            p.add_argument("--concurrency", type=int, default=4)
            p.add_argument("--rate", type=float, default=0,
                           help="requests per second in all (0: as fast as possible)")
            p.add_argument("--timeout", type=float, default=2, help="per request, seconds")
            p.add_argument("--slow-ms", type=float, default=0,
                           help="a request slower than this counts in the disruption (0: off)")
            p.add_argument("--jsonl", help="one line per request")
    args = parser.parse_args()
    if not 0 < args.duration <= MAX_DURATION_S:
        parser.error(f"--duration must be in (0, {MAX_DURATION_S}]")
    if args.mode != "hold" and not 0 < args.count <= MAX_COUNT:
        parser.error(f"--count must be in 1..{MAX_COUNT}")
    summary = {"http": cmd_http, "udp": cmd_udp, "hold": cmd_hold}[args.mode](args)
    json.dump(summary, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Bounded TCP connection load for the Sluice lab, run inside the client namespace (stdlib,
asyncio). Prints one JSON summary on stdout (and to --json FILE).

  rate   --rate new TCP connections a second to each --port of --target for --duration
         seconds (or until SIGTERM/SIGINT: no new ones, the open ones finish). Each connection
         sends one `GET /` ("Connection: close") and reads the answer; the backend that answered
         comes from the X-Backend header (tools/lab/backend_server.py). Per connection (one JSON
         line in --jsonl FILE):
           {"t": start (epoch s), "port": VIP port, "sport": client port, "outcome": "ok",
            "backend": "be2", "connect_ms": 1.2, "ms": 3.4, "syn_retransmits": 0}
         outcome: ok | timeout | refused | reset | error (then "error": text). connect_ms is the
         time to the end of the handshake; syn_retransmits estimates how many SYN
         retransmissions it took from that time: Linux resends an unanswered SYN 1 s after it,
         and with net.ipv4.tcp_syn_linear_timeouts = N (Linux 6.5 and later, default 4) the
         first N retransmissions come 1 s apart (at 1, 2, 3, 4 s, then 6, 10 s), without it
         they double (1, 3, 7, 15 s); a connect time within 100 ms of the k-th counts k. The
         summary (with "syn_retransmit_times_s") counts outcomes, backends and
         retransmissions per port and per --bucket seconds.
  held   --connections K keep-alive connections to --target:--port, one `GET /` on each every
         --interval seconds until --duration or SIGTERM/SIGINT. With --backend, only
         connections whose first answer came from that backend are kept (others are closed and
         another is opened, at most --max-attempts in all). A connection that fails is never
         reopened. --ready-file is written (atomically) once all K have answered:
           {"t": epoch s, "connections": [{"sport": client port, "backend": "be1"}, ...]}
         The summary has per connection the backends that answered, its requests, its slowest
         answer and its error (if it broke), and "failed": how many broke or answered from
         another backend.
Every mode is bounded in count and in time.
"""
import argparse
import asyncio
import json
import os
import resource
import signal
import socket
import sys
import time

MAX_RATE = 5000
MAX_DURATION_S = 600
MAX_HELD = 2000


def syn_retransmit_times(linear=None, count=6):
    """When Linux sends its SYN retransmissions (seconds after the first SYN): the initial RTO
    is 1 s; the first net.ipv4.tcp_syn_linear_timeouts (Linux 6.5 and later, default 4) keep
    it, the later ones double it: 1, 2, 3, 4, 6, 10 s; without that sysctl 1, 3, 7, 15 s."""
    if linear is None:
        try:
            with open("/proc/sys/net/ipv4/tcp_syn_linear_timeouts") as f:
                linear = int(f.read())
        except (OSError, ValueError):
            linear = 0
    times, t, rto = [], 0, 1
    for k in range(1, count + 1):
        t += rto
        times.append(t)
        if k >= linear:
            rto *= 2
    return times


RETRANSMIT_TIMES_S = syn_retransmit_times()


def syn_retransmits(connect_ms):
    """SYN retransmissions a connect of connect_ms took (100 ms of slack per step)."""
    return sum(1 for t in RETRANSMIT_TIMES_S if connect_ms >= t * 1000 - 100)


def raise_fd_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return
    for limit in ((wanted, max(hard, wanted)), (min(wanted, hard), hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, limit)
            return
        except (ValueError, OSError):
            continue


def request_bytes(keep_alive):
    connection = "keep-alive" if keep_alive else "close"
    return (f"GET / HTTP/1.1\r\nHost: sluice-lab\r\nUser-Agent: sluice-conn-load\r\n"
            f"Connection: {connection}\r\n\r\n").encode()


async def read_response(reader):
    """(status, headers, body) of one HTTP/1.1 response with a Content-Length."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


def error_kind(exc):
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (ConnectionResetError, asyncio.IncompleteReadError, BrokenPipeError)):
        return "reset"
    return "error"


async def open_connection(target, port, timeout):
    """(reader, writer, connect seconds)."""
    family = socket.AF_INET6 if ":" in target else socket.AF_INET
    started = time.monotonic()
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(target, port, family=family), timeout)
    return reader, writer, time.monotonic() - started


async def one_connection(target, port, timeout):
    record = {"t": round(time.time(), 4), "port": port}
    started = time.monotonic()
    writer = None
    try:
        reader, writer, connect_s = await open_connection(target, port, timeout)
        record["sport"] = writer.get_extra_info("sockname")[1]
        record["connect_ms"] = round(connect_s * 1000, 2)
        record["syn_retransmits"] = syn_retransmits(connect_s * 1000)
        writer.write(request_bytes(keep_alive=False))
        remaining = max(0.1, timeout - (time.monotonic() - started))
        status, headers, _ = await asyncio.wait_for(read_response(reader), remaining)
        if status != 200:
            raise ConnectionError(f"HTTP {status}")
        record["outcome"] = "ok"
        record["backend"] = headers.get("x-backend")
    except Exception as exc:  # noqa: BLE001  every failure is a result
        record["outcome"] = error_kind(exc)
        record["error"] = f"{type(exc).__name__}: {exc}"[:200]
    finally:
        if writer is not None:
            writer.close()
    record["ms"] = round((time.monotonic() - started) * 1000, 2)
    return record


class Summary:
    def __init__(self, bucket_s):
        self.bucket_s = bucket_s
        self.start = None
        self.ports = {}

    def add(self, record):
        port = self.ports.setdefault(str(record["port"]), {
            "connections": 0, "outcomes": {}, "backends": {}, "syn_retransmits": {},
            "max_connect_ms": 0.0, "buckets": {}})
        port["connections"] += 1
        port["outcomes"][record["outcome"]] = port["outcomes"].get(record["outcome"], 0) + 1
        if record["outcome"] == "ok":
            be = record["backend"]
            port["backends"][be] = port["backends"].get(be, 0) + 1
            n = str(record["syn_retransmits"])
            port["syn_retransmits"][n] = port["syn_retransmits"].get(n, 0) + 1
            port["max_connect_ms"] = max(port["max_connect_ms"], record["connect_ms"])
        index = str(int((record["t"] - self.start) // self.bucket_s))
        bucket = port["buckets"].setdefault(index, {})
        key = record["backend"] if record["outcome"] == "ok" else record["outcome"]
        bucket[key] = bucket.get(key, 0) + 1


async def run_rate(args):
    raise_fd_limit(int(args.rate * len(args.port) * args.timeout * 1.5) + 256)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    summary = Summary(args.bucket)
    summary.start = time.time()
    jsonl = open(args.jsonl, "w") if args.jsonl else None
    tasks = set()
    done_records = 0

    def finished(task):
        nonlocal done_records
        tasks.discard(task)
        if task.cancelled():
            return
        record = task.result()
        summary.add(record)
        done_records += 1
        if jsonl:
            jsonl.write(json.dumps(record) + "\n")

    started = time.monotonic()
    n = 0
    total = int(args.rate * args.duration)
    while n < total and not stop.is_set():
        due = started + n / args.rate
        delay = due - time.monotonic()
        if delay > 0:
            try:
                await asyncio.wait_for(stop.wait(), delay)
                break
            except asyncio.TimeoutError:
                pass
        for port in args.port:
            if len(tasks) >= args.max_in_flight:
                summary.add({"t": time.time(), "port": port, "outcome": "skipped"})
                continue
            task = asyncio.create_task(one_connection(args.target, port, args.timeout))
            task.add_done_callback(finished)
            tasks.add(task)
        n += 1
    if tasks:
        await asyncio.wait(set(tasks), timeout=args.timeout + 5)
    if jsonl:
        jsonl.close()
    return {"mode": "rate", "target": args.target, "rate_per_port": args.rate,
            "duration_s": round(time.monotonic() - started, 3), "timeout_s": args.timeout,
            "syn_retransmit_times_s": RETRANSMIT_TIMES_S, "bucket_s": args.bucket, "start": round(summary.start, 4),
            "connections": done_records, "ports": summary.ports}


class Held:
    def __init__(self, index, reader, writer, backend, connect_ms):
        self.index = index
        self.reader, self.writer = reader, writer
        self.sport = writer.get_extra_info("sockname")[1]
        self.backends = {backend: 1}
        self.first = backend
        self.requests = 1
        self.max_ms = 0.0
        self.connect_ms = connect_ms
        self.error = None
        self.failed_at = None

    def report(self):
        out = {"sport": self.sport, "backends": self.backends, "requests": self.requests,
               "max_ms": round(self.max_ms, 2), "connect_ms": round(self.connect_ms, 2)}
        if self.error:
            out["error"] = self.error
            out["failed_at"] = round(self.failed_at, 4)
        return out


async def request_on(held, timeout):
    started = time.monotonic()
    held.writer.write(request_bytes(keep_alive=True))
    status, headers, _ = await asyncio.wait_for(read_response(held.reader), timeout)
    if status != 200:
        raise ConnectionError(f"HTTP {status}")
    return headers.get("x-backend"), (time.monotonic() - started) * 1000


async def run_held(args):
    raise_fd_limit(args.connections + 256)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    deadline = time.monotonic() + args.duration
    held, attempts, open_errors = [], 0, {}
    while len(held) < args.connections and attempts < args.max_attempts and not stop.is_set():
        if time.monotonic() > deadline:
            break
        attempts += 1
        try:
            reader, writer, connect_s = await open_connection(args.target, args.port, args.timeout)
        except Exception as exc:  # noqa: BLE001
            kind = error_kind(exc)
            open_errors[kind] = open_errors.get(kind, 0) + 1
            continue
        try:
            writer.write(request_bytes(keep_alive=True))
            status, headers, _ = await asyncio.wait_for(read_response(reader), args.timeout)
            backend = headers.get("x-backend") if status == 200 else None
        except Exception as exc:  # noqa: BLE001
            kind = error_kind(exc)
            open_errors[kind] = open_errors.get(kind, 0) + 1
            writer.close()
            continue
        if backend is None or (args.backend and backend != args.backend):
            writer.close()
            continue
        held.append(Held(len(held), reader, writer, backend, connect_s * 1000))
        await asyncio.sleep(0.01)
    ready = len(held) == args.connections
    if ready and args.ready_file:
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"t": time.time(), "connections": [
                {"sport": h.sport, "backend": h.first} for h in held]}, f)
        os.replace(tmp, args.ready_file)

    async def keep(h):
        # Spread the connections over the interval, then one request each interval.
        await asyncio.sleep(args.interval * h.index / max(1, len(held)))
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                await asyncio.wait_for(stop.wait(), args.interval)
                return
            except asyncio.TimeoutError:
                pass
            try:
                backend, ms = await request_on(h, args.timeout)
            except Exception as exc:  # noqa: BLE001
                h.error = f"{error_kind(exc)}: {type(exc).__name__}: {exc}"[:200]
                h.failed_at = time.time()
                return
            h.requests += 1
            h.max_ms = max(h.max_ms, ms)
            h.backends[backend] = h.backends.get(backend, 0) + 1

    started = time.time()
    if ready:
        await asyncio.gather(*(keep(h) for h in held))
    for h in held:
        h.writer.close()
    reports = [h.report() for h in held]
    moved = sum(1 for h in held if len(h.backends) > 1)
    broken = sum(1 for h in held if h.error)
    return {"mode": "held", "target": args.target, "port": args.port,
            "wanted": args.connections, "ready": ready, "attempts": attempts,
            "open_errors": open_errors, "backend": args.backend,
            "held_s": round(time.time() - started, 3),
            "requests": sum(h.requests for h in held), "moved": moved, "broken": broken,
            "failed": moved + broken, "max_ms": round(max((h.max_ms for h in held), default=0), 2),
            "connections": reports}


# For the tests and scenarios that read --jsonl (tests/e2e/test_adaptive_weights.py,
# tools/lab/scenario_adaptive.py).
def read_records(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def window(records, t0, t1, port=None):
    """{backend or outcome: count} of the connections started in [t0, t1) (on `port`)."""
    counts = {}
    for r in records:
        if t0 <= r["t"] < t1 and (port is None or r["port"] == port):
            key = r.get("backend") if r["outcome"] == "ok" else r["outcome"]
            counts[key] = counts.get(key, 0) + 1
    return counts


def share(records, backend, t0, t1, port=None):
    """`backend`'s share of the answered connections started in [t0, t1); None without any."""
    counts = window(records, t0, t1, port)
    answered = sum(n for key, n in counts.items() if key not in
                   ("timeout", "refused", "reset", "error", "skipped"))
    return counts.get(backend, 0) / answered if answered else None


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    rate = sub.add_parser("rate", help="new connections a second")
    rate.add_argument("--port", type=int, action="append", default=[],
                      help="VIP port; repeat for several (each gets --rate)")
    rate.add_argument("--rate", type=float, default=100, help="new connections/s per port")
    rate.add_argument("--duration", type=float, default=10)
    rate.add_argument("--timeout", type=float, default=5,
                      help="seconds for connect + answer (default 5: up to two SYN retransmits)")
    rate.add_argument("--bucket", type=float, default=1.0, help="summary bucket, seconds")
    rate.add_argument("--max-in-flight", type=int, default=8000)
    rate.add_argument("--jsonl", help="one line per connection")
    held = sub.add_parser("held", help="keep-alive connections")
    held.add_argument("--port", type=int, default=80)
    held.add_argument("--connections", type=int, default=8)
    held.add_argument("--backend", help="keep only connections to this backend")
    held.add_argument("--interval", type=float, default=0.2)
    held.add_argument("--duration", type=float, default=60)
    held.add_argument("--timeout", type=float, default=3)
    held.add_argument("--max-attempts", type=int, default=0, help="default 60 x connections")
    held.add_argument("--ready-file")
    for p in (rate, held):
        p.add_argument("--target", default="198.18.0.10")
        p.add_argument("--json", help="also write the summary here")
    args = parser.parse_args()

    if not 0 < args.duration <= MAX_DURATION_S:
        parser.error(f"--duration: 0 < seconds <= {MAX_DURATION_S}")
    if args.mode == "rate":
        args.port = args.port or [80]
        if not 0 < args.rate <= MAX_RATE:
            parser.error(f"--rate: 0 < rate <= {MAX_RATE}")
        result = asyncio.run(run_rate(args))
    else:
        if not 0 < args.connections <= MAX_HELD:
            parser.error(f"--connections: 1..{MAX_HELD}")
        args.max_attempts = args.max_attempts or 60 * args.connections
        result = asyncio.run(run_held(args))
    text = json.dumps(result)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Runs the real sluice-dataplane for tests/dataplane: DPDK without hugepages or PCI, net_pcap /
net_null vdevs, a private --file-prefix, a control-socket client (4-byte big-endian length +
JSON, lib/sluice/control/frame.hpp) and a DPDK telemetry client. Every run is bounded in time
and always stopped (SIGTERM, then SIGKILL) and cleaned up."""

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
from typing import Dict, List, Optional


def unique_prefix(name: str) -> str:
    # tools/cleanup-leftovers removes stale files of prefixes starting with "sl". SLUICE_TEST_TAG
    # (optional) goes into every prefix, so that runs sharing a machine can tell theirs apart.
    tag = os.environ.get("SLUICE_TEST_TAG", "")
    return f"sl-dpt-{tag + '-' if tag else ''}{name}-{os.getpid()}"


class ControlClient:
    def __init__(self, path: str, timeout: float = 10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)

    def close(self):
        self.sock.close()

    def _recv_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("control socket closed by the dataplane")
            data += chunk
        return data

    def request(self, body: dict) -> dict:
        payload = json.dumps(body).encode()
        self.sock.sendall(struct.pack("!I", len(payload)) + payload)
        (length,) = struct.unpack("!I", self._recv_exact(4))
        return json.loads(self._recv_exact(length))

    def ok(self, body: dict) -> dict:
        reply = self.request(body)
        if not reply.get("ok"):
            raise AssertionError(f"{body.get('op')} failed: {reply.get('error')}")
        return reply


def telemetry_query(prefix: str, command: str, timeout: float = 5.0) -> dict:
    """One command on DPDK's telemetry socket (what dpdk-telemetry.py does)."""
    path = f"/var/run/dpdk/{prefix}/dpdk_telemetry.v2"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(timeout)
    try:
        s.connect(path)
        json.loads(s.recv(1 << 16))  # greeting: version, pid, max_output_len
        s.send(command.encode())
        return json.loads(s.recv(1 << 20))
    finally:
        s.close()


class Dataplane:
    """`with Dataplane(...) as dp:` starts sluice-dataplane and stops it on exit."""

    def __init__(self, exe: str, workdir: str, name: str, vdevs: List[str], args: List[str],
                 lcores: str = "0-1", memory_mb: int = 512, start_timeout: float = 30.0,
                 prefix: Optional[str] = None):
        self.exe = exe
        self.workdir = workdir
        self.prefix = prefix or unique_prefix(name)
        self.socket_path = os.path.join(workdir, f"{name}.sock")
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.cmd = [exe, "-l", lcores, "--main-lcore", lcores.split("-")[0].split(",")[0],
                    "--no-huge", "-m", str(memory_mb), "--no-pci", "--file-prefix", self.prefix,
                    "--log-level", "lib.eal:warning"]
        for v in vdevs:
            self.cmd += ["--vdev", v]
        self.cmd += ["--", "--control-socket", self.socket_path] + args
        self.start_timeout = start_timeout
        self.proc: Optional[subprocess.Popen] = None
        self.returncode: Optional[int] = None

    # -- lifecycle ----------------------------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self, wait_for_socket: bool = True):
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_for_socket:
            return
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"sluice-dataplane exited {self.proc.returncode} at start:\n"
                                     + self.log_text())
            if os.path.exists(self.socket_path):
                try:
                    ControlClient(self.socket_path).close()
                    return
                except OSError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise AssertionError("sluice-dataplane did not open its control socket:\n" + self.log_text())

    def wait_exit(self, timeout: float) -> int:
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"sluice-dataplane still running after {timeout} s")
        self._cleanup()
        return self.returncode

    def stop(self, sig=signal.SIGTERM, timeout: float = 15.0) -> Optional[int]:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.returncode = self.proc.returncode
        self._cleanup()
        return self.returncode

    def _cleanup(self):
        if getattr(self, "log", None):
            self.log.close()
            self.log = None
        shutil.rmtree(f"/var/run/dpdk/{self.prefix}", ignore_errors=True)

    def log_text(self) -> str:
        with open(self.log_path) as f:
            return f.read()

    # -- control ------------------------------------------------------------------------------
    def client(self) -> ControlClient:
        return ControlClient(self.socket_path)

    def request(self, body: dict) -> dict:
        c = self.client()
        try:
            return c.request(body)
        finally:
            c.close()

    def counters(self) -> dict:
        reply = self.request({"op": "get_counters"})
        assert reply.get("ok"), reply
        return reply

    def wait_counters(self, predicate, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            c = self.counters()
            if predicate(c):
                return c
            if time.monotonic() > deadline:
                raise AssertionError(f"counters never reached the expected state: "
                                     f"{json.dumps(summary(c))}")
            time.sleep(0.05)


def summary(c: dict) -> Dict[str, int]:
    """Totals of a get_counters reply."""
    lc = c.get("per_lcore", [])
    return {
        "rx": sum(x["rx_packets"] for x in lc),
        "tx": sum(x["tx_packets"] for x in lc),
        "rx_polls": sum(x["rx_polls"] for x in lc),
        "idle_polls": sum(x["idle_polls"] for x in lc),
        "dropped": sum(c.get("drops", {}).values()),
    }


def nonzero_drops(c: dict) -> Dict[str, int]:
    return {k: v for k, v in c.get("drops", {}).items() if v}


def read_pcap(path: str) -> List[bytes]:
    """Frames of a classic pcap file (either byte order), without scapy (fast)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    frames, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack(endian + "I", data[off + 8:off + 12])[0]
        frames.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return frames


def write_pcap(path: str, frames: List[bytes]) -> None:
    """A classic pcap (microsecond timestamps, Ethernet) of raw frames, any length."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, frame in enumerate(frames):
            f.write(struct.pack("<IIII", 0, i, len(frame), len(frame)))
            f.write(frame)


def write_yaml(path: str, state: dict) -> str:
    with open(path, "w") as f:
        json.dump(state, f, indent=1)  # JSON is YAML
    return path

"""The namespace lab (tools/lab/lab) as a test fixture: brings it up under its own namespace
prefix and run directory, runs traffic in the client namespace with tools/lab/lab_client.py,
talks to the control plane with sluicectl, and always tears the lab down (also on SIGTERM from
meson's timeout, and on Ctrl-C).

Binaries come from the environment (meson sets SLUICE_DATAPLANE, SLUICE_CONTROLPLANE,
SLUICECTL, SLUICE_DECAP and SLUICE_XSK_STEER_OBJ), else from SLUICE_BUILD_DIR."""
import json
import os
import signal
import subprocess
import sys
import time
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LAB = os.path.join(REPO, "tools", "lab", "lab")
CLIENT = os.path.join(REPO, "tools", "lab", "lab_client.py")
SKIP = 77  # meson: test skipped


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class Lab:
    def __init__(self, name):
        self.env = dict(os.environ)
        self.env.setdefault("SLUICE_LAB_PREFIX", f"sluice-e2e-{name}-")
        self.env.setdefault("SLUICE_LAB_RUN_DIR", f"/run/sluice-e2e-{name}")
        out = subprocess.run([LAB, "env"], env=self.env, check=True, capture_output=True,
                             text=True).stdout
        self.facts = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        f = self.facts
        self.backends = f["LAB_BACKENDS"].split()
        self.addr4 = dict(zip(self.backends, f["LAB_BACKEND_ADDR4"].split()))
        self.addr6 = dict(zip(self.backends, f["LAB_BACKEND_ADDR6"].split()))
        self.weights = dict(zip(self.backends, map(int, f["LAB_WEIGHTS"].split())))
        self.vip4, self.vip6 = f["LAB_VIP4"], f["LAB_VIP6"]
        self.tcp_vip = f"{self.vip4}:{f['LAB_HTTP_PORT']}/tcp"
        self.udp_vip = f"{self.vip4}:{f['LAB_UDP_PORT']}/udp"
        self.tcp6_vip = f"[{self.vip6}]:{f['LAB_HTTP_PORT']}/tcp"
        self.client_ns, self.lb_ns = f["LAB_NS_CLIENT"], f["LAB_NS_LB"]
        hc = {k: int(f[f"LAB_HC_{k.upper()}"]) for k in ("interval_ms", "timeout_ms", "fall", "rise")}
        # A backend that stops answering is out of the pushed state within this (docs/operations.md).
        self.detection_bound_s = (hc["fall"] * hc["interval_ms"] + hc["timeout_ms"]) / 1000
        self.recovery_bound_s = (hc["rise"] + 1) * hc["interval_ms"] / 1000

    # The lab script.
    def lab(self, *args, check=True, timeout=180):
        return subprocess.run([LAB, *args], env=self.env, check=check, timeout=timeout,
                              capture_output=True, text=True)

    def up(self):
        log("lab up")
        result = self.lab("up", check=False)
        if result.returncode != 0:
            raise RuntimeError(f"lab up failed:\n{result.stdout}{result.stderr}")

    def down(self):
        self.lab("down", check=False, timeout=120)

    def print_logs(self, lines=40):
        """The tail of every log in the run directory (before `down` removes them)."""
        run_dir = self.facts["LAB_RUN_DIR"]
        for name in sorted(os.listdir(run_dir)) if os.path.isdir(run_dir) else []:
            if name.endswith(".log"):
                with open(os.path.join(run_dir, name), errors="replace") as f:
                    tail = f.readlines()[-lines:]
                print(f"--- {name} (last {len(tail)} lines)\n{''.join(tail)}", flush=True)

    # sluicectl.
    def ctl(self, *args, timeout=30):
        return self.lab("ctl", *args, timeout=timeout)

    def ctl_json(self, *args):
        return json.loads(self.ctl(*args, "--json").stdout)

    def status(self):
        return self.ctl_json("status")

    def vip_status(self, vip):
        return next(v for v in self.status()["vips"] if v["vip"] == vip)

    def wait_for(self, what, predicate, timeout_s, interval_s=0.1):
        """Polls `predicate` (bounded); returns the time it first held, or raises."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return time.time()
            except (subprocess.CalledProcessError, json.JSONDecodeError, StopIteration):
                pass
            time.sleep(interval_s)
        raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")

    def in_sync(self):
        dataplanes = self.status()["dataplanes"]
        return bool(dataplanes) and all(d["reachable"] and d["in_sync"] for d in dataplanes)

    def wait_in_sync(self, timeout_s=15):
        return self.wait_for("the dataplane to run the control plane's generation", self.in_sync,
                             timeout_s)

    def change(self, *ctl_args, timeout_s=15):
        """Runs a sluicectl change and waits until the dataplane runs a newer generation than
        before it (the API answers once the change is persisted; the push follows)."""
        before = self.status()["generation"]
        self.ctl(*ctl_args)

        def pushed():
            s = self.status()
            return s["generation"] > before and all(
                d["reachable"] and d["generation"] == s["generation"] for d in s["dataplanes"])

        return self.wait_for(f"`sluicectl {' '.join(ctl_args)}` to reach the dataplane", pushed,
                             timeout_s)

    def backend_status(self, vip, address):
        return next(b for b in self.vip_status(vip)["backends"] if b["address"] == address)

    # Commands inside the lab.
    def run_in(self, namespace, *command, timeout=120, check=True):
        return subprocess.run(["ip", "netns", "exec", namespace, *command], env=self.env,
                              check=check, timeout=timeout, capture_output=True, text=True)

    def run_in_background(self, namespace, *command):
        return subprocess.Popen(["ip", "netns", "exec", namespace, *command], env=self.env,
                                stdout=subprocess.PIPE, text=True)

    def client(self, mode, *args, timeout=180):
        """Runs lab_client.py in the client namespace and returns its JSON summary."""
        out = self.run_in(self.client_ns, "/usr/bin/python3", CLIENT, mode, *args,
                          timeout=timeout).stdout
        return json.loads(out)

    def client_background(self, mode, *args):
        return subprocess.Popen(["ip", "netns", "exec", self.client_ns, "/usr/bin/python3",
                                 CLIENT, mode, *args], env=self.env, stdout=subprocess.PIPE,
                                text=True)


class HeldConnections:
    """Long-lived keep-alive connections through the VIP for the duration of a `with` block."""

    def __init__(self, lab, workdir, connections=24, target=None, max_seconds=120,
                 interval=None, port=None):
        self.lab = lab
        self.ready_file = os.path.join(workdir, f"hold-ready-{time.monotonic_ns()}")
        self.args = ["--connections", str(connections), "--duration", str(max_seconds),
                     "--ready-file", self.ready_file, "--target", target or lab.vip4]
        if interval is not None:
            self.args += ["--interval", str(interval)]
        if port is not None:
            self.args += ["--port", str(port)]
        # lab_client.py opens one connection every 10 ms, then waits for every first answer.
        self.ready_timeout_s = 30 + connections * 0.02
        self.summary = None

    def __enter__(self):
        self.process = self.lab.client_background("hold", *self.args)
        self.lab.wait_for("the held connections to answer", lambda: os.path.exists(self.ready_file),
                          self.ready_timeout_s)
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def stop(self):
        """Ends the connections (also before the block ends) and reads the summary."""
        if self.summary is None:
            self.process.send_signal(signal.SIGTERM)
            out, _ = self.process.communicate(timeout=60)
            self.summary = json.loads(out)
        return self.summary

    def ready_connections(self):
        """[{"port": client port, "backend": "be2"}] of every connection, once they are ready."""
        with open(self.ready_file) as f:
            return json.load(f)["connections"]


def run_against(lab, test_cases, skip_reason=None, on_failure=None):
    """Brings `lab` up, runs `test_cases` (unittest.TestCase classes) against it and always
    tears it down (also on meson's SIGTERM). `skip_reason(lab)`, once it is up: a reason to skip
    (exit 77), or None. `on_failure(lab)`: extra diagnostics before the logs."""
    if os.geteuid() != 0:
        print("SKIP: needs root (network namespaces, XDP, DPDK)")
        return SKIP

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    workdir = os.path.join(lab.facts["LAB_RUN_DIR"] + "-work")
    os.makedirs(workdir, exist_ok=True)
    try:
        lab.down()  # leftovers of an interrupted run
        lab.up()
        reason = skip_reason(lab) if skip_reason else None
        if reason:
            print(f"SKIP: {reason}")
            return SKIP
        suite = unittest.TestSuite()
        loader = unittest.TestLoader()
        for case in test_cases:
            case.lab = lab
            case.workdir = workdir
            suite.addTests(loader.loadTestsFromTestCase(case))
        result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
        if not result.wasSuccessful():
            if on_failure:
                on_failure(lab)
            lab.print_logs()
        return 0 if result.wasSuccessful() else 1
    finally:
        log("lab down")
        lab.down()
        subprocess.run(["rm", "-rf", workdir], check=False)


def main(name, test_cases):
    """Runs `test_cases` against one single-host lab, always torn down."""
    return run_against(Lab(name), test_cases)

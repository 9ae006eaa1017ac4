#!/usr/bin/python3
"""Second-chance forwarding in the tier (issue 12): long-lived connections through a tier that
changes twice. Two TCP VIPs on the IPv4 VIP address, both GUE to the backends, alike but for
`second_chance` (:8081 on, :8082 off; tools/lab/lb.sh), 120 keep-alive connections held on each,
spread over every LB host by the router's ECMP hash:

- A: the backends' weights change on both VIPs (1,2,3 -> 3,2,1: a third of the Maglev slots
  change owner), every host runs the new table, then LB host 3 is killed. The flows the router
  moves to another host (host 3's, and with hash-threshold ECMP some of the others) miss that
  host's flow table; those whose slot changed owner reach a backend that never saw them, which
  answers with a reset: with `off` they break. With `on` the dataplane names the slot's previous
  owner as a second hop and the new owner's sluice-decap, having no socket for the flow, sends
  the packet on to it: none breaks.
- B: host 3 back, weights back, new connections held; the weights change again (1,2,3 -> 2,3,1)
  and a fourth host is started: no failure at all, only the ECMP rehash moves flows.

Per scenario, one line "second-chance: {...}" with the broken connections per VIP, the share
of slots that moved (at least: from the API's Maglev shares before and after; sampled: the
backend `sluicectl explain --syn` gives 256 client ports before and after; and the held
connections whose slot changed owner, "at_risk"), the flows that changed host (the growth of
new_flows on the hosts, which counts the flows they adopted), the loss expected without second
chance (changed host x at-risk share), the dataplanes' second_hop_flows / second_hop_packets,
the backends' `sluice-decap stats` second_hop.redirected, and for every broken connection the
hosts whose flow table holds it now ("broken_now_on_hosts").

First, without the dataplane (only with a sluice-decap that has --tunnel-source): `lab
probe-hop` sends a backend a GUE ACK naming another backend as second hop; the first must send
it on, the second deliver it.

Asserted always: at least 10% of the slots move; `off` breaks some, and only connections whose
slot changed owner. Asserted only when the binaries support second chance (the control plane
takes `second_chance`, sluice-decap takes `--tunnel-source`, the dataplane reports
second_hop_flows; otherwise the test says what is missing and skips those assertions): `on`
breaks none, its flows carried a second hop, the backends redirected packets, `off` carried none.
"""
import json
import os
import random
import subprocess
import sys
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labfixture import REPO, HeldConnections, log  # noqa: E402
from tierfixture import RouteWatcher, tier_main  # noqa: E402

HOSTS = 3
CONNECTIONS = 120  # per VIP, long-lived
HOLD_INTERVAL_S = 0.5  # a request on each every 0.5 s: a reset shows within a second
SETTLE_S = 4  # traffic keeps flowing this long after each event
COUNTERS_SETTLE_S = 2.5  # the control plane reads the dataplanes' counters every second or so
ROUTE_MAX_S = 30
SYNC_MAX_S = 20
MIN_MOVED_SHARE = 0.10
SAMPLE_FLOWS = 256  # client ports whose new-flow backend is compared before and after
WEIGHTS_A = {"be1": 3, "be2": 2, "be3": 1}
WEIGHTS_B = {"be1": 2, "be2": 3, "be3": 1}

SUMMARY = {}


def find_key(value, key):
    """Every value stored under `key` anywhere in a JSON document."""
    found = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k == key:
                found.append(v)
            found.extend(find_key(v, key))
    elif isinstance(value, list):
        for v in value:
            found.extend(find_key(v, key))
    return found


def number(values):
    """The sum of the numbers among `values` (JSON counters), None when there is none."""
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return sum(numbers) if numbers else None


class SecondChance(unittest.TestCase):
    lab = None
    workdir = None

    @classmethod
    def setUpClass(cls):
        lab = cls.lab
        f = lab.facts
        cls.on_vip = f"{lab.vip4}:{f['LAB_SC_ON_PORT']}/tcp"
        cls.off_vip = f"{lab.vip4}:{f['LAB_SC_OFF_PORT']}/tcp"
        cls.ports = {"on": int(f["LAB_SC_ON_PORT"]), "off": int(f["LAB_SC_OFF_PORT"])}
        cls.vips = {"on": cls.on_vip, "off": cls.off_vip}
        cls.name_of = {address: be for be, address in lab.addr4.items()}
        missing = []
        if f.get("LAB_TIER_SECOND_CHANCE") != "1":
            missing.append("sluice-controlplane has no vips[].second_chance")
        if f.get("LAB_DECAP_TUNNEL_SOURCE") != "1":
            missing.append("sluice-decap attach has no --tunnel-source")
        # The dataplane's counters reach `sluicectl stats` about a second after it is in sync.
        lab.wait_for("host 1's counters of the second-chance VIPs in sluicectl stats",
                     lambda: {cls.on_vip, cls.off_vip} <= {
                         v["vip"] for v in cls.stats_json(lab.hosts[0])["vips"]}, 15)
        if not find_key(cls.stats_json(lab.hosts[0]), "second_hop_flows"):
            missing.append("the dataplane reports no second_hop_flows (sluicectl stats)")
        cls.missing = missing
        cls.supported = not missing
        log("second chance supported by these binaries" if cls.supported else
            f"second chance NOT supported by these binaries ({'; '.join(missing)}): both VIPs "
            f"behave like `off`; the `on` assertions are skipped")

    # sluicectl against host i directly (no lab script in between).
    @classmethod
    def ctl(cls, i, *args, check=True):
        sockets = dict(zip(cls.lab.hosts, cls.lab.facts["LAB_HOST_API_SOCKET"].split()))
        return subprocess.run([cls.lab.facts["LAB_SLUICECTL"], "--socket", sockets[i],
                               "--timeout", "5", *args], check=check, capture_output=True,
                              text=True, timeout=30)

    @classmethod
    def status_json(cls, i):
        return json.loads(cls.ctl(i, "status", "--json").stdout)

    @classmethod
    def stats_json(cls, i):
        return json.loads(cls.ctl(i, "stats", "--json").stdout)

    # Weights.
    def set_weights(self, weights):
        """Both VIPs' backends to `weights`, then (bounded) until every host's dataplane runs
        them. With the shared state in etcd one host takes the change; else each host does."""
        lab = self.lab
        hosts = [lab.hosts[0]] if lab.uses_etcd else lab.hosts
        for i in hosts:
            for vip in self.vips.values():
                for be, weight in weights.items():
                    self.ctl(i, "backend", "weight", vip, lab.addr4[be], str(weight))
        t0 = time.monotonic()
        deadline = t0 + SYNC_MAX_S
        while True:
            seen = {i: self.runs_weights(i, weights) for i in lab.hosts}
            if all(seen.values()):
                return time.monotonic() - t0
            if time.monotonic() > deadline:
                raise AssertionError(f"weights {weights} not in force on every host: {seen}")
            time.sleep(0.05)

    def runs_weights(self, i, weights):
        s = self.status_json(i)
        if not s["dataplanes"] or not all(d["reachable"] and d["in_sync"] for d in s["dataplanes"]):
            return False
        for v in s["vips"]:
            if v["vip"] in self.vips.values():
                for b in v["backends"]:
                    if b["weight"] != weights[self.name_of[b["address"]]]:
                        return False
        return True

    def maglev_shares(self, vip):
        """{backend name: its share of the Maglev slots} on host 1 (the API's maglev_share)."""
        s = self.status_json(self.lab.hosts[0])
        v = next(v for v in s["vips"] if v["vip"] == vip)
        return {self.name_of[b["address"]]: b["maglev_share"] or 0.0 for b in v["backends"]}

    # Flows.
    def explain_backend(self, i, port, vip_port, syn):
        r = json.loads(self.ctl(i, "explain", self.lab.facts["LAB_CLIENT4"], self.lab.vip4,
                                str(port), str(vip_port), "tcp", *(["--syn"] if syn else []),
                                "--json").stdout)
        return r

    def at_risk(self, key, connections):
        """The ports of the held connections whose slot now belongs to another backend than
        the one that serves them (a new flow of that 5-tuple would go elsewhere)."""
        owner = self.owners(key, [c["port"] for c in connections if c["backend"]])
        return {port for port, address in owner.items()
                if self.name_of.get(address, address) !=
                next(c["backend"] for c in connections if c["port"] == port)}

    def owners(self, key, ports):
        """{client port: the backend a new flow from it gets} (explain --syn on host 1)."""
        vip_port = self.ports[key]

        def one(port):
            r = self.explain_backend(self.lab.hosts[0], port, vip_port, syn=True)
            return port, r.get("backend")

        with ThreadPoolExecutor(8) as pool:
            return dict(pool.map(one, ports))

    def holders(self, key, ports):
        """For each port, the live hosts whose flow table has the connection: where a broken
        one went (a diagnostic for the summary)."""
        vip_port = self.ports[key]
        out = {}
        for port in sorted(ports):
            hosts = [i for i in self.lab.hosts if i in self.live
                     and self.explain_backend(i, port, vip_port, syn=False).get("source") ==
                     "flow_table"]
            label = ",".join(map(str, hosts)) or "none"
            out[label] = out.get(label, 0) + 1
        return out

    # Counters.
    def dataplane_counters(self, hosts):
        """{host: {VIP key: {new_flows, second_hop_flows, second_hop_packets}}}, None where the
        dataplane has no such counter; VIP key "total" for the counters outside `vips`."""
        return {i: self.host_counters(i) for i in hosts}

    def host_counters(self, i):
        out = {key: {"new_flows": 0, "second_hop_flows": None, "second_hop_packets": None}
               for key in ("on", "off", "total")}
        s = self.stats_json(i)
        for key, vip in self.vips.items():
            v = next((v for v in s["vips"] if v["vip"] == vip), None)
            if v is None:
                continue
            out[key]["new_flows"] = v.get("new_flows", 0)
            for name in ("second_hop_flows", "second_hop_packets"):
                n = number(find_key({k: x for k, x in v.items() if k != "backends"}, name))
                if n is None:  # only per backend
                    n = number(find_key(v.get("backends", []), name))
                out[key][name] = n
        rest = {k: x for k, x in s.items() if k != "vips"}
        for name in ("second_hop_flows", "second_hop_packets"):
            out["total"][name] = number(find_key(rest, name))
        return out

    @staticmethod
    def counter_delta(after, before, key, name):
        """The growth of one counter over the hosts in `after` (a host missing from `before`
        started in between: from 0); None when no host has the counter."""
        total = None
        for i, counters in after.items():
            now = counters[key][name]
            if now is None:
                continue
            then = before.get(i, {}).get(key, {}).get(name) or 0
            total = (total or 0) + now - then
        return total

    def decap_second_hop(self):
        """The backends' sluice-decap second-hop outcomes, packets summed over the backends:
        {"redirected": N, "delivered_socket": N, ...} ({} when this sluice-decap has none)."""
        decap = os.environ.get("SLUICE_DECAP") or os.path.join(
            REPO, os.environ.get("SLUICE_BUILD_DIR", "build"), "bpf", "sluice-decap")
        total = {}
        for ns in self.lab.facts["LAB_BACKEND_NS"].split():
            out = self.lab.run_in(ns, decap, "stats", "--iface", "eth0", "--json").stdout
            for hop in find_key(json.loads(out), "second_hop"):
                if not isinstance(hop, dict):
                    continue
                for outcome, value in hop.items():
                    if isinstance(value, dict) and isinstance(value.get("packets"), int):
                        total[outcome] = total.get(outcome, 0) + value["packets"]
        return total

    # One scenario.
    def held(self, key):
        return HeldConnections(self.lab, self.workdir, connections=CONNECTIONS,
                               max_seconds=150, interval=HOLD_INTERVAL_S, port=self.ports[key])

    def run_scenario(self, label, weights_before, weights_after, event, hosts_after):
        """Held connections on both VIPs, the weights changed, `event()` (returns the route's
        reaction time): the broken connections per VIP and everything the summary reports."""
        lab = self.lab
        t_start = time.monotonic()
        shares_before = self.maglev_shares(self.on_vip)
        # The share of slots that change owner, sampled: the backend of a new flow from
        # SAMPLE_FLOWS client ports, before and after the change.
        sample = random.Random(label).sample(range(1024, 65536), SAMPLE_FLOWS)
        sampled_before = {k: self.owners(k, sample) for k in self.vips}
        held = {"on": self.held("on"), "off": self.held("off")}
        with held["on"], held["off"]:
            ready = {k: h.ready_connections() for k, h in held.items()}
            flows = {k: {i: next(v for v in self.status_json(i)["vips"] if v["vip"] == vip)
                         .get("active_flows", 0) for i in lab.hosts}
                     for k, vip in self.vips.items()}
            log(f"{label}: active flows per host {flows}")
            for k in self.vips:
                for i, n in flows[k].items():
                    self.assertGreater(n, 0, f"{label}: lb{i} has no flows of `{k}`: {flows}")
            sync_s = self.set_weights(weights_after)
            shares_after = self.maglev_shares(self.on_vip)
            moved_min = sum(max(0.0, shares_after[be] - shares_before[be]) for be in shares_after)
            risk = {k: self.at_risk(k, ready[k]) for k in self.vips}
            sampled_after = {k: self.owners(k, sample) for k in self.vips}
            time.sleep(COUNTERS_SETTLE_S)
            counters_before = self.dataplane_counters(lab.hosts)
            decap_before = self.decap_second_hop()
            route_s = event()
            time.sleep(SETTLE_S)
            summaries = {k: h.stop() for k, h in held.items()}
        time.sleep(COUNTERS_SETTLE_S)
        counters_after = self.dataplane_counters(hosts_after)
        decap_after = self.decap_second_hop()

        result = {"scenario": label, "supported": self.supported,
                  "weights": [weights_before, weights_after],
                  "moved_slot_share_min": round(moved_min, 4),
                  "moved_slot_share_sampled": {
                      k: round(sum(1 for p in sample if sampled_before[k][p] != sampled_after[k][p])
                               / len(sample), 4) for k in self.vips},
                  "sync_s": round(sync_s, 3), "route_s": round(route_s, 3)}
        per_vip = {}
        for k in self.vips:
            s = summaries[k]
            n = s["connections"]
            broken = {c["port"] for c in s["broken_connections"]}
            changed_host = self.counter_delta(counters_after, counters_before, k, "new_flows")
            at_risk_share = len(risk[k]) / n if n else 0.0
            per_vip[k] = {
                "connections": n, "broken": len(broken),
                "broken_not_at_risk": len(broken - risk[k]),
                "at_risk": len(risk[k]), "at_risk_share": round(at_risk_share, 4),
                "changed_host": changed_host,
                "expected_broken_without_second_chance": round(changed_host * at_risk_share, 1),
                "second_hop_flows": self.counter_delta(counters_after, counters_before, k,
                                                       "second_hop_flows"),
                "second_hop_packets": self.counter_delta(counters_after, counters_before, k,
                                                         "second_hop_packets"),
                "broken_now_on_hosts": self.holders(k, broken),
                "errors": sorted({c["error"] for c in s["broken_connections"]}),
            }
        result["vips"] = per_vip
        for name in ("second_hop_flows", "second_hop_packets"):
            result[name + "_total"] = self.counter_delta(counters_after, counters_before,
                                                         "total", name)
        result["decap_second_hop_packets"] = {
            outcome: n - decap_before.get(outcome, 0) for outcome, n in sorted(decap_after.items())}
        result["decap_redirected_packets"] = result["decap_second_hop_packets"].get("redirected")
        result["broken"] = {k: per_vip[k]["broken"] for k in self.vips}
        result["duration_s"] = round(time.monotonic() - t_start, 1)
        log(f"second-chance: {json.dumps(result)}")
        for k in ("off", "on"):
            v = per_vip[k]
            log(f"{label}: `{k}` broke {v['broken']} of {v['connections']} held connections; "
                f"without second chance about {v['expected_broken_without_second_chance']} "
                f"would (changed host {v['changed_host']} x slot changed owner "
                f"{v['at_risk_share']})")
        SUMMARY[label] = result
        self.check(label, result)

    def check(self, label, result):
        on, off = result["vips"]["on"], result["vips"]["off"]
        self.assertGreaterEqual(result["moved_slot_share_min"], MIN_MOVED_SHARE, result)
        for k, share in result["moved_slot_share_sampled"].items():
            self.assertGreaterEqual(share, MIN_MOVED_SHARE, f"{label}: `{k}`: {result}")
        self.assertGreater(off["changed_host"], 0, f"{label}: no flow changed host: {result}")
        self.assertGreater(off["at_risk"], 0, f"{label}: no held connection's slot moved")
        # Without second chance, the flows that changed host and whose slot changed owner
        # break, and only those.
        self.assertGreater(off["broken"], 0, f"{label}: `off` broke none: {result}")
        self.assertEqual(off["broken_not_at_risk"], 0,
                         f"{label}: `off` broke connections whose slot kept its owner: {result}")
        if not self.supported:
            self.skipTest(f"{label}: second chance is not supported by these binaries "
                          f"({'; '.join(self.missing)}): `on` broke {on['broken']} of "
                          f"{on['connections']} like `off` ({off['broken']} of "
                          f"{off['connections']}); its assertions are skipped")
        self.assertEqual(on["broken"], 0, f"{label}: `on` broke connections: {result}")
        hop_flows = on["second_hop_flows"]
        if hop_flows is None:
            hop_flows = result["second_hop_flows_total"]
        hop_packets = on["second_hop_packets"]
        if hop_packets is None:
            hop_packets = result["second_hop_packets_total"]
        self.assertGreater(hop_flows or 0, 0, f"{label}: no flow adopted with a second hop")
        self.assertGreater(hop_packets or 0, 0, f"{label}: no packet sent with a second hop")
        self.assertGreater(result["decap_redirected_packets"] or 0, 0,
                           f"{label}: no backend sent a packet on to its second hop")
        if off["second_hop_flows"] is not None:
            self.assertEqual(off["second_hop_flows"], 0, f"{label}: `off` carried second hops")

    @property
    def live(self):
        return self.route.current()

    def test_0_backends_send_on(self):
        """Without the dataplane: a backend with no socket for a flow sends a packet naming a
        second hop on to that backend, which delivers it (`lab probe-hop`): the lab's part of
        what the `on` VIP needs (sluice-decap, XDP_TX through the router's bridge)."""
        if self.lab.facts.get("LAB_DECAP_TUNNEL_SOURCE") != "1":
            self.skipTest("sluice-decap has no --tunnel-source: backends never send packets on")
        for a, b in (("be1", "be2"), ("be3", "be1")):
            r = self.lab.lab("probe-hop", a, b, check=False, timeout=60)
            log(f"lab probe-hop {a} {b}: {(r.stdout + r.stderr).strip()}")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_1_weights_then_kill(self):
        lab = self.lab
        original = dict(lab.weights)
        with RouteWatcher(lab) as self.route:
            self.route.wait_for("the route to point at hosts 1, 2, 3", lambda h: h == {1, 2, 3},
                                time.time(), ROUTE_MAX_S)

            def kill():
                t0 = time.time()
                lab.host("kill", 3)
                t = self.route.wait_for("host 3 out of the route", lambda h: h == {1, 2}, t0,
                                        ROUTE_MAX_S)
                return t - t0

            self.run_scenario("A: weights changed, then LB host 3 killed", original,
                              WEIGHTS_A, kill, [1, 2])

    def test_2_weights_then_start(self):
        lab = self.lab
        original = dict(lab.weights)
        with RouteWatcher(lab) as self.route:
            # Back to the start: host 3 running, the weights as configured.
            t0 = time.time()
            if 3 not in self.route.current():
                lab.host("start", 3)
            self.set_weights(original)
            self.route.wait_for("hosts 1, 2, 3 in the route", lambda h: h == {1, 2, 3}, t0,
                                ROUTE_MAX_S)

            def start():
                t0 = time.time()
                lab.host("start", 4)
                t = self.route.wait_for("host 4 in the route", lambda h: h == {1, 2, 3, 4}, t0,
                                        ROUTE_MAX_S)
                return t - t0

            self.run_scenario("B: weights changed, then LB host 4 started", original,
                              WEIGHTS_B, start, [1, 2, 3, 4])


def main():
    code = tier_main("second-chance", [SecondChance], hosts=HOSTS)
    if SUMMARY:
        log(f"second-chance summary: {json.dumps(SUMMARY)}")
    return code


if __name__ == "__main__":
    sys.exit(main())

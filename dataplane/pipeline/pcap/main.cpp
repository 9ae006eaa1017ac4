// sluice-pcap: runs every packet of a pcap through the real worker pipeline (one lcore) and
// writes what the dataplane would transmit. The golden tests' harness and an operator's
// debugging tool: `sluice-pcap --config sluice.yaml --in capture.pcap --out sent.pcap
// --verdicts verdicts.jsonl`.
#include <pcap/pcap.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <CLI/CLI.hpp>
#include <array>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/counter_report.hpp"
#include "pipeline/explain.hpp"
#include "pipeline/pcap/offline_eal.hpp"
#include "pipeline/pcap/record.hpp"
#include "pipeline/pipeline.hpp"
#include "sluice/config/names.hpp"
#include "sluice/config/yaml.hpp"
#include "sluice/cpu_features.hpp"
#include "sluice/net/headers.hpp"
#include "sluice/net/parse.hpp"

namespace {

using namespace sluice;
using namespace sluice::pipeline;

constexpr unsigned kPoolSize = 256;
// A held burst and the burst being received are in mbufs at the same time.
static_assert(kPoolSize >= 2 * kMaxBurst);

struct Options {
  std::string config;
  std::string in;
  std::string out;
  std::string verdicts;
  std::string counters;
  std::vector<std::string> updates;  // "INDEX:FILE"
  std::string port_mac = "02:00:00:00:00:01";
  std::uint64_t seed = 1;
  std::uint16_t burst = 1;
  bool explain = false;
};

struct PcapCloser {
  void operator()(pcap_t* p) const { pcap_close(p); }
};
struct DumperCloser {
  void operator()(pcap_dumper_t* d) const { pcap_dump_close(d); }
};
struct PoolFree {
  void operator()(rte_mempool* p) const { rte_mempool_free(p); }
};

struct Update {
  std::uint64_t after_index;
  std::string file;
};

Result<std::vector<Update>> parse_updates(const std::vector<std::string>& specs) {
  std::vector<Update> out;
  for (const std::string& s : specs) {
    const auto colon = s.find(':');
    if (colon == std::string::npos || colon == 0) {
      return Error{"--update-at " + s + ": expected INDEX:FILE"};
    }
    try {
      out.push_back(Update{std::stoull(s.substr(0, colon)), s.substr(colon + 1)});
    } catch (const std::exception&) {
      return Error{"--update-at " + s + ": INDEX is not a number"};
    }
  }
  return out;
}

Result<std::unique_ptr<const Snapshot>> load_snapshot(const std::string& path,
                                                      std::uint64_t min_generation,
                                                      BackendRegistry& registry) {
  auto state = config::load_yaml_file(path);
  if (!state) return state.error();
  if (state->generation < min_generation) state->generation = min_generation;
  auto snap = build_snapshot(*state, registry);
  if (!snap) return Error{path + ": " + snap.error().message};
  return snap;
}

std::string backend_name(const Snapshot& snap, const PacketVerdict& v) {
  if (v.verdict != Verdict::forward) return "";
  const BackendSlot* slot = snap.backend(v.backend);
  return slot != nullptr ? slot->address.to_string() : "";
}

// The previous owner a forwarded packet names (second chance), or "".
std::string second_hop_name(const Snapshot& snap, const PacketVerdict& v) {
  if (v.verdict != Verdict::forward || v.second_hop == kNoBackendId) return "";
  const BackendSlot* slot = snap.backend(v.second_hop);
  return slot != nullptr ? slot->address.to_string() : "";
}

// Input packets in mbufs, as one rx_burst would return them.
struct InputBurst {
  std::array<rte_mbuf*, kMaxBurst> packets{};
  std::array<std::uint64_t, kMaxBurst> indices{};  // input packet index
  std::array<timeval, kMaxBurst> stamps{};         // capture time (tv_usec in ns)
  std::uint16_t count = 0;
  std::uint64_t now = 0;  // of the first packet: a worker reads the TSC once per burst
};

// Runs the capture's bursts in the order of a worker (dataplane/worker.cpp): pass 1 of burst k
// on the current snapshot; once burst k+1 has been received, pass 2 of burst k on the snapshot
// it was classified with, then pass 1 of burst k+1. A state update between two bursts therefore
// lands while burst k is held, as a swap between two worker iterations does.
class BurstRunner {
 public:
  // Gets each packet of a finished burst, in input order, with the snapshot it ran on.
  using Sink = std::function<void(std::uint64_t index, const PacketVerdict&, const Snapshot&)>;
  // Sees each packet just before its pass 1, with the state it will meet (--explain).
  using Observer =
      std::function<void(std::uint64_t index, rte_mbuf*, std::uint64_t now, const Snapshot&)>;

  BurstRunner(WorkerState& worker, rte_mempool* pool, pcap_dumper_t* out, std::uint16_t size,
              Sink sink, Observer observer)
      : worker_(worker),
        pool_(pool),
        out_(out),
        size_(size),
        sink_(std::move(sink)),
        observer_(std::move(observer)) {}

  [[nodiscard]] bool receiving() const { return received_.count != 0; }
  [[nodiscard]] std::uint64_t received_now() const { return received_.now; }

  // Whether a packet captured at `now` may join the burst being received: not when it is
  // full, nor across a change of the capture time's whole second (see the sweep in run()).
  [[nodiscard]] bool takes(std::uint64_t now) const {
    return received_.count < size_ &&
           (received_.count == 0 || now / 1'000'000'000ull == received_.now / 1'000'000'000ull);
  }

  // Copies a packet into the burst being received. False when the mbuf pool is exhausted.
  [[nodiscard]] bool receive(std::uint64_t index, const pcap_pkthdr& header, const u_char* data,
                             std::uint64_t now) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (m == nullptr) return false;
    std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(header.caplen)), data,
                header.caplen);
    const std::uint16_t i = received_.count++;
    if (i == 0) received_.now = now;
    received_.packets[i] = m;
    received_.indices[i] = index;
    received_.stamps[i] = header.ts;
    return true;
  }

  // Pass 1 of the burst being received on `snapshot`, which the held burst keeps alive until
  // its pass 2. The previous held burst must have been completed.
  void classify_received(std::shared_ptr<const Snapshot> snapshot) {
    if (received_.count == 0) return;
    if (observer_) {
      for (std::uint16_t i = 0; i < received_.count; ++i)
        observer_(received_.indices[i], received_.packets[i], received_.now, *snapshot);
    }
    classify_burst(worker_, *snapshot, received_.packets.data(), received_.count, received_.now,
                   held_.classified);
    held_.input = received_;
    held_.snapshot = std::move(snapshot);
    received_.count = 0;
  }

  // Pass 2 of the held burst on the snapshot it was classified with, then its transmitted frames
  // (each stamped with its input's time) and its verdicts, in input order. False when the
  // verdicts and the transmitted frames disagree (a pipeline bug).
  [[nodiscard]] bool complete_held() {
    if (!held_.snapshot) return true;
    const InputBurst& input = held_.input;
    complete_burst(worker_, *held_.snapshot, held_.classified, result_);
    count_handed_on(worker_.counters, result_);  // sluice-pcap transmits everything
    std::uint16_t t = 0;
    for (std::uint16_t i = 0; i < input.count; ++i) {
      const PacketVerdict& v = result_.verdicts[i];
      // BurstResult::tx holds the forwarded packets and the replies, in input order.
      if (v.verdict == Verdict::forward || v.verdict == Verdict::reply) {
        if (t == result_.tx_count) return false;
        rte_mbuf* tx = result_.tx[t++];
        pcap_pkthdr h{};
        h.ts.tv_sec = input.stamps[i].tv_sec;
        h.ts.tv_usec = input.stamps[i].tv_usec / 1000;
        h.caplen = h.len = rte_pktmbuf_pkt_len(tx);
        pcap_dump(reinterpret_cast<u_char*>(out_), &h, rte_pktmbuf_mtod(tx, const u_char*));
        rte_pktmbuf_free(tx);
      }
      sink_(input.indices[i], v, *held_.snapshot);
    }
    for (std::uint16_t p = 0; p < result_.pass_count; ++p)
      rte_pktmbuf_free(result_.pass[p]);
    held_.snapshot.reset();
    return t == result_.tx_count;
  }

 private:
  struct Held {
    ClassifiedBurst classified;
    InputBurst input;
    std::shared_ptr<const Snapshot> snapshot;  // null: nothing held
  };

  WorkerState& worker_;
  rte_mempool* pool_;
  pcap_dumper_t* out_;
  std::uint16_t size_;
  Sink sink_;
  Observer observer_;
  InputBurst received_;
  Held held_;
  BurstResult result_;
};

// The flow table against the active-flow gauges: every occupied entry must count once, on the
// backend it is pinned to (the golden harness checks "gauges_match" after every case).
nlohmann::json flow_table_report(const WorkerState& worker) {
  std::map<BackendId, std::uint32_t> pinned;
  std::uint32_t entries = 0;
  worker.flows.for_each_entry([&](const FlowEntry& e) {
    ++entries;
    if (e.backend != kNoBackendId) ++pinned[e.backend];
  });
  bool match = true;
  for (std::size_t id = 0; id < kMaxBackends; ++id) {
    const auto it = pinned.find(static_cast<BackendId>(id));
    match = match && worker.scheduler.active_flows[id] == (it == pinned.end() ? 0 : it->second);
  }
  return {{"entries", entries}, {"gauges_match", match}};
}

int run(const Options& opt) {
  if (opt.explain && opt.burst != 1) {
    std::fprintf(stderr,
                 "sluice-pcap: --explain needs --burst 1 (inside a burst, a packet meets what "
                 "the packets before it did, which explain() cannot see beforehand)\n");
    return 2;
  }
  auto updates = parse_updates(opt.updates);
  if (!updates) {
    std::fprintf(stderr, "sluice-pcap: %s\n", updates.error().message.c_str());
    return 2;
  }
  const auto mac = config::parse_mac(opt.port_mac);
  if (!mac) {
    std::fprintf(stderr, "sluice-pcap: --port-mac %s is not a MAC address\n", opt.port_mac.c_str());
    return 2;
  }
  auto state = config::load_yaml_file(opt.config);
  if (!state) {
    std::fprintf(stderr, "sluice-pcap: %s\n", state.error().message.c_str());
    return 2;
  }

  const std::uint32_t entries = state->dataplane.flow_table_entries;
  const std::size_t memory_mb =
      128 + (FlowTable::bytes_for(entries) + sizeof(WorkerState)) / (1 << 20) +
      std::size_t{kPoolSize} * (kMbufDataRoom + RTE_PKTMBUF_HEADROOM + 256) / (1 << 20);
  auto eal = OfflineEal::start("sluice-pcap", memory_mb);
  if (!eal) {
    std::fprintf(stderr, "sluice-pcap: %s\n", eal.error().message.c_str());
    return 1;
  }

  BackendRegistry registry;
  auto first = build_snapshot(*state, registry);
  if (!first) {
    std::fprintf(stderr, "sluice-pcap: %s: %s\n", opt.config.c_str(),
                 first.error().message.c_str());
    return 2;
  }
  // Shared with the held burst, which keeps the snapshot it was classified with (sluice-pcap's
  // RCU grace period).
  std::shared_ptr<const Snapshot> snapshot = std::move(first.value());

  WorkerConfig wc;
  wc.flow_table_entries = entries;
  wc.ticks_per_second = 1'000'000'000;  // pcap timestamps in ns
  wc.port_mac = *mac;
  wc.seed = opt.seed;
  auto worker = create_worker_state(wc);
  if (!worker) {
    std::fprintf(stderr, "sluice-pcap: %s\n", worker.error().message.c_str());
    return 1;
  }

  std::unique_ptr<rte_mempool, PoolFree> pool(rte_pktmbuf_pool_create(
      "sluice_pcap", kPoolSize, 0, 0, kMbufDataRoom + RTE_PKTMBUF_HEADROOM, SOCKET_ID_ANY));
  if (!pool) {
    std::fprintf(stderr, "sluice-pcap: cannot create the mbuf pool\n");
    return 1;
  }

  char errbuf[PCAP_ERRBUF_SIZE] = {};
  std::unique_ptr<pcap_t, PcapCloser> in(
      pcap_open_offline_with_tstamp_precision(opt.in.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf));
  if (!in) {
    std::fprintf(stderr, "sluice-pcap: %s: %s\n", opt.in.c_str(), errbuf);
    return 2;
  }
  if (pcap_datalink(in.get()) != DLT_EN10MB) {
    std::fprintf(stderr, "sluice-pcap: %s: not an Ethernet capture\n", opt.in.c_str());
    return 2;
  }
  std::unique_ptr<pcap_t, PcapCloser> dead(pcap_open_dead(DLT_EN10MB, 65535));
  std::unique_ptr<pcap_dumper_t, DumperCloser> out(pcap_dump_open(dead.get(), opt.out.c_str()));
  if (!out) {
    std::fprintf(stderr, "sluice-pcap: %s: %s\n", opt.out.c_str(), pcap_geterr(dead.get()));
    return 2;
  }
  std::ofstream verdicts;
  if (!opt.verdicts.empty()) {
    verdicts.open(opt.verdicts);
    if (!verdicts) {
      std::fprintf(stderr, "sluice-pcap: cannot write %s\n", opt.verdicts.c_str());
      return 2;
    }
  }

  // --explain: what explain() says of each TCP/UDP packet's flow just before the worker runs it.
  std::map<std::uint64_t, control::ExplainResult> explained;
  BurstRunner::Observer explain_each;
  if (opt.explain) {
    explain_each = [&](std::uint64_t index, rte_mbuf* m, std::uint64_t now, const Snapshot& snap) {
      const net::ParseResult parsed =
          net::parse({rte_pktmbuf_mtod(m, const std::byte*), m->data_len});
      const net::ParsedPacket& p = parsed.packet;
      if (!parsed.ok() || p.fragment != net::FragmentKind::none ||
          (p.key.protocol != net::kIpProtoTcp && p.key.protocol != net::kIpProtoUdp)) {
        return;
      }
      const bool syn = p.key.protocol == net::kIpProtoTcp &&
                       (p.tcp_flags & (net::kTcpSyn | net::kTcpAck)) == net::kTcpSyn;
      worker->get()->now_s = static_cast<std::uint32_t>(now / 1'000'000'000ull);
      const WorkerState* workers[] = {worker->get()};
      explained[index] = pipeline::explain(snap, workers, p.key, syn);
    };
  }
  auto write_verdict = [&](std::uint64_t index, const PacketVerdict& verdict,
                           const Snapshot& ran_on) {
    if (verdicts.is_open()) {
      nlohmann::ordered_json line = {
          {"index", index},
          {"verdict", std::string(to_string(verdict.verdict))},
          {"reason", verdict.has_reason ? std::string(name_of(verdict.reason)) : std::string()},
          {"reply", std::string(to_string(verdict.reply))},
          {"backend", backend_name(ran_on, verdict)},
          {"second_hop", second_hop_name(ran_on, verdict)},
      };
      if (const auto it = explained.find(index); it != explained.end()) {
        line["explain"] = {{"action", it->second.action}, {"backend", it->second.backend}};
        explained.erase(it);
      }
      verdicts << line.dump() << '\n';
    }
  };
  std::uint64_t last_sweep_second = 0;
  auto sweep = [&](std::uint64_t now) {
    // The dataplane sweeps expired flows in idle polls; a replay has none, so it sweeps the
    // whole table whenever capture time enters a new second.
    const std::uint64_t second = now / 1'000'000'000ull;
    if (second != last_sweep_second) {
      expire_flows(**worker, now, worker->get()->flows.bucket_count());
      last_sweep_second = second;
    }
  };
  BurstRunner runner(**worker, pool.get(), out.get(), opt.burst, write_verdict, explain_each);
  // Ends the burst being received, in the worker's order: pass 2 of the held burst, then
  // (between two loop iterations) the sweep, then pass 1 of the received burst.
  auto end_burst = [&]() -> bool {
    if (!runner.receiving()) return true;
    if (!runner.complete_held()) return false;
    sweep(runner.received_now());
    runner.classify_received(snapshot);
    return true;
  };
  const auto inconsistent = [] {
    std::fprintf(stderr, "sluice-pcap: internal error: verdicts and transmitted frames differ\n");
    return 1;
  };

  std::uint64_t index = 0;
  std::size_t next_update = 0;
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  int rc = 0;
  while ((rc = pcap_next_ex(in.get(), &header, &data)) == 1) {
    const std::uint64_t now = capture_time_ns(*header);
    const bool whole = fits_one_mbuf(*header);
    // A burst never spans a truncated record, a new capture second or an update point.
    if ((!whole || !runner.takes(now)) && !end_burst()) return inconsistent();
    if (!whole) {
      if (!runner.complete_held()) return inconsistent();
      sweep(now);
      PacketVerdict verdict;
      LcoreCounters& c = worker->get()->counters;
      ++c.rx_packets;
      c.count_drop(DropReason::segmented_frame);
      verdict.verdict = Verdict::drop;
      verdict.has_reason = true;
      verdict.reason = DropReason::segmented_frame;
      write_verdict(index, verdict, *snapshot);
    } else if (!runner.receive(index, *header, data, now)) {
      std::fprintf(stderr, "sluice-pcap: mbuf pool exhausted\n");
      return 1;
    }
    if (next_update < updates->size() && (*updates)[next_update].after_index == index &&
        !end_burst()) {
      return inconsistent();
    }
    while (next_update < updates->size() && (*updates)[next_update].after_index == index) {
      auto next = load_snapshot((*updates)[next_update].file, snapshot->generation + 1, registry);
      if (!next) {
        std::fprintf(stderr, "sluice-pcap: --update-at: %s\n", next.error().message.c_str());
        return 2;
      }
      snapshot = std::move(next.value());
      ++next_update;
    }
    ++index;
  }
  if (!end_burst() || !runner.complete_held()) return inconsistent();
  if (rc == -1) {
    std::fprintf(stderr, "sluice-pcap: %s: %s\n", opt.in.c_str(), pcap_geterr(in.get()));
    return 2;
  }

  if (!opt.counters.empty()) {
    const WorkerState* workers[] = {worker->get()};
    std::ofstream f(opt.counters);
    nlohmann::json j = control::to_json(sum_counters(*snapshot, workers));
    j["flow_table"] = flow_table_report(**worker);
    f << j.dump(2) << '\n';
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (const sluice::Status cpu = sluice::check_cpu_features(); !cpu) {
    std::fprintf(stderr, "sluice-pcap: %s\n", cpu.error().message.c_str());
    return 1;
  }
  CLI::App app{
      "Run a pcap through the Sluice dataplane pipeline (one lcore) and write what it "
      "would transmit."};
  Options opt;
  app.add_option("--config", opt.config, "YAML configuration (docs/config.md)")->required();
  app.add_option("--in", opt.in, "input pcap (Ethernet)")->required();
  app.add_option("--out", opt.out, "output pcap: forwarded packets and replies, in order")
      ->required();
  app.add_option("--verdicts", opt.verdicts, "JSON lines, one per input packet");
  app.add_option("--update-at", opt.updates,
                 "INDEX:FILE: load FILE as the new state after input packet INDEX (repeatable)");
  app.add_option("--counters", opt.counters, "write the summed counters as JSON at the end");
  app.add_option("--port-mac", opt.port_mac, "source MAC of transmitted frames")
      ->capture_default_str();
  app.add_option("--seed", opt.seed, "seed of the random scheduler")->capture_default_str();
  app.add_flag("--explain", opt.explain,
               "add to each TCP/UDP packet's verdict line what explain() (sluicectl explain) said "
               "of its flow just before it ran: {\"explain\": {\"action\", \"backend\"}} "
               "(needs --burst 1)");
  app.add_option("--burst", opt.burst,
                 "packets per burst (1 to 64), run in the worker's two-pass order; a burst "
                 "ends at a new capture second, a truncated record and an --update-at point")
      ->check(CLI::Range(1, int{kMaxBurst}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return run(opt);
}

// sluice-pcap: runs every packet of a pcap through the real worker pipeline (one lcore) and
// writes what the dataplane would transmit. The golden tests' harness and an operator's
// debugging tool: `sluice-pcap --config sluice.yaml --in capture.pcap --out sent.pcap
// --verdicts verdicts.jsonl`.
#include <pcap/pcap.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/pcap/offline_eal.hpp"
#include "pipeline/pipeline.hpp"
#include "sluice/config/names.hpp"
#include "sluice/config/yaml.hpp"
#include "sluice/cpu_features.hpp"

namespace {

using namespace sluice;
using namespace sluice::pipeline;

// The largest frame one mbuf holds; longer frames would be chained by a real PMD.
constexpr std::uint16_t kMbufDataRoom = 16384;
constexpr unsigned kPoolSize = 256;

struct Options {
  std::string config;
  std::string in;
  std::string out;
  std::string verdicts;
  std::string counters;
  std::vector<std::string> updates;  // "INDEX:FILE"
  std::string port_mac = "02:00:00:00:00:01";
  std::uint64_t seed = 1;
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

int run(const Options& opt) {
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
  std::unique_ptr<const Snapshot> snapshot = std::move(first.value());

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

  BurstResult result;
  std::uint64_t index = 0;
  std::size_t next_update = 0;
  std::uint64_t last_sweep_second = 0;
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  int rc = 0;
  while ((rc = pcap_next_ex(in.get(), &header, &data)) == 1) {
    const std::uint64_t now =
        std::uint64_t(header->ts.tv_sec) * 1'000'000'000ull + std::uint64_t(header->ts.tv_usec);
    // The dataplane sweeps expired flows in idle polls; a replay has none, so it sweeps the
    // whole table whenever capture time enters a new second.
    const std::uint64_t second = now / 1'000'000'000ull;
    if (second != last_sweep_second) {
      expire_flows(**worker, now, worker->get()->flows.bucket_count());
      last_sweep_second = second;
    }
    PacketVerdict verdict;
    if (header->caplen != header->len || header->caplen > kMbufDataRoom) {
      // Truncated captures cannot be forwarded; oversized frames would span mbufs.
      LcoreCounters& c = worker->get()->counters;
      ++c.rx_packets;
      ++c.verdicts[static_cast<std::size_t>(Verdict::drop)];
      c.count_drop(DropReason::segmented_frame);
      verdict.verdict = Verdict::drop;
      verdict.has_reason = true;
      verdict.reason = DropReason::segmented_frame;
    } else {
      rte_mbuf* m = rte_pktmbuf_alloc(pool.get());
      if (m == nullptr) {
        std::fprintf(stderr, "sluice-pcap: mbuf pool exhausted\n");
        return 1;
      }
      std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(header->caplen)), data,
                  header->caplen);
      process_burst(**worker, *snapshot, &m, 1, now, result);
      verdict = result.verdicts[0];
      for (std::uint16_t t = 0; t < result.tx_count; ++t) {
        rte_mbuf* tx = result.tx[t];
        pcap_pkthdr h{};
        h.ts.tv_sec = header->ts.tv_sec;
        h.ts.tv_usec = header->ts.tv_usec / 1000;
        h.caplen = h.len = rte_pktmbuf_pkt_len(tx);
        pcap_dump(reinterpret_cast<u_char*>(out.get()), &h, rte_pktmbuf_mtod(tx, const u_char*));
        rte_pktmbuf_free(tx);
      }
      for (std::uint16_t p = 0; p < result.pass_count; ++p)
        rte_pktmbuf_free(result.pass[p]);
    }
    if (verdicts.is_open()) {
      nlohmann::ordered_json line = {
          {"index", index},
          {"verdict", std::string(to_string(verdict.verdict))},
          {"reason", verdict.has_reason ? std::string(name_of(verdict.reason)) : std::string()},
          {"backend", backend_name(*snapshot, verdict)},
      };
      verdicts << line.dump() << '\n';
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
  if (rc == -1) {
    std::fprintf(stderr, "sluice-pcap: %s: %s\n", opt.in.c_str(), pcap_geterr(in.get()));
    return 2;
  }

  if (!opt.counters.empty()) {
    const LcoreCounters* lcores[] = {&worker->get()->counters};
    const std::uint32_t ids[] = {0};
    std::ofstream f(opt.counters);
    nlohmann::json j = control::to_json(sum_counters(*snapshot, lcores, ids));
    const LcoreCounters& c = worker->get()->counters;
    j["pipeline"] = {
        {"fragments_forwarded", c.fragments_forwarded},
        {"ipv4_options_forwarded", c.ipv4_options_forwarded},
        {"ipv6_extensions_forwarded", c.ipv6_extensions_forwarded},
        {"icmp_echo_replies", c.icmp_echo_replies},
        {"icmp_errors_forwarded", c.icmp_errors_forwarded},
        {"too_big_sent", c.too_big_sent},
        {"flows_rescheduled", c.flows_rescheduled},
        {"flows_evicted", c.flows_evicted},
        {"flows_expired", c.flows_expired},
    };
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
  CLI11_PARSE(app, argc, argv);
  return run(opt);
}

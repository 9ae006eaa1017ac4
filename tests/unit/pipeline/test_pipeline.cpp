// process_burst() on real mbufs: needs the EAL (one per binary, no hugepages).
#include <gtest/gtest.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstring>
#include <memory>

#include "pipeline/pcap/offline_eal.hpp"
#include "pipeline/pipeline.hpp"
#include "sluice/lb/flow_hash.hpp"
#include "sluice/net/builder.hpp"
#include "sluice/net/parse.hpp"

namespace sluice::pipeline {
namespace {

using namespace sluice::net;

constexpr std::uint64_t kSecond = 1'000'000'000;

rte_mempool* pool() {
  static std::unique_ptr<OfflineEal> eal = [] {
    auto started = OfflineEal::start("test-pipeline", 256);
    if (!started) {
      ADD_FAILURE() << started.error().message;
      return std::unique_ptr<OfflineEal>();
    }
    return std::move(started.value());
  }();
  static rte_mempool* mp =
      rte_pktmbuf_pool_create("test_pipeline", 256, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  return mp;
}

config::State state_with(std::vector<std::pair<const char*, std::uint32_t>> backends) {
  config::State s;
  s.generation = 1;
  s.dataplane.tunnel_source_v4 = address("198.18.0.1");
  s.dataplane.flow_idle_timeout_s = 300;
  s.dataplane.flow_closed_timeout_s = 10;
  config::Vip v;
  v.address = address("198.18.0.10");
  v.port = 80;
  v.maglev_table_size = 251;
  for (auto [a, w] : backends) {
    config::Backend b;
    b.address = address(a);
    b.weight = w;
    v.backends.push_back(b);
  }
  s.vips.push_back(v);
  return s;
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(pool(), nullptr);
    WorkerConfig wc;
    wc.flow_table_entries = 1024;
    wc.port_mac = {0x02, 0, 0, 0, 0, 0x01};
    auto w = create_worker_state(wc);
    ASSERT_TRUE(w.ok()) << w.error().message;
    worker_ = std::move(w.value());
    load(state_with({{"198.18.1.1", 1}, {"198.18.1.2", 1}}));
  }

  void load(const config::State& s) {
    auto snap = build_snapshot(s, registry_);
    ASSERT_TRUE(snap.ok()) << snap.error().message;
    snapshot_ = std::move(snap.value());
  }

  static ByteBuffer tcp(std::uint16_t sport, std::uint8_t flags) {
    return build_frame({.ip = Ipv4Spec{.src = address("198.18.2.1"), .dst = address("198.18.0.10")},
                        .l4 = TcpSpec{.src_port = sport, .dst_port = 80, .flags = flags}});
  }

  // Runs one frame; returns its verdict and frees what was transmitted. `headroom`: bytes
  // before the frame in its mbuf (the driver's default when not given).
  PacketVerdict run(const ByteBuffer& frame, std::uint64_t now, int headroom = -1) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool());
    if (headroom >= 0) m->data_off = static_cast<std::uint16_t>(headroom);
    std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(frame.size())), frame.data(),
                frame.size());
    process_burst(*worker_, *snapshot_, &m, 1, now, result_);
    for (std::uint16_t i = 0; i < result_.tx_count; ++i)
      rte_pktmbuf_free(result_.tx[i]);
    for (std::uint16_t i = 0; i < result_.pass_count; ++i)
      rte_pktmbuf_free(result_.pass[i]);
    return result_.verdicts[0];
  }

  std::string backend_of(const PacketVerdict& v) const {
    return snapshot_->backends[v.backend].address.to_string();
  }
  const ObjectCounters& vip_counters() const {
    return worker_->counters.vips[snapshot_->vips[0].id];
  }

  BackendRegistry registry_;
  std::unique_ptr<const Snapshot> snapshot_;
  WorkerStatePtr worker_;
  BurstResult result_;
};

TEST_F(PipelineTest, NewFlowIsForwardedAndCounted) {
  const PacketVerdict v = run(tcp(1000, kTcpSyn), 0);
  EXPECT_EQ(v.verdict, Verdict::forward);
  ASSERT_NE(v.backend, kNoBackendId);
  EXPECT_EQ(vip_counters().new_flows, 1u);
  EXPECT_EQ(vip_counters().active_flows, 1u);
  EXPECT_EQ(worker_->counters.backends[v.backend].packets, 1u);
  EXPECT_EQ(worker_->counters.verdicts[static_cast<std::size_t>(Verdict::forward)], 1u);
}

TEST_F(PipelineTest, EncapsulationNeedsItsHeadroom) {
  // IPIP to an IPv4 backend: Ethernet + outer IPv4 = 34 bytes in front of the datagram, 14 of
  // which the client's Ethernet header gives back: 20 bytes of headroom are just enough.
  const std::size_t free_before = rte_mempool_avail_count(pool());
  const PacketVerdict short_by_one = run(tcp(1000, kTcpSyn), 0, 19);
  EXPECT_EQ(short_by_one.verdict, Verdict::drop);
  EXPECT_EQ(short_by_one.reason, DropReason::no_headroom);
  EXPECT_EQ(worker_->counters.drops[static_cast<std::size_t>(DropReason::no_headroom)], 1u);
  EXPECT_EQ(rte_mempool_avail_count(pool()), free_before) << "the dropped mbuf was not freed";

  rte_mbuf* m = rte_pktmbuf_alloc(pool());
  m->data_off = 20;
  const ByteBuffer frame = tcp(1001, kTcpSyn);
  std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(frame.size())), frame.data(),
              frame.size());
  process_burst(*worker_, *snapshot_, &m, 1, 0, result_);
  ASSERT_EQ(result_.tx_count, 1);
  EXPECT_EQ(result_.verdicts[0].verdict, Verdict::forward);
  EXPECT_EQ(m->data_off, 0);
  ASSERT_EQ(m->data_len, 34 + frame.size() - 14);
  EXPECT_EQ(m->pkt_len, m->data_len);
  const auto* out = rte_pktmbuf_mtod(m, const std::uint8_t*);
  EXPECT_EQ(out[12], 0x08);  // outer IPv4
  EXPECT_EQ(out[14], 0x45);
  EXPECT_EQ(std::memcmp(out + 34, frame.data() + 14, frame.size() - 14), 0);
  rte_pktmbuf_free(m);
}

TEST_F(PipelineTest, FinShortensExpiry) {
  run(tcp(1000, kTcpSyn), 0);
  run(tcp(1000, kTcpAck | kTcpFin), 1 * kSecond);  // closing: lives until 1 + 10 s
  run(tcp(2000, kTcpSyn), 0);
  run(tcp(1000, kTcpAck), 11 * kSecond);
  EXPECT_EQ(vip_counters().new_flows, 2u) << "still within the closed timeout";
  run(tcp(1000, kTcpAck), 22 * kSecond);  // 11 s after its last packet
  EXPECT_EQ(vip_counters().new_flows, 3u) << "expired after FIN";
  run(tcp(2000, kTcpAck), 200 * kSecond);  // open flow: 300 s idle timeout
  EXPECT_EQ(vip_counters().new_flows, 3u);
}

TEST_F(PipelineTest, RstShortensExpiryToo) {
  run(tcp(1000, kTcpSyn), 0);
  run(tcp(1000, kTcpRst), 0);
  run(tcp(1000, kTcpAck), 11 * kSecond);
  EXPECT_EQ(vip_counters().new_flows, 2u);
}

TEST_F(PipelineTest, RemovedBackendReschedulesDrainedKeeps) {
  const PacketVerdict first = run(tcp(1000, kTcpSyn), 0);
  const std::string chosen = backend_of(first);
  const std::string other = chosen == "198.18.1.1" ? "198.18.1.2" : "198.18.1.1";

  load(state_with({{chosen.c_str(), 0}, {other.c_str(), 1}}));  // drained
  EXPECT_EQ(backend_of(run(tcp(1000, kTcpAck), kSecond)), chosen);
  EXPECT_EQ(worker_->counters.flows_rescheduled, 0u);

  load(state_with({{other.c_str(), 1}}));  // removed
  const PacketVerdict moved = run(tcp(1000, kTcpAck), 2 * kSecond);
  EXPECT_EQ(backend_of(moved), other);
  EXPECT_EQ(worker_->counters.flows_rescheduled, 1u);
  EXPECT_EQ(worker_->counters.backends[first.backend].active_flows, 0u);
  EXPECT_EQ(worker_->counters.backends[moved.backend].active_flows, 1u);
  EXPECT_EQ(backend_of(run(tcp(1000, kTcpAck), 3 * kSecond)), other) << "stays moved";
}

TEST_F(PipelineTest, ExplainReportsTheFlowTableThenTheScheduler) {
  const ByteBuffer syn = tcp(1000, kTcpSyn);
  const PacketVerdict v = run(syn, 0);
  const ParseResult parsed = parse(syn);
  const WorkerState* workers[] = {worker_.get()};
  const Explanation pinned = explain(*snapshot_, workers, parsed.packet.key);
  EXPECT_EQ(pinned.source, control::ExplainSource::flow_table);
  EXPECT_EQ(pinned.backend, backend_of(v));
  EXPECT_EQ(pinned.vip, "198.18.0.10:80/tcp");
  EXPECT_NE(pinned.reason.find("TCP: not yet ACKed"), std::string::npos) << pinned.reason;
  run(tcp(1000, kTcpAck), 0);
  EXPECT_NE(explain(*snapshot_, workers, parsed.packet.key).reason.find("TCP: established"),
            std::string::npos);
  run(tcp(1000, kTcpAck | kTcpFin), 0);
  const Explanation closing = explain(*snapshot_, workers, parsed.packet.key);
  EXPECT_EQ(closing.backend, backend_of(v)) << "its next non-SYN packet still goes there";
  EXPECT_NE(closing.reason.find("TCP: closing"), std::string::npos) << closing.reason;

  const ParseResult fresh = parse(tcp(4321, kTcpSyn));
  const Explanation next = explain(*snapshot_, workers, fresh.packet.key);
  EXPECT_EQ(next.source, control::ExplainSource::scheduler);
  EXPECT_EQ(next.flow_hash, lb::flow_hash_5tuple(fresh.packet.key));
  ASSERT_TRUE(next.maglev_slot.has_value());
  EXPECT_EQ(next.backend, backend_of(run(tcp(4321, kTcpSyn), 0))) << "explain predicted it";
}

TEST_F(PipelineTest, CountersSumOverLcores) {
  run(tcp(1000, kTcpSyn), 0);
  run(tcp(1000, kTcpAck), 0);
  run(build_frame({.ethernet = {.ethertype = kEtherTypeArp}, .ip = NoIp{}}), 0);
  const LcoreCounters* lcores[] = {&worker_->counters, &worker_->counters};
  const std::uint32_t ids[] = {1, 2};
  const control::Counters sum = sum_counters(*snapshot_, lcores, ids);
  ASSERT_EQ(sum.per_vip.size(), 1u);
  EXPECT_EQ(sum.per_vip[0].packets, 4u);
  EXPECT_EQ(sum.per_vip[0].new_flows, 2u);
  ASSERT_EQ(sum.per_lcore.size(), 2u);
  EXPECT_EQ(sum.per_lcore[1].lcore, 2u);
  EXPECT_EQ(sum.per_lcore[0].rx_packets, 3u);
  EXPECT_EQ(sum.drops.size(), kDropReasonCount);
}

TEST_F(PipelineTest, DropBurstCountsOneReason) {
  rte_mbuf* m[2] = {rte_pktmbuf_alloc(pool()), rte_pktmbuf_alloc(pool())};
  drop_burst(*worker_, m, 2, DropReason::no_snapshot);
  EXPECT_EQ(worker_->counters.drops[static_cast<std::size_t>(DropReason::no_snapshot)], 2u);
  EXPECT_EQ(rte_mempool_avail_count(pool()), 256u);
}

}  // namespace
}  // namespace sluice::pipeline

// process_burst() on real mbufs: needs the EAL (one per binary, no hugepages).
#include <gtest/gtest.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstring>
#include <map>
#include <memory>
#include <numeric>
#include <optional>

#include "pipeline/counter_report.hpp"
#include "pipeline/explain.hpp"
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

struct BackendSpec {
  const char* address;
  std::uint32_t weight = 1;
  std::optional<config::BackendState> state = {};
};

config::State state_with(std::vector<BackendSpec> backends) {
  config::State s;
  s.generation = 1;
  s.dataplane.tunnel_source_v4 = address("198.18.0.1");
  s.dataplane.flow_idle_timeout_s = 300;
  s.dataplane.flow_closed_timeout_s = 10;
  config::Vip v;
  v.address = address("198.18.0.10");
  v.port = 80;
  v.maglev_table_size = 251;
  for (const BackendSpec& spec : backends) {
    config::Backend b;
    b.address = address(spec.address);
    b.weight = spec.weight;
    b.state = spec.state;
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
    count_handed_on(worker_->counters, result_);
    for (std::uint16_t i = 0; i < result_.tx_count; ++i)
      rte_pktmbuf_free(result_.tx[i]);
    for (std::uint16_t i = 0; i < result_.pass_count; ++i)
      rte_pktmbuf_free(result_.pass[i]);
    return result_.verdicts[0];
  }

  std::string backend_of(const PacketVerdict& v) const {
    return snapshot_->backends[v.backend].address.to_string();
  }
  // The VIP's counters as the control socket reports them (sums over its backends).
  control::VipCounters vip_counters() const {
    const WorkerState* workers[] = {worker_.get()};
    return sum_counters(*snapshot_, workers).per_vip.at(0);
  }
  BackendId id_of(const char* backend) const {
    for (const BackendId id : snapshot_->vips[0].backends) {
      if (snapshot_->backends[id].address == address(backend)) return id;
    }
    ADD_FAILURE() << backend << " is not a backend";
    return kNoBackendId;
  }
  // The active-flow gauges agree with the flow table: every occupied entry counts once, on
  // the backend it is pinned to.
  void expect_gauges_match_the_table() const {
    std::map<BackendId, std::uint32_t> pinned;
    worker_->flows.for_each_entry([&](const FlowEntry& e) {
      if (e.backend != kNoBackendId) ++pinned[e.backend];
    });
    for (BackendId id = 0; id < kMaxBackends; ++id) {
      const auto it = pinned.find(id);
      EXPECT_EQ(worker_->scheduler.active_flows[id], it == pinned.end() ? 0u : it->second)
          << "backend id " << id;
    }
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
  run(tcp(2000, kTcpAck), 1 * kSecond);  // established: 300 s idle timeout
  run(tcp(1000, kTcpAck), 11 * kSecond);
  EXPECT_EQ(vip_counters().new_flows, 2u) << "still within the closed timeout";
  run(tcp(1000, kTcpAck), 22 * kSecond);  // 11 s after its last packet
  EXPECT_EQ(vip_counters().new_flows, 3u) << "expired after FIN";
  run(tcp(2000, kTcpAck), 200 * kSecond);  // established flow: 300 s idle timeout
  EXPECT_EQ(vip_counters().new_flows, 3u);
}

TEST_F(PipelineTest, AnUnansweredSynIsForgottenAfterTheOpenTimeout) {
  run(tcp(3000, kTcpSyn), 0);
  run(tcp(3000, kTcpSyn), 5 * kSecond);  // a retransmission within 5 s: the same entry
  EXPECT_EQ(vip_counters().new_flows, 1u);
  run(tcp(3000, kTcpSyn), 11 * kSecond);  // 6 s after the last one: gone
  EXPECT_EQ(vip_counters().new_flows, 2u);
}

TEST_F(PipelineTest, HandshakeTimeLandsInItsPowerOfTwoBucket) {
  constexpr std::uint64_t kMs = kSecond / 1000;
  const PacketVerdict syn = run(tcp(4000, kTcpSyn), 1000 * kSecond);
  run(tcp(4000, kTcpAck), 1000 * kSecond + 50 * kMs);  // 50 ms: [32, 64)
  run(tcp(4000, kTcpAck | kTcpPsh), 1000 * kSecond + 60 * kMs);
  const BackendCounters& c = worker_->counters.backends[syn.backend];
  EXPECT_EQ(c.syns, 1u);
  EXPECT_EQ(c.handshakes, 1u) << "once per flow";
  EXPECT_EQ(c.handshake_ms_buckets[6], 1u);

  // A retransmission keeps the first SYN's time: 3.5 s is [2048, 4096) ms.
  run(tcp(4001, kTcpSyn), 2000 * kSecond);
  const PacketVerdict again = run(tcp(4001, kTcpSyn), 2000 * kSecond + 3000 * kMs);
  run(tcp(4001, kTcpAck), 2000 * kSecond + 3500 * kMs);
  const BackendCounters& d = worker_->counters.backends[again.backend];
  EXPECT_EQ(d.syn_retransmits, 1u);
  EXPECT_EQ(d.handshake_ms_buckets[12], 1u);
  // Under 1 ms: bucket 0.
  const PacketVerdict quick = run(tcp(4002, kTcpSyn), 3000 * kSecond);
  run(tcp(4002, kTcpAck), 3000 * kSecond + kMs / 2);
  EXPECT_EQ(worker_->counters.backends[quick.backend].handshake_ms_buckets[0], 1u);
  // Summed on read, on the wire form.
  std::uint64_t handshakes = 0;
  std::uint64_t syns = 0;
  for (const auto& b : vip_counters().per_backend) {
    handshakes += b.handshakes;
    syns += b.syns;
    EXPECT_EQ(std::accumulate(b.handshake_ms_buckets.begin(), b.handshake_ms_buckets.end(),
                              std::uint64_t{0}),
              b.handshakes);
  }
  EXPECT_EQ(handshakes, 3u);
  EXPECT_EQ(syns, 4u);
}

TEST_F(PipelineTest, AFlowAdoptedByItsAckIsNoHandshake) {
  const PacketVerdict v = run(tcp(4100, kTcpAck), kSecond);
  EXPECT_EQ(worker_->counters.backends[v.backend].handshakes, 0u);
  EXPECT_EQ(worker_->counters.backends[v.backend].syns, 0u);
}

TEST_F(PipelineTest, AnOpenEntryThatExpiresIsUnansweredAUdpOneIsNot) {
  const PacketVerdict syn = run(tcp(4200, kTcpSyn), 0);
  const PacketVerdict acked = run(tcp(4201, kTcpSyn), 0);
  run(tcp(4201, kTcpAck), 0);
  expire_flows(*worker_, 20 * kSecond, worker_->flows.bucket_count());  // open: 5 s
  EXPECT_EQ(worker_->counters.backends[syn.backend].unanswered, 1u);
  if (acked.backend != syn.backend) {
    EXPECT_EQ(worker_->counters.backends[acked.backend].unanswered, 0u);
  }
  std::uint64_t unanswered = 0;
  for (const auto& b : vip_counters().per_backend)
    unanswered += b.unanswered;
  EXPECT_EQ(unanswered, 1u) << "the established one is no unanswered SYN";
}

TEST_F(PipelineTest, ARetransmittedSynLeavesADrainedBackendAndIsCounted) {
  const PacketVerdict first = run(tcp(4300, kTcpSyn), 0);
  const std::string chosen = backend_of(first);
  const std::string other = chosen == "198.18.1.1" ? "198.18.1.2" : "198.18.1.1";
  load(state_with({{chosen.c_str(), 0}, {other.c_str(), 1}}));  // drained
  const PacketVerdict rescued = run(tcp(4300, kTcpSyn), kSecond);
  EXPECT_EQ(backend_of(rescued), other);
  EXPECT_EQ(worker_->counters.backends[first.backend].syn_retransmits, 1u);
  EXPECT_EQ(worker_->counters.backends[first.backend].syn_rescued, 1u);
  EXPECT_EQ(worker_->counters.backends[rescued.backend].syns, 1u);
  EXPECT_EQ(worker_->counters.flows_rescued, 1u);
  EXPECT_EQ(worker_->counters.flows_rescheduled, 0u);
  EXPECT_EQ(worker_->scheduler.active_flows[first.backend], 0u);
  EXPECT_EQ(worker_->scheduler.active_flows[rescued.backend], 1u);
  EXPECT_EQ(backend_of(run(tcp(4300, kTcpAck), 2 * kSecond)), other) << "stays moved";
  EXPECT_EQ(worker_->counters.backends[rescued.backend].handshakes, 1u);
  expect_gauges_match_the_table();
  const WorkerState* workers[] = {worker_.get()};
  EXPECT_EQ(sum_counters(*snapshot_, workers).events.at("flows_rescued"), 1u);
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
  EXPECT_EQ(worker_->scheduler.active_flows[first.backend], 0u);
  EXPECT_EQ(worker_->scheduler.active_flows[moved.backend], 1u);
  EXPECT_EQ(worker_->counters.backends[moved.backend].rescheduled_flows, 1u);
  EXPECT_EQ(backend_of(run(tcp(1000, kTcpAck), 3 * kSecond)), other) << "stays moved";
  expect_gauges_match_the_table();
}

// A backend that fails its checks stays in the state as `down`: same id, same counters; its
// flows move; when it is up again it takes new flows and no existing flow moves.
TEST_F(PipelineTest, DownBackendKeepsItsIdentityAndComesBackWithoutMovingFlows) {
  using config::BackendState;
  std::map<std::uint16_t, BackendId> before;  // source port -> backend
  for (std::uint16_t port = 1000; port < 1064; ++port)
    before[port] = run(tcp(port, kTcpSyn), 0).backend;
  const BackendId be1 = id_of("198.18.1.1");
  const BackendId be2 = id_of("198.18.1.2");
  const std::uint64_t be2_packets = worker_->counters.backends[be2].packets;
  ASSERT_GT(be2_packets, 0u);

  load(state_with({{"198.18.1.1"}, {"198.18.1.2", 1, BackendState::down}}));
  EXPECT_EQ(id_of("198.18.1.2"), be2) << "a down backend keeps its id";
  for (auto& [port, backend] : before) {
    const PacketVerdict v = run(tcp(port, kTcpAck), kSecond);
    EXPECT_EQ(v.backend, be1) << "port " << port << ": a flow stayed on the down backend";
    backend = v.backend;
  }
  EXPECT_EQ(worker_->counters.flows_rescheduled, be2_packets);
  EXPECT_EQ(worker_->scheduler.active_flows[be2], 0u);
  expect_gauges_match_the_table();

  load(state_with({{"198.18.1.1"}, {"198.18.1.2"}}));  // up again
  for (const auto& [port, backend] : before)
    EXPECT_EQ(run(tcp(port, kTcpAck), 2 * kSecond).backend, backend) << "port " << port;
  bool be2_got_one = false;
  for (std::uint16_t port = 2000; port < 2064; ++port)
    be2_got_one |= run(tcp(port, kTcpSyn), 2 * kSecond).backend == be2;
  EXPECT_TRUE(be2_got_one) << "the returning backend takes new flows";
  // Its counters went on from where they were: nothing was reset by the flap.
  EXPECT_GT(worker_->counters.backends[be2].packets, be2_packets);
  const control::VipCounters vip = vip_counters();
  std::uint64_t sum = 0;
  for (const control::BackendCounters& b : vip.per_backend)
    sum += b.packets;
  EXPECT_EQ(vip.packets, sum);
  EXPECT_EQ(vip.packets, 64u + 64u + 64u + 64u);
  expect_gauges_match_the_table();
}

TEST_F(PipelineTest, DrainingBackendKeepsItsFlowsAndGetsNoNewOnes) {
  using config::BackendState;
  const PacketVerdict first = run(tcp(1000, kTcpSyn), 0);
  const std::string chosen = backend_of(first);
  const std::string other = chosen == "198.18.1.1" ? "198.18.1.2" : "198.18.1.1";
  load(state_with({{chosen.c_str(), 1, BackendState::draining}, {other.c_str()}}));
  EXPECT_EQ(backend_of(run(tcp(1000, kTcpAck), kSecond)), chosen);
  for (std::uint16_t port = 2000; port < 2032; ++port)
    EXPECT_EQ(backend_of(run(tcp(port, kTcpSyn), kSecond)), other);
  EXPECT_EQ(worker_->counters.flows_rescheduled, 0u);
}

TEST_F(PipelineTest, ExplainReportsTheFlowTableThenTheScheduler) {
  const ByteBuffer syn = tcp(1000, kTcpSyn);
  const PacketVerdict v = run(syn, 0);
  const ParseResult parsed = parse(syn);
  const WorkerState* workers[] = {worker_.get()};
  const control::ExplainResult pinned = explain(*snapshot_, workers, parsed.packet.key);
  EXPECT_EQ(pinned.source, control::ExplainSource::flow_table);
  EXPECT_EQ(pinned.backend, backend_of(v));
  EXPECT_EQ(pinned.vip, "198.18.0.10:80/tcp");
  EXPECT_EQ(pinned.action, "hit");
  EXPECT_NE(pinned.reason.find("TCP: not yet ACKed"), std::string::npos) << pinned.reason;
  run(tcp(1000, kTcpAck), 0);
  EXPECT_NE(explain(*snapshot_, workers, parsed.packet.key).reason.find("TCP: established"),
            std::string::npos);
  run(tcp(1000, kTcpAck | kTcpFin), 0);
  const control::ExplainResult closing = explain(*snapshot_, workers, parsed.packet.key);
  EXPECT_EQ(closing.backend, backend_of(v)) << "its next non-SYN packet still goes there";
  EXPECT_NE(closing.reason.find("TCP: closing"), std::string::npos) << closing.reason;
  const control::ExplainResult reused = explain(*snapshot_, workers, parsed.packet.key, true);
  EXPECT_EQ(reused.action, "new_connection") << "a SYN on a closing entry is a new connection";
  EXPECT_EQ(reused.source, control::ExplainSource::scheduler);

  const ParseResult fresh = parse(tcp(4321, kTcpSyn));
  const control::ExplainResult next = explain(*snapshot_, workers, fresh.packet.key);
  EXPECT_EQ(next.source, control::ExplainSource::scheduler);
  EXPECT_EQ(next.action, "new_flow");
  EXPECT_EQ(next.flow_hash, lb::flow_hash_5tuple(fresh.packet.key));
  ASSERT_TRUE(next.maglev_slot.has_value());
  EXPECT_EQ(next.backend, backend_of(run(tcp(4321, kTcpSyn), 0))) << "explain predicted it";
}

TEST_F(PipelineTest, CountersSumOverLcores) {
  run(tcp(1000, kTcpSyn), 0);
  run(tcp(1000, kTcpAck), 0);
  run(build_frame({.ethernet = {.ethertype = kEtherTypeArp}, .ip = NoIp{}}), 0);
  const WorkerState* workers[] = {worker_.get(), worker_.get()};
  const control::Counters sum = sum_counters(*snapshot_, workers);
  ASSERT_EQ(sum.per_vip.size(), 1u);
  EXPECT_EQ(sum.per_vip[0].packets, 4u);
  EXPECT_EQ(sum.per_vip[0].new_flows, 2u);
  EXPECT_EQ(sum.per_vip[0].active_flows, 2u);
  ASSERT_EQ(sum.per_lcore.size(), 2u);
  EXPECT_EQ(sum.per_lcore[0].rx_packets, 3u);
  EXPECT_EQ(sum.per_lcore[0].forward, 2u);
  EXPECT_EQ(sum.per_lcore[0].pass, 1u);
  EXPECT_EQ(sum.drops.size(), kDropReasonCount);
  EXPECT_EQ(sum.events.at("flows_rescheduled"), 0u);
}

// rx = forward + reply + pass + drop, drop = the sum of the reasons, over every kind of fate.
TEST_F(PipelineTest, EveryPacketIsCountedOnceAtItsFate) {
  run(tcp(1000, kTcpSyn), 0);                                                     // forward
  run(build_frame({.ethernet = {.ethertype = kEtherTypeArp}, .ip = NoIp{}}), 0);  // pass
  run(tcp(1001, kTcpSyn), 0, 19);                                                 // no_headroom
  run(build_frame({.ip = Ipv4Spec{.src = address("198.18.2.1"), .dst = address("198.18.0.10")},
                   .l4 = icmp_echo_request(7, 1)}),
      0);  // echo request: reply
  ByteBuffer truncated = tcp(1002, kTcpSyn);
  truncated.resize(30);  // inside the IPv4 header
  run(truncated, 0);
  load(state_with({{"198.18.1.1", 0}, {"198.18.1.2", 0}}));
  run(tcp(1003, kTcpSyn), 0);  // no_backend
  const LcoreCounters& c = worker_->counters;
  const auto verdict = [&c](Verdict v) { return c.verdicts[static_cast<std::size_t>(v)]; };
  EXPECT_EQ(c.rx_packets, 6u);
  EXPECT_EQ(verdict(Verdict::forward), 1u);
  EXPECT_EQ(verdict(Verdict::pass), 1u);
  EXPECT_EQ(verdict(Verdict::reply), 1u);
  EXPECT_EQ(verdict(Verdict::drop), 3u);
  std::uint64_t reasons = 0;
  for (const std::uint64_t n : c.drops)
    reasons += n;
  EXPECT_EQ(reasons, verdict(Verdict::drop));
  EXPECT_EQ(c.rx_packets, verdict(Verdict::forward) + verdict(Verdict::reply) +
                              verdict(Verdict::pass) + verdict(Verdict::drop));
  const control::VipCounters vip = vip_counters();
  EXPECT_EQ(vip.packets, 1u);
  EXPECT_EQ(vip.dropped, 2u) << "no_headroom and no_backend reached the VIP";
  EXPECT_EQ(vip.replied, 1u);
}

TEST_F(PipelineTest, DropBurstCountsOneReason) {
  rte_mbuf* m[2] = {rte_pktmbuf_alloc(pool()), rte_pktmbuf_alloc(pool())};
  drop_burst(*worker_, m, 2, DropReason::no_snapshot);
  EXPECT_EQ(worker_->counters.drops[static_cast<std::size_t>(DropReason::no_snapshot)], 2u);
  EXPECT_EQ(worker_->counters.verdicts[static_cast<std::size_t>(Verdict::drop)], 2u);
  EXPECT_EQ(worker_->counters.rx_packets, 2u);
  EXPECT_EQ(rte_mempool_avail_count(pool()), 256u);
}

}  // namespace
}  // namespace sluice::pipeline

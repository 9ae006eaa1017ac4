// The worker's TX side on real DPDK ports: ring PMD ports whose rings hold 15 packets and are
// never drained, so their queues refuse the rest. Every packet the pipeline received must be
// counted once, at its fate: rx = forward + reply + pass + drop.
#include "tx_path.hpp"

#include <gtest/gtest.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <cstring>
#include <memory>
#include <string>

#include "pipeline/pcap/offline_eal.hpp"
#include "pipeline/pipeline.hpp"
#include "sluice/net/builder.hpp"

namespace sluice::dataplane {
namespace {

using namespace sluice::net;
using pipeline::Verdict;

constexpr unsigned kRingSize = 16;  // usable: 15

rte_mempool* pool() {
  static std::unique_ptr<pipeline::OfflineEal> eal = [] {
    auto started = pipeline::OfflineEal::start("test-tx-path", 256);
    if (!started) {
      ADD_FAILURE() << started.error().message;
      return std::unique_ptr<pipeline::OfflineEal>();
    }
    return std::move(started.value());
  }();
  static rte_mempool* mp =
      rte_pktmbuf_pool_create("test_tx_path", 512, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  return mp;
}

// A started ring port with one RX and one TX queue on one small ring nobody reads.
std::uint16_t ring_port(const char* name) {
  rte_ring* ring = rte_ring_create(name, kRingSize, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
  EXPECT_NE(ring, nullptr) << name;
  const int port = rte_eth_from_ring(ring);
  EXPECT_GE(port, 0) << name;
  const auto id = static_cast<std::uint16_t>(port);
  rte_eth_conf conf{};
  EXPECT_EQ(rte_eth_dev_configure(id, 1, 1, &conf), 0);
  EXPECT_EQ(rte_eth_rx_queue_setup(id, 0, 64, SOCKET_ID_ANY, nullptr, pool()), 0);
  EXPECT_EQ(rte_eth_tx_queue_setup(id, 0, 64, SOCKET_ID_ANY, nullptr), 0);
  EXPECT_EQ(rte_eth_dev_start(id), 0);
  return id;
}

config::State one_vip() {
  config::State s;
  s.generation = 1;
  s.dataplane.tunnel_source_v4 = address("198.18.0.1");
  config::Vip v;
  v.address = address("198.18.0.10");
  v.port = 80;
  v.maglev_table_size = 251;
  config::Backend b;
  b.address = address("198.18.1.1");
  v.backends.push_back(b);
  s.vips.push_back(v);
  return s;
}

// `n` frames into mbufs; `to_vip`: TCP SYNs to the VIP (forwarded), else to another address
// (passed to the host).
void fill(rte_mbuf** mbufs, std::uint16_t n, bool to_vip) {
  for (std::uint16_t i = 0; i < n; ++i) {
    const ByteBuffer frame = build_frame(
        {.ip = Ipv4Spec{.src = address("198.18.2.1"),
                        .dst = address(to_vip ? "198.18.0.10" : "198.18.0.99")},
         .l4 = TcpSpec{
             .src_port = static_cast<std::uint16_t>(1000 + i), .dst_port = 80, .flags = kTcpSyn}});
    mbufs[i] = rte_pktmbuf_alloc(pool());
    ASSERT_NE(mbufs[i], nullptr);
    std::memcpy(rte_pktmbuf_append(mbufs[i], static_cast<std::uint16_t>(frame.size())),
                frame.data(), frame.size());
  }
}

TEST(TxPath, RefusedPacketsAreDropsNotForwardsOrPasses) {
  ASSERT_NE(pool(), nullptr);
  const std::uint16_t uplink = ring_port("tx_path_uplink");
  const std::uint16_t host = ring_port("tx_path_host");
  pipeline::BackendRegistry registry;
  auto snapshot = pipeline::build_snapshot(one_vip(), registry);
  ASSERT_TRUE(snapshot.ok()) << snapshot.error().message;
  pipeline::WorkerConfig wc;
  wc.flow_table_entries = 1024;
  auto worker = pipeline::create_worker_state(wc);
  ASSERT_TRUE(worker.ok()) << worker.error().message;
  pipeline::LcoreCounters& c = (*worker)->counters;
  const std::uint16_t ports[] = {uplink, host};
  TxPath tx(c, ports, 0);
  pipeline::BurstResult out;

  // 64 forwards: the first full TX buffer (32) fits 15 into the ring, the second none.
  rte_mbuf* mbufs[64];
  fill(mbufs, 64, true);
  pipeline::process_burst(**worker, **snapshot, mbufs, 64, 0, out);
  ASSERT_EQ(out.tx_count, 64);
  tx.send_burst(uplink, out);
  // 20 passes to the host port: buffered until the drain, which fits 15.
  fill(mbufs, 20, false);
  pipeline::process_burst(**worker, **snapshot, mbufs, 20, 0, out);
  ASSERT_EQ(out.pass_count, 20);
  tx.send(host, out.pass.data(), out.pass_count, Departure::pass);
  tx.drain_all();

  const auto verdict = [&c](Verdict v) { return c.verdicts[static_cast<std::size_t>(v)]; };
  const auto drops = [&c](DropReason r) { return c.drops[static_cast<std::size_t>(r)]; };
  EXPECT_EQ(c.rx_packets, 84u);
  EXPECT_EQ(verdict(Verdict::forward), 15u);
  EXPECT_EQ(drops(DropReason::tx_full), 49u);
  EXPECT_EQ(verdict(Verdict::pass), 15u);
  EXPECT_EQ(drops(DropReason::pass_full), 5u);
  EXPECT_EQ(verdict(Verdict::drop), 54u);
  EXPECT_EQ(c.tx_packets, 30u);
  EXPECT_EQ(c.rx_packets, verdict(Verdict::forward) + verdict(Verdict::reply) +
                              verdict(Verdict::pass) + verdict(Verdict::drop));
  // The refused mbufs went back to the pool: only the 30 in the rings are out.
  EXPECT_EQ(rte_mempool_in_use_count(pool()), 30u) << "refused packets leaked";
}

}  // namespace
}  // namespace sluice::dataplane

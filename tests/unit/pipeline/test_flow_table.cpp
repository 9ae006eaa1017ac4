#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <vector>

#include "pipeline/flow_table.hpp"
#include "sluice/lb/flow_hash.hpp"
#include "sluice/net/builder.hpp"

namespace sluice::pipeline {
namespace {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

// A table over plain zeroed memory: the table itself never allocates.
class FlowTableTest : public ::testing::Test {
 protected:
  void make(std::uint32_t entries) {
    const std::size_t bytes = FlowTable::bytes_for(entries);
    memory_.reset(std::aligned_alloc(kFlowTableAlignment, bytes));
    std::memset(memory_.get(), 0, bytes);
    table_ = FlowTable(memory_.get(), entries);
  }

  static FlowKey key(std::uint16_t src_port, std::uint32_t client = 0xC6120201) {
    FlowKey k;
    const IpAddress src = IpAddress::from_v4(client);
    const IpAddress dst = IpAddress::from_v4(0xC612000A);
    k.src_addr = src.bytes;
    k.dst_addr = dst.bytes;
    k.src_port = src_port;
    k.dst_port = 80;
    k.protocol = 6;
    return k;
  }

  // Inserts at time `now` (0: nothing has expired) and pins the entry to `backend`.
  FlowRef add(const FlowKey& k, std::uint32_t deadline, BackendId backend,
              Displaced* displaced = nullptr, FlowState state = FlowState::established,
              std::uint32_t now = 0, Eviction eviction = Eviction::any) {
    Displaced d;
    FlowRef ref = table_.insert(k, lb::flow_hash_5tuple(k), deadline, now, eviction, d);
    if (ref) {
      ref.binding->backend = backend;
      ref.binding->set_state(state);
    }
    if (displaced != nullptr) *displaced = d;
    return ref;
  }

  std::unique_ptr<void, FreeDeleter> memory_;
  FlowTable table_;
};

TEST(FlowTableLayout, AHitReadsTwoCacheLines) {
  EXPECT_EQ(sizeof(FlowBucket), 64u);
  EXPECT_EQ(sizeof(FlowBinding) * kFlowBucketWays, 64u);
  EXPECT_EQ(sizeof(FlowColdEntry), 48u);
}

TEST(FlowTableLayout, CapacityRoundsUpToPowerOfTwo) {
  EXPECT_EQ(FlowTable::capacity_for(1000), 1024u);
  EXPECT_EQ(FlowTable::capacity_for(1u << 20), 1u << 20);
  EXPECT_EQ(FlowTable::capacity_for(1), kFlowBucketWays);
  EXPECT_EQ(FlowTable::bytes_for(1024), 1024u / 8 * 64 + 1024u * 8 + 1024u * 48);
}

TEST_F(FlowTableTest, FindsWhatWasInsertedAndNothingElse) {
  make(1024);
  const FlowKey a = key(1000);
  add(a, 100, 7);
  const FlowRef hit = table_.find(a, lb::flow_hash_5tuple(a), 50);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit.binding->backend, 7);
  EXPECT_EQ(*hit.deadline, 100u);
  const FlowKey b = key(1001);
  EXPECT_FALSE(table_.find(b, lb::flow_hash_5tuple(b), 50));
  // Same hash but another key (a forged signature) is not a hit: the keyed check differs.
  EXPECT_FALSE(table_.find(b, lb::flow_hash_5tuple(a), 50));
}

TEST_F(FlowTableTest, KeysWithTheSameSignatureAreToldApart) {
  make(8);  // one bucket: every key lands in it
  const std::uint32_t forged = 0x12345678;
  for (std::uint16_t i = 0; i < kFlowBucketWays; ++i) {
    Displaced d;
    table_.insert(key(i), forged, 100, 0, Eviction::any, d).binding->backend = i;
  }
  for (std::uint16_t i = 0; i < kFlowBucketWays; ++i) {
    const FlowRef hit = table_.find(key(i), forged, 50);
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit.binding->backend, i);
    EXPECT_EQ(hit.cold->key, key(i));
  }
  EXPECT_FALSE(table_.find(key(kFlowBucketWays), forged, 50));
}

TEST(FlowKeyCheck, DependsOnEveryFieldAndTheSecret) {
  FlowKey k;
  k.src_addr[0] = 198;
  k.dst_addr[15] = 7;
  k.src_port = 1000;
  k.dst_port = 80;
  k.protocol = 6;
  const std::uint32_t base = flow_key_check(k, 1);
  EXPECT_EQ(base & 1u, 0u);  // bit 0 holds the flow state
  EXPECT_NE(flow_key_check(k, 2), base);
  FlowKey other = k;
  other.src_port = 1001;
  EXPECT_NE(flow_key_check(other, 1), base);
  other = k;
  other.dst_addr[15] = 8;
  EXPECT_NE(flow_key_check(other, 1), base);
  other = k;
  other.protocol = 17;
  EXPECT_NE(flow_key_check(other, 1), base);
}

TEST_F(FlowTableTest, StateLivesNextToTheCheck) {
  make(64);
  Displaced d;
  const FlowRef ref = table_.insert(key(1), lb::flow_hash_5tuple(key(1)), 100, 0, Eviction::any, d);
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref.binding->state(), FlowState::open) << "a new entry starts open";
  ref.binding->backend = 3;
  ref.binding->set_state(FlowState::closing);
  const FlowRef hit = table_.find(key(1), lb::flow_hash_5tuple(key(1)), 50);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit.binding->state(), FlowState::closing);
  FlowEntry e;
  ASSERT_TRUE(table_.peek(key(1), lb::flow_hash_5tuple(key(1)), 50, e));
  EXPECT_EQ(e.state, FlowState::closing);
  EXPECT_EQ(e.backend, 3);
}

TEST_F(FlowTableTest, EntryExpiresAfterItsDeadline) {
  make(1024);
  const FlowKey a = key(1000);
  add(a, 100, 1);
  const std::uint32_t h = lb::flow_hash_5tuple(a);
  EXPECT_TRUE(table_.find(a, h, 100));
  EXPECT_FALSE(table_.find(a, h, 101));
  EXPECT_EQ(table_.count_live(100), 1u);
  EXPECT_EQ(table_.count_live(101), 0u);
}

TEST_F(FlowTableTest, FullBucketEvictsTheNearestDeadline) {
  make(8);  // one bucket
  ASSERT_EQ(table_.bucket_count(), 1u);
  for (std::uint16_t i = 0; i < kFlowBucketWays; ++i) {
    add(key(i), 1000 + i, static_cast<BackendId>(i));
  }
  EXPECT_EQ(table_.count_live(0), kFlowBucketWays);
  Displaced d;
  add(key(99), 2000, 99, &d);
  EXPECT_TRUE(d.any);
  EXPECT_EQ(d.backend, 0);  // deadline 1000 was the nearest
  EXPECT_EQ(d.deadline, 1000u);
  EXPECT_FALSE(table_.find(key(0), lb::flow_hash_5tuple(key(0)), 0));
  EXPECT_TRUE(table_.find(key(1), lb::flow_hash_5tuple(key(1)), 0));
  EXPECT_TRUE(table_.find(key(99), lb::flow_hash_5tuple(key(99)), 0));
  EXPECT_EQ(table_.count_live(0), kFlowBucketWays);
}

TEST_F(FlowTableTest, ExpiredSlotIsReusedBeforeEvictingLiveOnes) {
  make(8);
  for (std::uint16_t i = 0; i < kFlowBucketWays; ++i)
    add(key(i), i == 5 ? 10 : 1000, i);
  Displaced d;
  add(key(50), 2000, 50, &d, FlowState::open, 11);
  EXPECT_EQ(d.backend, 5);
  EXPECT_LT(d.deadline, 11u);
}

// SYN floods: open (and closing) entries go before any established one, and a bare SYN never
// takes an established entry's slot.
TEST_F(FlowTableTest, OpenEntriesAreEvictedBeforeEstablishedOnes) {
  make(8);  // one bucket
  for (std::uint16_t i = 0; i < kFlowBucketWays; ++i) {
    // The established entries' deadlines are the nearest: LRU alone would take one of them.
    const bool open = i == 3 || i == 6;
    add(key(i), open ? 2000 + i : 1000 + i, i, nullptr,
        open ? FlowState::open : FlowState::established);
  }
  Displaced d;
  ASSERT_TRUE(add(key(50), 3000, 50, &d, FlowState::open, 10, Eviction::spare_established));
  EXPECT_EQ(d.backend, 3) << "the open entry with the nearest deadline";
  EXPECT_EQ(d.state, FlowState::open);
  ASSERT_TRUE(add(key(51), 3000, 51, &d, FlowState::open, 10, Eviction::spare_established));
  EXPECT_EQ(d.backend, 6);
  ASSERT_TRUE(add(key(52), 3000, 52, &d, FlowState::open, 10, Eviction::spare_established));
  EXPECT_EQ(d.backend, 50) << "the open newcomers go next; the established ones stay";
}

TEST_F(FlowTableTest, ABareSynNeverTakesAnEstablishedSlot) {
  make(8);
  for (std::uint16_t i = 0; i < kFlowBucketWays; ++i)
    add(key(i), 1000 + i, i);  // established
  Displaced d;
  EXPECT_FALSE(add(key(60), 3000, 60, &d, FlowState::open, 10, Eviction::spare_established))
      << "a bucket of established entries only: the SYN goes without an entry";
  EXPECT_FALSE(d.any);
  EXPECT_EQ(table_.count_live(10), kFlowBucketWays);
  // A packet of a flow the client drives (an ACK without an entry) may take the LRU one.
  ASSERT_TRUE(add(key(61), 3000, 61, &d, FlowState::established, 10, Eviction::any));
  EXPECT_EQ(d.backend, 0);
  EXPECT_EQ(d.state, FlowState::established);
}

TEST_F(FlowTableTest, HoldsItsCapacityWithFewEvictions) {
  make(1u << 14);
  std::uint32_t evicted = 0;
  const std::uint32_t n = table_.capacity() * 3 / 4;
  for (std::uint32_t i = 0; i < n; ++i) {
    Displaced d;
    const FlowKey k = key(static_cast<std::uint16_t>(i), 0xC6130000 + (i >> 16));
    table_.insert(k, lb::flow_hash_5tuple(k), 100, 0, Eviction::any, d);
    if (d.any) ++evicted;
  }
  // 8-way buckets at 75% load: only a small fraction of buckets overflow.
  EXPECT_LT(evicted, n / 50);
  EXPECT_EQ(table_.count_live(0), n - evicted);
}

TEST_F(FlowTableTest, SweepClearsExpiredEntriesAndReportsThem) {
  make(64);
  add(key(1), 10, 1);
  add(key(2), 20, 2);
  add(key(3), 30, 3);
  std::vector<BackendId> expired;
  const std::uint32_t cleared = table_.expire(
      25, table_.bucket_count(), [&](const FlowEntry& e) { expired.push_back(e.backend); });
  EXPECT_EQ(cleared, 2u);
  std::sort(expired.begin(), expired.end());
  EXPECT_EQ(expired, (std::vector<BackendId>{1, 2}));
  EXPECT_EQ(table_.count_live(0), 1u);
}

TEST_F(FlowTableTest, PeekCopiesALiveEntry) {
  make(64);
  add(key(1), 10, 42);
  FlowEntry e;
  EXPECT_TRUE(table_.peek(key(1), lb::flow_hash_5tuple(key(1)), 10, e));
  EXPECT_EQ(e.backend, 42);
  EXPECT_FALSE(table_.peek(key(1), lb::flow_hash_5tuple(key(1)), 11, e));
}

}  // namespace
}  // namespace sluice::pipeline

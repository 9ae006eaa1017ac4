#include <gtest/gtest.h>

#include "pipeline/snapshot.hpp"
#include "sluice/net/builder.hpp"

namespace sluice::pipeline {
namespace {

using net::address;

config::Vip make_vip(const char* addr, std::uint16_t port, std::vector<const char*> backends,
                     std::vector<std::uint32_t> weights = {}) {
  config::Vip v;
  v.address = address(addr);
  v.port = port;
  v.maglev_table_size = 251;
  for (std::size_t i = 0; i < backends.size(); ++i) {
    config::Backend b;
    b.address = address(backends[i]);
    b.weight = weights.empty() ? 1 : weights[i];
    v.backends.push_back(b);
  }
  return v;
}

config::State make_state(std::vector<config::Vip> vips) {
  config::State s;
  s.generation = 1;
  s.dataplane.tunnel_source_v4 = address("198.18.0.1");
  s.dataplane.tunnel_source_v6 = address("2001:db8::1");
  s.vips = std::move(vips);
  return s;
}

BackendId id_of(const Snapshot& snap, std::size_t vip, const char* backend) {
  for (BackendId id : snap.vips[vip].backends) {
    if (snap.backends[id].address == address(backend)) return id;
  }
  return kNoBackendId;
}

TEST(Snapshot, BackendIdsAreStableAcrossSnapshots) {
  BackendRegistry registry;
  auto first = build_snapshot(
      make_state({make_vip("198.18.0.10", 80, {"198.18.1.1", "198.18.1.2", "198.18.1.3"})}),
      registry);
  ASSERT_TRUE(first.ok()) << first.error().message;
  const BackendId b2 = id_of(**first, 0, "198.18.1.2");
  const BackendId b3 = id_of(**first, 0, "198.18.1.3");

  // Reordered, one removed, one added, weights changed: survivors keep their ids.
  auto second = build_snapshot(
      make_state(
          {make_vip("198.18.0.10", 80, {"198.18.1.4", "198.18.1.3", "198.18.1.2"}, {1, 0, 7})}),
      registry);
  ASSERT_TRUE(second.ok()) << second.error().message;
  const Snapshot& s = **second;
  EXPECT_EQ(id_of(s, 0, "198.18.1.2"), b2);
  EXPECT_EQ(id_of(s, 0, "198.18.1.3"), b3);
  const BackendId b4 = id_of(s, 0, "198.18.1.4");
  EXPECT_NE(b4, id_of(**first, 0, "198.18.1.1")) << "a retired id must not be reused early";
  // The removed backend's slot is there but not present: its flows reschedule.
  const BackendId b1 = id_of(**first, 0, "198.18.1.1");
  ASSERT_NE(s.backend(b1), nullptr);
  EXPECT_FALSE(s.backend(b1)->present);
  // Drained: present, weight 0, no Maglev slots, not eligible.
  EXPECT_TRUE(s.backends[b3].present);
  EXPECT_EQ(s.backends[b3].weight, 0u);
  EXPECT_EQ(s.vips[0].eligible, (std::vector<BackendId>{b4, b2}));
  for (BackendId slot : s.vips[0].maglev)
    EXPECT_NE(slot, b3);
}

TEST(Snapshot, SameAddressUnderTwoVipsHasTwoIds) {
  BackendRegistry registry;
  auto snap = build_snapshot(make_state({make_vip("198.18.0.10", 80, {"198.18.1.1"}),
                                         make_vip("198.18.0.10", 443, {"198.18.1.1"})}),
                             registry);
  ASSERT_TRUE(snap.ok());
  EXPECT_NE(id_of(**snap, 0, "198.18.1.1"), id_of(**snap, 1, "198.18.1.1"));
}

TEST(Snapshot, FailureLeavesTheRegistryUntouched) {
  BackendRegistry registry;
  auto first = build_snapshot(make_state({make_vip("198.18.0.10", 80, {"198.18.1.1"})}), registry);
  ASSERT_TRUE(first.ok());
  config::State bad = make_state({make_vip("198.18.0.10", 80, {"2001:db8:1::1"})});
  bad.dataplane.tunnel_source_v6.reset();
  auto failed = build_snapshot(bad, registry);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("tunnel_source_v6"), std::string::npos)
      << failed.error().message;
  auto again = build_snapshot(make_state({make_vip("198.18.0.10", 80, {"198.18.1.1"})}), registry);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(id_of(**again, 0, "198.18.1.1"), id_of(**first, 0, "198.18.1.1"));
}

TEST(IdAllocator, RecyclesTheOldestRetiredIdWithANewIncarnation) {
  IdAllocator<int> ids(2);
  EXPECT_EQ(ids.acquire(10)->id, 0);
  EXPECT_EQ(ids.acquire(11)->id, 1);
  EXPECT_FALSE(ids.acquire(12).has_value());  // full
  ids.retire_all_except({11});
  const auto recycled = ids.acquire(12);
  ASSERT_TRUE(recycled.has_value());
  EXPECT_EQ(recycled->id, 0);
  EXPECT_EQ(recycled->incarnation, 1);
  EXPECT_EQ(ids.acquire(11)->id, 1);
}

TEST(Classify, ExactPortThenAnyPortAndAddressQueries) {
  BackendRegistry registry;
  auto built = build_snapshot(make_state({make_vip("198.18.0.10", 80, {"198.18.1.1"}),
                                          make_vip("198.18.0.10", 443, {"198.18.1.1"}),
                                          make_vip("198.18.0.11", 0, {"198.18.1.1"}),
                                          make_vip("2001:db8::10", 80, {"198.18.1.1"})}),
                              registry);
  ASSERT_TRUE(built.ok()) << built.error().message;
  const ClassifyTable& c = (*built)->classify;
  FlowKey k;
  k.protocol = 6;
  k.dst_addr = address("198.18.0.10").bytes;
  k.dst_port = 443;
  EXPECT_EQ(c.lookup(k), 1);
  k.dst_port = 22;
  EXPECT_EQ(c.lookup(k), kNoVip);
  EXPECT_TRUE(c.is_vip_address(k));
  EXPECT_EQ(c.lookup_fragment(k), kAmbiguousFragmentVip);  // two port VIPs
  k.protocol = 17;
  k.dst_port = 80;
  EXPECT_EQ(c.lookup(k), kNoVip);           // protocol differs
  EXPECT_EQ(c.lookup_fragment(k), kNoVip);  // no UDP VIP on the address: none, not ambiguous
  k.protocol = 6;
  k.dst_addr = address("198.18.0.11").bytes;
  k.dst_port = 12345;
  EXPECT_EQ(c.lookup(k), 2);
  EXPECT_EQ(c.lookup_fragment(k), 2);
  k.dst_addr = address("198.18.0.12").bytes;
  EXPECT_FALSE(c.is_vip_address(k));
  k.family = AddressFamily::v6;
  k.dst_addr = address("2001:db8::10").bytes;
  k.dst_port = 80;
  EXPECT_EQ(c.lookup(k), 3);
  EXPECT_EQ(c.lookup_fragment(k), 3);  // the only VIP on the address
}

// The hot path's IPv4 table answers exactly what the general table answers.
TEST(Classify, Ipv4FastLookupAgreesWithTheGeneralTable) {
  BackendRegistry registry;
  std::vector<config::Vip> vips;
  for (int i = 0; i < 40; ++i) {
    const std::string address = "198.18.0." + std::to_string(10 + i % 20);
    vips.push_back(
        make_vip(address.c_str(), static_cast<std::uint16_t>(i < 20 ? 80 : 0), {"198.18.1.1"}));
  }
  vips.push_back(make_vip("2001:db8::10", 80, {"198.18.1.1"}));
  auto built = build_snapshot(make_state(vips), registry);
  ASSERT_TRUE(built.ok()) << built.error().message;
  const ClassifyTable& c = (*built)->classify;
  int found = 0;
  for (int host = 0; host < 40; ++host) {
    for (const std::uint8_t protocol : {6, 17}) {
      for (const std::uint16_t port : {0, 22, 80, 443}) {
        FlowKey k;
        k.protocol = protocol;
        k.dst_addr = address("198.18.0." + std::to_string(host)).bytes;
        k.dst_port = port;
        EXPECT_EQ(c.lookup_v4(k), c.lookup(k)) << host << "/" << int{protocol} << ":" << port;
        found += c.lookup_v4(k) != kNoVip ? 1 : 0;
      }
    }
  }
  EXPECT_GT(found, 40);  // exact-port and any-port VIPs both answer
}

// VIP i of `count`, each with `per_vip` backends on its own /24 (addresses from strings that
// outlive the call).
config::State many_vips(std::size_t count, std::size_t per_vip) {
  std::vector<config::Vip> vips;
  for (std::size_t i = 0; i < count; ++i) {
    config::Vip v;
    v.address =
        address(("10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".1").c_str());
    v.port = 80;
    v.maglev_table_size = 251;
    for (std::size_t k = 0; k < per_vip; ++k) {
      config::Backend b;
      b.address = address(("10." + std::to_string(128 + i / 256) + "." + std::to_string(i % 256) +
                           "." + std::to_string(k + 1))
                              .c_str());
      v.backends.push_back(b);
    }
    vips.push_back(v);
  }
  return make_state(vips);
}

// Builds `next` twice from the same registry state: once lending `previous`'s tables, once from
// scratch; every VIP's table must be the same. Returns the tables reused.
std::size_t expect_same_tables(const config::State& next, BackendRegistry& registry,
                               const Snapshot& previous) {
  BackendRegistry fresh_registry = registry;
  auto reused = build_snapshot(next, registry, &previous);
  auto fresh = build_snapshot(next, fresh_registry);
  EXPECT_TRUE(reused.ok() && fresh.ok());
  if (!reused.ok() || !fresh.ok()) return 0;
  EXPECT_EQ((*fresh)->maglev_tables_reused, 0u);
  for (std::size_t v = 0; v < next.vips.size(); ++v) {
    EXPECT_EQ((*reused)->vips[v].maglev, (*fresh)->vips[v].maglev) << "vips[" << v << "]";
  }
  return (*reused)->maglev_tables_reused;
}

TEST(Snapshot, UnchangedMaglevTablesAreTakenFromThePreviousSnapshot) {
  BackendRegistry registry;
  config::State s = many_vips(50, 4);
  auto first = build_snapshot(s, registry);
  ASSERT_TRUE(first.ok()) << first.error().message;

  s.generation = 2;  // a resync: everything reused
  EXPECT_EQ(expect_same_tables(s, registry, **first), 50u);

  config::State changed = s;
  changed.vips[3].backends[1].weight = 5;                                 // weight
  changed.vips[7].backends.pop_back();                                    // a backend gone
  changed.vips[9].maglev_table_size = 1021;                               // table size
  changed.vips[11].backends[0].drained = true;                            // drained: weight 0
  std::swap(changed.vips[13].backends[0], changed.vips[13].backends[1]);  // order
  EXPECT_EQ(expect_same_tables(changed, registry, **first), 45u);
}

TEST(Snapshot, ARecycledBackendIdIsNeverMistakenForTheOldBackend) {
  // Every id in use: a backend replaced by another gets the id just retired, with a new
  // incarnation. Same ids in the same order, another backend: the table must be rebuilt.
  BackendRegistry registry;
  config::State s = many_vips(kMaxVips, kMaxBackends / kMaxVips);
  auto first = build_snapshot(s, registry);
  ASSERT_TRUE(first.ok()) << first.error().message;
  const BackendId old_id = (*first)->vips[7].backends[2];
  s.vips[7].backends[2].address = address("10.200.0.7");
  BackendRegistry probe = registry;
  auto probed = build_snapshot(s, probe);
  ASSERT_TRUE(probed.ok());
  ASSERT_EQ((*probed)->vips[7].backends[2], old_id) << "the test needs the id recycled";
  EXPECT_EQ(expect_same_tables(s, registry, **first), kMaxVips - 1);
}

// Second chance: the per-slot previous owner is exactly the old table's owner where it differs
// from the new one (both tables built independently, by ordinary snapshots).
TEST(Snapshot, SecondHopNamesThePreviousOwnerOfEveryMovedSlot) {
  const std::vector<const char*> addresses = {"198.18.1.1", "198.18.1.2", "198.18.1.3"};
  config::Vip before = make_vip("198.18.0.10", 80, addresses, {1, 1, 1});
  before.encap = config::Encap::gue;
  config::Vip after = make_vip("198.18.0.10", 80, addresses, {3, 1, 1});
  after.encap = config::Encap::gue;
  after.previous = config::PreviousBackends{
      1,
      0,
      1,
      {{address("198.18.1.1"), 1}, {address("198.18.1.2"), 1}, {address("198.18.1.3"), 1}}};

  BackendRegistry registry;
  auto old_snap = build_snapshot(make_state({before}), registry);
  ASSERT_TRUE(old_snap.ok()) << old_snap.error().message;
  auto new_snap = build_snapshot(make_state({after}), registry);
  ASSERT_TRUE(new_snap.ok()) << new_snap.error().message;
  const VipEntry& was = (*old_snap)->vips[0];
  const VipEntry& now = (*new_snap)->vips[0];
  ASSERT_TRUE(now.second_chance);
  ASSERT_EQ(now.second_hop.size(), now.maglev.size());
  std::uint32_t moved = 0;
  for (std::size_t s = 0; s < now.maglev.size(); ++s) {
    const bool differs = was.maglev[s] != now.maglev[s];
    moved += differs ? 1 : 0;
    EXPECT_EQ(now.second_hop[s], differs ? was.maglev[s] : kNoBackendId) << "slot " << s;
  }
  EXPECT_EQ(now.second_hop_slots, moved);
  EXPECT_GT(moved, now.maglev.size() / 10);  // 1:1:1 -> 3:1:1 moves about a third

  // Off, or no previous block: no table at all.
  after.second_chance = false;
  auto off = build_snapshot(make_state({after}), registry);
  ASSERT_TRUE(off.ok());
  EXPECT_TRUE((*off)->vips[0].second_hop.empty());
  after.second_chance.reset();
  after.previous.reset();
  auto none = build_snapshot(make_state({after}), registry);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE((*none)->vips[0].second_hop.empty());
}

}  // namespace
}  // namespace sluice::pipeline

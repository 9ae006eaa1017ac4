// Per-lcore connection tracking: fixed memory in three parallel arrays, indexed by slot
// (bucket * 8 + way). Time is in whole seconds (uint32_t).
//
//   buckets   64 B per bucket: 8 signatures (the 5-tuple CRC32C hash) and 8 deadlines
//   bindings  8 B per slot: a second, keyed 31-bit hash of the key, the state, the backend id
//             and its incarnation; the 8 bindings of a bucket are one cache line
//   cold      48 B per slot: the full key and the VIP id, written on insert and read only on
//             insert/eviction, expiry, reschedule and explain()
//
// The hit path touches two lines whose addresses come from the hash alone (the bucket and its
// bindings line), so both are prefetched while the burst is parsed, with no dependent load.
// A hit is a match of the 32-bit CRC32C and of the 31-bit keyed check: two live flows of one
// bucket would have to agree on 63 - log2(buckets) bits (>= 40 for tables up to 64M entries),
// and the check's key is secret per table, so colliding flows cannot be crafted either.
//
// Expiry: each slot stores its deadline (last packet + the flow's timeout; 0 = empty). An
// entry past its deadline is treated as absent and its slot is reused. When a bucket has no
// free or expired slot, the entry with the nearest deadline is evicted (LRU-ish: the least
// recently refreshed flow of its class).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "pipeline/limits.hpp"
#include "sluice/flow_key.hpp"

namespace sluice::pipeline {

inline constexpr std::uint32_t kFlowBucketWays = 8;

struct alignas(64) FlowBucket {
  std::uint32_t signature[kFlowBucketWays];  // the 5-tuple hash
  std::uint32_t deadline[kFlowBucketWays];   // seconds; 0: empty
};
static_assert(sizeof(FlowBucket) == 64, "a bucket is one cache line");

enum class FlowState : std::uint8_t { open = 0, closing = 1 };  // closing: FIN or RST seen

// The hot part of an entry: everything a hit needs.
struct FlowBinding {
  std::uint32_t check = 0;  // key check (bit 0 cleared) | state (bit 0: closing)
  BackendId backend = kNoBackendId;
  std::uint16_t incarnation = 0;

  [[nodiscard]] FlowState state() const { return static_cast<FlowState>(check & 1u); }
  void set_state(FlowState s) { check = (check & ~1u) | static_cast<std::uint32_t>(s); }
  [[nodiscard]] bool matches(std::uint32_t key_check) const {
    return ((check ^ key_check) & ~1u) == 0;
  }
};
static_assert(sizeof(FlowBinding) == 8, "8 bindings share the bucket's bindings line");

// The cold part: only for inserts, eviction, expiry, reschedule and explain().
struct FlowColdEntry {
  FlowKey key;
  VipId vip = kNoVipId;
  std::uint8_t reserved[6] = {};
};
static_assert(sizeof(FlowColdEntry) == 48);

// A whole entry, by value (expiry callbacks, explain()).
struct FlowEntry {
  FlowKey key;
  BackendId backend = kNoBackendId;
  std::uint16_t incarnation = 0;
  VipId vip = kNoVipId;
  FlowState state = FlowState::open;
};

// A found or inserted entry: its binding, its cold part and the slot that holds its deadline.
struct FlowRef {
  FlowBinding* binding = nullptr;
  FlowColdEntry* cold = nullptr;
  std::uint32_t* deadline = nullptr;
  [[nodiscard]] explicit operator bool() const { return binding != nullptr; }
};

// What an insert displaced, so the caller can fix the per-backend active-flow gauges.
struct Displaced {
  bool any = false;            // an entry (expired or live) was overwritten
  std::uint32_t deadline = 0;  // its deadline: before now means it had expired, else evicted
  BackendId backend = kNoBackendId;
  VipId vip = kNoVipId;
};

// The binding's check: a keyed multiply-mix of the key's 40 bytes, independent of the CRC32C
// that picks the bucket. Products of independent words, so it costs a few cycles of latency.
[[nodiscard]] inline std::uint32_t flow_key_check(const FlowKey& key, std::uint64_t secret) {
  std::uint64_t w[5];
  static_assert(sizeof(w) == sizeof(FlowKey));
  std::memcpy(w, &key, sizeof(w));
  const auto mul = [](std::uint64_t a, std::uint64_t b) {
    const unsigned __int128 p = static_cast<unsigned __int128>(a) * b;
    return static_cast<std::uint64_t>(p) ^ static_cast<std::uint64_t>(p >> 64);
  };
  const std::uint64_t h = mul(w[0] ^ secret, w[1] ^ 0x9E3779B97F4A7C15ull) +
                          mul(w[2] ^ (secret * 3), w[3] ^ 0xBF58476D1CE4E5B9ull) +
                          mul(w[4] ^ (secret * 5), 0x94D049BB133111EBull);
  return static_cast<std::uint32_t>(h ^ (h >> 32)) & ~1u;
}

class FlowTable {
 public:
  // Bytes of 64-byte-aligned, zeroed memory that a table of at least `entries` needs
  // (entries round up to a power of two, at least 8).
  [[nodiscard]] static std::size_t bytes_for(std::uint32_t entries);
  [[nodiscard]] static std::uint32_t capacity_for(std::uint32_t entries);

  FlowTable() = default;
  // `memory`: bytes_for(entries) bytes, 64-byte aligned, zeroed; not owned. `check_secret`
  // keys the bindings' check hash (random per table in the dataplane).
  FlowTable(void* memory, std::uint32_t entries, std::uint64_t check_secret = 0x5EED5EED5EEDull);

  [[nodiscard]] std::uint32_t capacity() const { return bucket_count_ * kFlowBucketWays; }
  [[nodiscard]] std::uint32_t bucket_count() const { return bucket_count_; }

  // Both lines a lookup reads; their addresses depend on the hash only.
  void prefetch(std::uint32_t hash) const {
    const std::uint64_t b = bucket_index(hash);
    __builtin_prefetch(&buckets_[b], 1, 3);
    __builtin_prefetch(&bindings_[b * kFlowBucketWays], 1, 3);
  }
  // Like prefetch(), with real loads: a software prefetch that misses the TLB may be dropped
  // (it is in the lab VM, with nested paging); a load is not. Independent loads overlap out of
  // order; the caller keeps the returned value alive (and otherwise ignores it).
  [[nodiscard]] std::uint32_t touch(std::uint32_t hash) const {
    const std::uint64_t b = bucket_index(hash);
    return buckets_[b].deadline[0] + bindings_[b * kFlowBucketWays].check;
  }
  [[nodiscard]] std::uint32_t key_check(const FlowKey& key) const {
    return flow_key_check(key, check_secret_);
  }

  // The live entry for `key` (deadline >= now), or an empty ref.
  [[nodiscard]] FlowRef find(const FlowKey& key, std::uint32_t hash, std::uint32_t now) const;
  // A slot for a new entry of `key`: a free slot, else an expired one, else the one with the
  // nearest deadline. The key and check are set, backend/VIP reset, state open, `deadline` set.
  FlowRef insert(const FlowKey& key, std::uint32_t hash, std::uint32_t deadline,
                 Displaced& displaced);
  // Frees the slot (the caller has adjusted its counters).
  static void erase(FlowRef ref) { *ref.deadline = 0; }

  // Visits up to `max_buckets` buckets from an internal cursor and clears expired slots,
  // calling on_expired(const FlowEntry&) for each. Returns the number cleared.
  template <typename OnExpired>
  std::uint32_t expire(std::uint32_t now, std::uint32_t max_buckets, OnExpired&& on_expired) {
    std::uint32_t cleared = 0;
    for (std::uint32_t i = 0; i < max_buckets && bucket_count_ != 0; ++i) {
      const std::uint32_t b = sweep_cursor_;
      sweep_cursor_ = (sweep_cursor_ + 1) & (bucket_count_ - 1);
      FlowBucket& bucket = buckets_[b];
      for (std::uint32_t w = 0; w < kFlowBucketWays; ++w) {
        if (bucket.deadline[w] != 0 && bucket.deadline[w] < now) {
          on_expired(entry_at(b * kFlowBucketWays + w));
          bucket.deadline[w] = 0;
          ++cleared;
        }
      }
    }
    return cleared;
  }

  // Read-only lookup for explain(), from another thread: copies the entry and re-checks the
  // key and signature, so a concurrent update yields "not found" rather than a torn answer.
  [[nodiscard]] bool peek(const FlowKey& key, std::uint32_t hash, std::uint32_t now,
                          FlowEntry& out) const;

  // Number of live entries (walks the whole table: tests and diagnostics only).
  [[nodiscard]] std::uint32_t count_live(std::uint32_t now) const;

 private:
  [[nodiscard]] std::uint64_t bucket_index(std::uint32_t hash) const {
    return static_cast<std::uint64_t>(hash) >> bucket_shift_;
  }
  [[nodiscard]] FlowEntry entry_at(std::uint32_t slot) const {
    const FlowBinding& b = bindings_[slot];
    const FlowColdEntry& c = cold_[slot];
    return FlowEntry{c.key, b.backend, b.incarnation, c.vip, b.state()};
  }

  FlowBucket* buckets_ = nullptr;
  FlowBinding* bindings_ = nullptr;
  FlowColdEntry* cold_ = nullptr;
  std::uint64_t check_secret_ = 0;
  std::uint32_t bucket_count_ = 0;
  std::uint32_t bucket_shift_ = 32;  // bucket = hash >> shift (high bits; Maglev uses % size)
  std::uint32_t sweep_cursor_ = 0;
};

}  // namespace sluice::pipeline

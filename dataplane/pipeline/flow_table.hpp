// Per-lcore connection tracking: fixed memory holding an array of bucket pairs followed by a cold
// array, indexed by slot (bucket * 8 + way). Time is in whole seconds (uint32_t).
//
//   bucket pairs  128 B per bucket, 128-byte aligned, two cache lines:
//                 the bucket line: 8 signatures (the 5-tuple CRC32C hash) and 8 deadlines;
//                 the bindings line: per slot 8 B, a second, keyed 29-bit hash of the key, the
//                 second-hop flag, the state, the backend id and its incarnation
//   cold          48 B per slot: the full key, the VIP id, the second hop and the time the
//                 entry was opened (16-bit milliseconds), written on insert
//                 and read only on insert/eviction, expiry, reschedule, explain() and for the
//                 packets of a flow adopted with a second hop (docs/second-chance.md)
//
// The hit path touches two lines whose addresses come from the hash alone (the bucket and its
// bindings line), so both are prefetched while the burst is parsed, with no dependent load.
// A hit is a match of the 32-bit CRC32C and of the 29-bit keyed check: two live flows of one
// bucket would have to agree on 61 - log2(buckets) bits (>= 38 for tables up to 64M entries),
// and the check's key is secret per table, so colliding flows cannot be crafted either.
//
// Expiry: each slot stores its deadline (last packet + the flow's timeout; 0 = empty). An
// entry past its deadline is treated as absent and its slot is reused. When a bucket has no
// free or expired slot, an entry that has not proven a connection (open, or closing) with the
// nearest deadline is evicted first; an established entry only when the whole bucket is
// established, and never for a bare SYN (Eviction::spare_established): a flood of spoofed
// SYNs, whose entries stay open, cannot push out established connections.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <bit>

#include <emmintrin.h>

#include "pipeline/limits.hpp"
#include "sluice/flow_key.hpp"

namespace sluice::pipeline {

inline constexpr std::uint32_t kFlowBucketWays = 8;
inline constexpr std::size_t kFlowTableAlignment = 128;  // a bucket pair

struct alignas(64) FlowBucket {
  std::uint32_t signature[kFlowBucketWays];  // the 5-tuple hash
  std::uint32_t deadline[kFlowBucketWays];   // seconds; 0: empty
};
static_assert(sizeof(FlowBucket) == 64, "a bucket is one cache line");

// TCP progress as the client's packets show it (UDP entries stay `open`).
enum class FlowState : std::uint8_t {
  open = 0,         // no ACK from the client yet: a SYN here is a retransmission
  closing = 1,      // FIN or RST seen
  established = 2,  // the client has ACKed: a SYN here starts a new connection
};

inline constexpr std::uint32_t kFlowStateMask = 3u;      // check bits 0..1
inline constexpr std::uint32_t kFlowSecondHopFlag = 4u;  // check bit 2: the cold part has a hop
inline constexpr std::uint32_t kFlowCheckMask = ~7u;     // check bits 3..31: the key check

// The hot part of an entry: everything a hit needs (and, in one bit, whether it must read the
// cold part for a second hop).
struct FlowBinding {
  std::uint32_t check = 0;  // key check (bits 3..31) | second hop (bit 2) | state (bits 0..1)
  BackendId backend = kNoBackendId;
  std::uint16_t incarnation = 0;

  [[nodiscard]] FlowState state() const { return static_cast<FlowState>(check & kFlowStateMask); }
  void set_state(FlowState s) { check = (check & ~kFlowStateMask) | static_cast<std::uint32_t>(s); }
  [[nodiscard]] bool has_second_hop() const { return (check & kFlowSecondHopFlag) != 0; }
  void set_second_hop(bool on) {
    check = on ? (check | kFlowSecondHopFlag) : (check & ~kFlowSecondHopFlag);
  }
  [[nodiscard]] bool matches(std::uint32_t key_check) const {
    return ((check ^ key_check) & kFlowCheckMask) == 0;
  }
};
static_assert(sizeof(FlowBinding) == 8, "8 bindings share the bucket's bindings line");

// A bucket and its bindings side by side: both lines on one page, so a lookup costs at most
// one TLB miss and one page walk (pass 1 still prefetches both lines).
struct alignas(128) FlowBucketPair {
  FlowBucket bucket;
  FlowBinding bindings[kFlowBucketWays];
};
static_assert(sizeof(FlowBucketPair) == 128);

// The cold part: only for inserts, eviction, expiry, reschedule and explain().
struct FlowColdEntry {
  FlowKey key;
  VipId vip = kNoVipId;
  // Valid while the binding's second-hop flag is set: the flow's previous owner (stable id and
  // incarnation), named in each of its packets.
  BackendId second_hop = kNoBackendId;
  std::uint16_t second_hop_incarnation = 0;
  // When the entry was opened (its client's first SYN): the worker's clock in milliseconds,
  // modulo 65536. Written on insert and on a new connection, read once, when the entry turns
  // established (the handshake time; docs/dataplane.md).
  std::uint16_t opened_ms = 0;
};
static_assert(sizeof(FlowColdEntry) == 48);

// A whole entry, by value (expiry callbacks, explain()).
struct FlowEntry {
  FlowKey key;
  BackendId backend = kNoBackendId;
  std::uint16_t incarnation = 0;
  VipId vip = kNoVipId;
  FlowState state = FlowState::open;
  BackendId second_hop = kNoBackendId;  // kNoBackendId: none
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
  FlowState state = FlowState::open;
  std::uint8_t protocol = 0;  // its key's
};

// Whether an insert may take the slot of an established entry.
enum class Eviction : std::uint8_t {
  spare_established,  // a bare SYN: it has proven nothing yet
  any,                // a packet of a flow the client drives (an ACK, UDP): LRU as a last resort
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
  return static_cast<std::uint32_t>(h ^ (h >> 32)) & kFlowCheckMask;
}

// Bit w set when signature[w] == hash: two 4-lane compares instead of 8 branches.
[[nodiscard]] inline std::uint32_t signature_matches(const FlowBucket& bucket, std::uint32_t hash) {
  const __m128i h = _mm_set1_epi32(static_cast<int>(hash));
  const __m128i lo = _mm_load_si128(reinterpret_cast<const __m128i*>(&bucket.signature[0]));
  const __m128i hi = _mm_load_si128(reinterpret_cast<const __m128i*>(&bucket.signature[4]));
  const int m_lo = _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(lo, h)));
  const int m_hi = _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(hi, h)));
  return static_cast<std::uint32_t>(m_lo | (m_hi << 4));
}

class FlowTable {
 public:
  // Bytes of kFlowTableAlignment-aligned (128-byte), zeroed memory that a table of at least
  // `entries` needs (entries round up to a power of two, at least 8).
  [[nodiscard]] static std::size_t bytes_for(std::uint32_t entries);
  [[nodiscard]] static std::uint32_t capacity_for(std::uint32_t entries);

  FlowTable() = default;
  // `memory`: bytes_for(entries) bytes, kFlowTableAlignment-aligned, zeroed; not owned.
  // `check_secret` keys the bindings' check hash (random per table in the dataplane).
  FlowTable(void* memory, std::uint32_t entries, std::uint64_t check_secret = 0x5EED5EED5EEDull);

  [[nodiscard]] std::uint32_t capacity() const { return bucket_count_ * kFlowBucketWays; }
  [[nodiscard]] std::uint32_t bucket_count() const { return bucket_count_; }

  // Both lines a lookup reads; their addresses depend on the hash only.
  void prefetch(std::uint32_t hash) const {
    const std::uint64_t b = bucket_index(hash);
    __builtin_prefetch(&pairs_[b].bucket, 1, 3);
    __builtin_prefetch(&pairs_[b].bindings, 1, 3);
  }
  // Like prefetch(), with real loads: a software prefetch that misses the TLB may be dropped
  // (it is in the lab VM, with nested paging); a load is not. Independent loads overlap out of
  // order; the caller keeps the returned value alive (and otherwise ignores it).
  [[nodiscard]] std::uint32_t touch(std::uint32_t hash) const {
    const std::uint64_t b = bucket_index(hash);
    return pairs_[b].bucket.deadline[0] + pairs_[b].bindings[0].check;
  }
  // Second chance: starts fetching the cold part of every entry of the hash's bucket that has a
  // second hop and the same signature (a hit on such an entry reads it). Reads the bucket's two
  // lines, so call it once they are on their way (after touch()).
  void prefetch_second_hop(std::uint32_t hash) const {
    const std::uint64_t b = bucket_index(hash);
    for (std::uint32_t matches = signature_matches(pairs_[b].bucket, hash); matches != 0;
         matches &= matches - 1) {
      const auto w = static_cast<std::uint32_t>(std::countr_zero(matches));
      if (pairs_[b].bindings[w].has_second_hop()) {
        __builtin_prefetch(&cold_[b * kFlowBucketWays + w], 0, 3);
      }
    }
  }
  [[nodiscard]] std::uint32_t key_check(const FlowKey& key) const {
    return flow_key_check(key, check_secret_);
  }

  // The live entry for `key` (deadline >= now), or an empty ref. Inline: once per packet.
  [[nodiscard]] FlowRef find(const FlowKey& key, std::uint32_t hash, std::uint32_t now) const {
    const std::uint64_t b = bucket_index(hash);
    FlowBucket* bucket = &pairs_[b].bucket;
    FlowBinding* bindings = pairs_[b].bindings;
    const std::uint32_t check = key_check(key);
    for (std::uint32_t matches = signature_matches(*bucket, hash); matches != 0;
         matches &= matches - 1) {
      const auto w = static_cast<std::uint32_t>(std::countr_zero(matches));
      if (bucket->deadline[w] < now || bucket->deadline[w] == 0) continue;
      if (bindings[w].matches(check)) {
        return FlowRef{&bindings[w], &cold_[b * kFlowBucketWays + w], &bucket->deadline[w]};
      }
    }
    return FlowRef{};
  }
  // A slot for a new entry of `key`, in this order: a free slot; an expired one (deadline before
  // `now`); the open or closing entry with the nearest deadline; with Eviction::any only, the
  // established entry with the nearest deadline. The key and check are set, backend/VIP reset,
  // state open, `deadline` set. Empty when no slot may be taken (a bucket of established
  // entries only, and a SYN): the caller forwards the packet without an entry.
  FlowRef insert(const FlowKey& key, std::uint32_t hash, std::uint32_t deadline, std::uint32_t now,
                 Eviction eviction, Displaced& displaced);
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
      FlowBucket& bucket = pairs_[b].bucket;
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

  // Calls fn(const FlowEntry&) for every occupied slot: live, or expired and not yet reclaimed
  // (such an entry still holds its backend's active-flow count). Tests and diagnostics only.
  template <typename Fn>
  void for_each_entry(Fn&& fn) const {
    for (std::uint32_t slot = 0; slot < capacity(); ++slot) {
      if (pairs_[slot / kFlowBucketWays].bucket.deadline[slot % kFlowBucketWays] != 0) {
        fn(entry_at(slot));
      }
    }
  }

 private:
  [[nodiscard]] std::uint64_t bucket_index(std::uint32_t hash) const {
    return static_cast<std::uint64_t>(hash) >> bucket_shift_;
  }
  [[nodiscard]] FlowEntry entry_at(std::uint32_t slot) const {
    const FlowBinding& b = pairs_[slot / kFlowBucketWays].bindings[slot % kFlowBucketWays];
    const FlowColdEntry& c = cold_[slot];
    return FlowEntry{c.key, b.backend, b.incarnation,
                     c.vip, b.state(), b.has_second_hop() ? c.second_hop : kNoBackendId};
  }

  FlowBucketPair* pairs_ = nullptr;
  FlowColdEntry* cold_ = nullptr;
  std::uint64_t check_secret_ = 0;
  std::uint32_t bucket_count_ = 0;
  std::uint32_t bucket_shift_ = 32;  // bucket = hash >> shift (high bits; Maglev uses % size)
  std::uint32_t sweep_cursor_ = 0;
};

}  // namespace sluice::pipeline

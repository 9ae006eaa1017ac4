// Per-lcore connection tracking: fixed memory, 8-way 64-byte buckets of signatures and
// deadlines, entries (full key + backend) in a parallel array. A lookup touches one bucket line
// and, on a signature match, one entry line. Time is in whole seconds (uint32_t).
//
// Expiry: each slot stores its deadline (last packet + the flow's timeout; 0 = empty). An
// entry past its deadline is treated as absent and its slot is reused. When a bucket has no
// free or expired slot, the entry with the nearest deadline is evicted (LRU-ish: the least
// recently refreshed flow of its class).
#pragma once

#include <cstddef>
#include <cstdint>

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

struct alignas(64) FlowEntry {
  FlowKey key;
  BackendId backend = kNoBackendId;
  std::uint16_t incarnation = 0;
  VipId vip = kNoVipId;
  FlowState state = FlowState::open;
  std::uint8_t reserved = 0;
};
static_assert(sizeof(FlowEntry) == 64, "an entry is one cache line");

// A found or inserted entry, with the slot that holds its deadline.
struct FlowRef {
  FlowEntry* entry = nullptr;
  std::uint32_t* deadline = nullptr;
  [[nodiscard]] explicit operator bool() const { return entry != nullptr; }
};

// What an insert displaced, so the caller can fix the per-backend active-flow gauges.
struct Displaced {
  bool any = false;            // an entry (expired or live) was overwritten
  std::uint32_t deadline = 0;  // its deadline: before now means it had expired, else evicted
  BackendId backend = kNoBackendId;
  VipId vip = kNoVipId;
};

class FlowTable {
 public:
  // Bytes of 64-byte-aligned, zeroed memory that a table of at least `entries` needs
  // (entries round up to a power of two, at least 8).
  [[nodiscard]] static std::size_t bytes_for(std::uint32_t entries);
  [[nodiscard]] static std::uint32_t capacity_for(std::uint32_t entries);

  FlowTable() = default;
  // `memory`: bytes_for(entries) bytes, 64-byte aligned, zeroed; not owned.
  FlowTable(void* memory, std::uint32_t entries);

  [[nodiscard]] std::uint32_t capacity() const { return bucket_count_ * kFlowBucketWays; }
  [[nodiscard]] std::uint32_t bucket_count() const { return bucket_count_; }

  void prefetch_bucket(std::uint32_t hash) const { __builtin_prefetch(bucket_of(hash), 1, 3); }
  // After the bucket has arrived: prefetches the entry whose signature matches, if any.
  void prefetch_entry(std::uint32_t hash) const {
    const FlowBucket* bucket = bucket_of(hash);
    const std::uint32_t base = static_cast<std::uint32_t>(bucket - buckets_) * kFlowBucketWays;
    for (std::uint32_t w = 0; w < kFlowBucketWays; ++w) {
      if (bucket->signature[w] == hash) __builtin_prefetch(&entries_[base + w], 1, 3);
    }
  }

  // The live entry for `key` (deadline >= now), or an empty ref.
  [[nodiscard]] FlowRef find(const FlowKey& key, std::uint32_t hash, std::uint32_t now) const;
  // A slot for a new entry of `key`: a free slot, else an expired one, else the one with the
  // nearest deadline. The entry's key is set, the rest is reset; `deadline` set to `deadline`.
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
          on_expired(entries_[b * kFlowBucketWays + w]);
          bucket.deadline[w] = 0;
          ++cleared;
        }
      }
    }
    return cleared;
  }

  // Read-only lookup for explain(), from another thread: copies the entry and re-checks the
  // key, so a concurrent update yields "not found" rather than a torn answer.
  [[nodiscard]] bool peek(const FlowKey& key, std::uint32_t hash, std::uint32_t now,
                          FlowEntry& out) const;

  // Number of live entries (walks the whole table: tests and diagnostics only).
  [[nodiscard]] std::uint32_t count_live(std::uint32_t now) const;

 private:
  [[nodiscard]] FlowBucket* bucket_of(std::uint32_t hash) const {
    return &buckets_[static_cast<std::uint64_t>(hash) >> bucket_shift_];
  }

  FlowBucket* buckets_ = nullptr;
  FlowEntry* entries_ = nullptr;
  std::uint32_t bucket_count_ = 0;
  std::uint32_t bucket_shift_ = 32;  // bucket = hash >> shift (high bits; Maglev uses % size)
  std::uint32_t sweep_cursor_ = 0;
};

}  // namespace sluice::pipeline

#include "pipeline/flow_table.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace sluice::pipeline {

std::uint32_t FlowTable::capacity_for(std::uint32_t entries) {
  const std::uint32_t want = std::max<std::uint32_t>(entries, kFlowBucketWays);
  return std::bit_ceil(want);
}

std::size_t FlowTable::bytes_for(std::uint32_t entries) {
  const std::size_t capacity = capacity_for(entries);
  return capacity / kFlowBucketWays * sizeof(FlowBucket) + capacity * sizeof(FlowBinding) +
         capacity * sizeof(FlowColdEntry);
}

FlowTable::FlowTable(void* memory, std::uint32_t entries, std::uint64_t check_secret)
    : check_secret_(check_secret) {
  const std::uint32_t capacity = capacity_for(entries);
  bucket_count_ = capacity / kFlowBucketWays;
  bucket_shift_ = 32 - static_cast<std::uint32_t>(std::countr_zero(bucket_count_));
  pairs_ = static_cast<FlowBucketPair*>(memory);
  cold_ = reinterpret_cast<FlowColdEntry*>(pairs_ + bucket_count_);
}

FlowRef FlowTable::insert(const FlowKey& key, std::uint32_t hash, std::uint32_t deadline,
                          std::uint32_t now, Eviction eviction, Displaced& displaced) {
  const std::uint64_t b = bucket_index(hash);
  FlowBucket* bucket = &pairs_[b].bucket;
  const FlowBinding* bindings = pairs_[b].bindings;
  // The victim with the lowest rank, then the nearest deadline: 0 free, 1 expired, 2 open or
  // closing, 3 established (only with Eviction::any).
  constexpr std::uint32_t kNone = 4;
  std::uint32_t victim = 0;
  std::uint32_t victim_rank = kNone;
  std::uint32_t victim_deadline = UINT32_MAX;
  for (std::uint32_t w = 0; w < kFlowBucketWays; ++w) {
    const std::uint32_t d = bucket->deadline[w];
    std::uint32_t rank = 0;
    if (d == 0) {
      victim = w;
      victim_rank = 0;
      victim_deadline = 0;
      break;
    }
    if (d < now) {
      rank = 1;
    } else if (bindings[w].state() != FlowState::established) {
      rank = 2;
    } else if (eviction == Eviction::any) {
      rank = 3;
    } else {
      continue;
    }
    if (rank < victim_rank || (rank == victim_rank && d < victim_deadline)) {
      victim = w;
      victim_rank = rank;
      victim_deadline = d;
    }
  }
  displaced = Displaced{};
  if (victim_rank == kNone) return FlowRef{};
  const std::uint64_t slot = b * kFlowBucketWays + victim;
  FlowBinding& binding = pairs_[b].bindings[victim];
  FlowColdEntry& cold = cold_[slot];
  if (victim_deadline != 0) {
    displaced.any = true;
    displaced.backend = binding.backend;
    displaced.vip = cold.vip;
    displaced.deadline = victim_deadline;
    displaced.state = binding.state();
    displaced.protocol = cold.key.protocol;
  }
  bucket->signature[victim] = hash;
  bucket->deadline[victim] = deadline;
  binding = FlowBinding{key_check(key), kNoBackendId, 0};
  cold.key = key;
  cold.vip = kNoVipId;
  return FlowRef{&binding, &cold, &bucket->deadline[victim]};
}

bool FlowTable::peek(const FlowKey& key, std::uint32_t hash, std::uint32_t now,
                     FlowEntry& out) const {
  if (bucket_count_ == 0) return false;
  const std::uint64_t b = bucket_index(hash);
  const FlowBucket* bucket = &pairs_[b].bucket;
  for (std::uint32_t w = 0; w < kFlowBucketWays; ++w) {
    const std::uint32_t d = __atomic_load_n(&bucket->deadline[w], __ATOMIC_RELAXED);
    const std::uint32_t sig = __atomic_load_n(&bucket->signature[w], __ATOMIC_RELAXED);
    if (sig != hash || d == 0 || d < now) continue;
    const std::uint64_t slot = b * kFlowBucketWays + w;
    FlowBinding binding;
    FlowColdEntry cold;
    std::memcpy(static_cast<void*>(&binding), &pairs_[b].bindings[w], sizeof(binding));
    std::memcpy(static_cast<void*>(&cold), &cold_[slot], sizeof(cold));
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (cold.key == key && binding.matches(key_check(key)) &&
        __atomic_load_n(&bucket->signature[w], __ATOMIC_RELAXED) == hash) {
      out = FlowEntry{
          cold.key, binding.backend, binding.incarnation,
          cold.vip, binding.state(), binding.has_second_hop() ? cold.second_hop : kNoBackendId};
      return true;
    }
  }
  return false;
}

std::uint32_t FlowTable::count_live(std::uint32_t now) const {
  std::uint32_t live = 0;
  for (std::uint32_t b = 0; b < bucket_count_; ++b) {
    for (std::uint32_t w = 0; w < kFlowBucketWays; ++w) {
      const std::uint32_t d = pairs_[b].bucket.deadline[w];
      if (d != 0 && d >= now) ++live;
    }
  }
  return live;
}

}  // namespace sluice::pipeline

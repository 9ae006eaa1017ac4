#include "pipeline/flow_table.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#include <emmintrin.h>

namespace sluice::pipeline {
namespace {

// Bit w set when signature[w] == hash: two 4-lane compares instead of 8 branches.
std::uint32_t signature_matches(const FlowBucket& bucket, std::uint32_t hash) {
  const __m128i h = _mm_set1_epi32(static_cast<int>(hash));
  const __m128i lo = _mm_load_si128(reinterpret_cast<const __m128i*>(&bucket.signature[0]));
  const __m128i hi = _mm_load_si128(reinterpret_cast<const __m128i*>(&bucket.signature[4]));
  const int m_lo = _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(lo, h)));
  const int m_hi = _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(hi, h)));
  return static_cast<std::uint32_t>(m_lo | (m_hi << 4));
}

}  // namespace

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
  buckets_ = static_cast<FlowBucket*>(memory);
  bindings_ = reinterpret_cast<FlowBinding*>(buckets_ + bucket_count_);
  cold_ = reinterpret_cast<FlowColdEntry*>(bindings_ + capacity);
}

FlowRef FlowTable::find(const FlowKey& key, std::uint32_t hash, std::uint32_t now) const {
  const std::uint64_t b = bucket_index(hash);
  FlowBucket* bucket = &buckets_[b];
  FlowBinding* bindings = &bindings_[b * kFlowBucketWays];
  const std::uint32_t check = key_check(key);
  for (std::uint32_t matches = signature_matches(*bucket, hash); matches != 0;
       matches &= matches - 1) {
    const auto w = static_cast<std::uint32_t>(std::countr_zero(matches));
    if (bucket->deadline[w] < now || bucket->deadline[w] == 0) continue;
    if (bindings[w].matches(check)) {
      const std::uint64_t slot = b * kFlowBucketWays + w;
      return FlowRef{&bindings_[slot], &cold_[slot], &bucket->deadline[w]};
    }
  }
  return FlowRef{};
}

FlowRef FlowTable::insert(const FlowKey& key, std::uint32_t hash, std::uint32_t deadline,
                          Displaced& displaced) {
  const std::uint64_t b = bucket_index(hash);
  FlowBucket* bucket = &buckets_[b];
  // A free slot wins; otherwise the nearest deadline, which is also any expired slot.
  std::uint32_t victim = 0;
  std::uint32_t victim_deadline = UINT32_MAX;
  for (std::uint32_t w = 0; w < kFlowBucketWays; ++w) {
    const std::uint32_t d = bucket->deadline[w];
    if (d == 0) {
      victim = w;
      victim_deadline = 0;
      break;
    }
    if (d < victim_deadline) {
      victim = w;
      victim_deadline = d;
    }
  }
  const std::uint64_t slot = b * kFlowBucketWays + victim;
  FlowBinding& binding = bindings_[slot];
  FlowColdEntry& cold = cold_[slot];
  displaced = Displaced{};
  if (victim_deadline != 0) {
    displaced.any = true;
    // `deadline` is now + timeout, so an entry whose deadline has passed lies before
    // deadline - timeout; the caller passes now separately when it needs the distinction.
    displaced.backend = binding.backend;
    displaced.vip = cold.vip;
    displaced.deadline = victim_deadline;
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
  const FlowBucket* bucket = &buckets_[b];
  for (std::uint32_t w = 0; w < kFlowBucketWays; ++w) {
    const std::uint32_t d = __atomic_load_n(&bucket->deadline[w], __ATOMIC_RELAXED);
    const std::uint32_t sig = __atomic_load_n(&bucket->signature[w], __ATOMIC_RELAXED);
    if (sig != hash || d == 0 || d < now) continue;
    const std::uint64_t slot = b * kFlowBucketWays + w;
    FlowBinding binding;
    FlowColdEntry cold;
    std::memcpy(static_cast<void*>(&binding), &bindings_[slot], sizeof(binding));
    std::memcpy(static_cast<void*>(&cold), &cold_[slot], sizeof(cold));
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (cold.key == key && binding.matches(key_check(key)) &&
        __atomic_load_n(&bucket->signature[w], __ATOMIC_RELAXED) == hash) {
      out = FlowEntry{cold.key, binding.backend, binding.incarnation, cold.vip, binding.state()};
      return true;
    }
  }
  return false;
}

std::uint32_t FlowTable::count_live(std::uint32_t now) const {
  std::uint32_t live = 0;
  for (std::uint32_t b = 0; b < bucket_count_; ++b) {
    for (std::uint32_t w = 0; w < kFlowBucketWays; ++w) {
      const std::uint32_t d = buckets_[b].deadline[w];
      if (d != 0 && d >= now) ++live;
    }
  }
  return live;
}

}  // namespace sluice::pipeline

// Maglev table builds at the paper's sizes and the per-packet slot read (hash + slot, as the
// dataplane indexes its table of backend ids).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "sluice/ip_address.hpp"
#include "sluice/lb/flow_hash.hpp"
#include "sluice/lb/maglev.hpp"

namespace {

using sluice::lb::MaglevBackend;

std::vector<MaglevBackend> backends(std::int64_t n) {
  std::vector<MaglevBackend> out;
  for (std::int64_t i = 0; i < n; ++i) {
    out.push_back(
        {sluice::IpAddress::from_v4(0xC6120001u + static_cast<std::uint32_t>(i)).to_string(), 1});
  }
  return out;
}

// build_maglev(): what a snapshot rebuild pays, allocation included. Args: N, M.
void BM_MaglevBuild(benchmark::State& state) {
  const auto list = backends(state.range(0));
  const auto m = static_cast<std::uint32_t>(state.range(1));
  for (auto _ : state) {
    auto table = sluice::lb::build_maglev(list, m);
    benchmark::DoNotOptimize(table);
  }
}
BENCHMARK(BM_MaglevBuild)
    ->Args({1000, 65537})
    ->Args({1000, 655373})
    ->Args({100, 65537})
    ->Unit(benchmark::kMillisecond);

// Weighted build: weights 1..10 take the credit path of the population loop.
void BM_MaglevBuildWeighted(benchmark::State& state) {
  auto list = backends(state.range(0));
  for (std::size_t i = 0; i < list.size(); ++i)
    list[i].weight = 1 + i % 10;
  const auto m = static_cast<std::uint32_t>(state.range(1));
  for (auto _ : state) {
    auto table = sluice::lb::build_maglev(list, m);
    benchmark::DoNotOptimize(table);
  }
}
BENCHMARK(BM_MaglevBuildWeighted)->Args({1000, 65537})->Unit(benchmark::kMillisecond);

// Per packet: 5-tuple hash, then the slot read, over 4096 flows so reads spread over the table.
void BM_MaglevLookup(benchmark::State& state) {
  auto table = sluice::lb::build_maglev(backends(1000), static_cast<std::uint32_t>(state.range(0)));
  if (!table) {
    state.SkipWithError(table.error().message.c_str());
    return;
  }
  std::vector<sluice::FlowKey> flows(4096);
  for (std::size_t i = 0; i < flows.size(); ++i) {
    flows[i].src_addr =
        sluice::IpAddress::from_v4(0xC6120000u + static_cast<std::uint32_t>(i)).bytes;
    flows[i].dst_addr = sluice::IpAddress::from_v4(0xC613000Au).bytes;
    flows[i].src_port = static_cast<std::uint16_t>(32768 + i);
    flows[i].dst_port = 443;
    flows[i].protocol = 6;
  }
  std::size_t i = 0;
  for (auto _ : state) {
    const std::uint32_t hash = sluice::lb::flow_hash_5tuple(flows[i++ & 4095]);
    benchmark::DoNotOptimize(table->slots()[hash % table->size()]);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MaglevLookup)->Arg(65537)->Arg(655373);

// The slot read alone (hash precomputed): one modulo and one load.
void BM_MaglevSlotRead(benchmark::State& state) {
  auto table = sluice::lb::build_maglev(backends(1000), 65537);
  if (!table) {
    state.SkipWithError(table.error().message.c_str());
    return;
  }
  std::uint32_t hash = 0x9E3779B9u;
  for (auto _ : state) {
    hash = hash * 1664525u + 1013904223u;
    benchmark::DoNotOptimize(table->slots()[hash % table->size()]);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MaglevSlotRead);

}  // namespace

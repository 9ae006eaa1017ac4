// Flow hashes: the per-packet cost of the 5-tuple and 3-tuple CRC32C, and the byte-wise paths.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <vector>

#include "sluice/ip_address.hpp"
#include "sluice/lb/flow_hash.hpp"

namespace {

sluice::FlowKey make_key(bool v6) {
  sluice::FlowKey key;
  if (v6) {
    key.src_addr = sluice::IpAddress::parse("2001:db8::1")->bytes;
    key.dst_addr = sluice::IpAddress::parse("2001:db8:0:1::80")->bytes;
    key.family = sluice::AddressFamily::v6;
  } else {
    key.src_addr = sluice::IpAddress::from_v4(0xC6120A01u).bytes;
    key.dst_addr = sluice::IpAddress::from_v4(0xC613000Au).bytes;
  }
  key.dst_port = 443;
  key.protocol = 6;
  return key;
}

// 1024 distinct flows, read from memory as a parser would leave them.
std::vector<sluice::FlowKey> make_flows(bool v6) {
  std::vector<sluice::FlowKey> flows(1024, make_key(v6));
  for (std::size_t i = 0; i < flows.size(); ++i) {
    flows[i].src_addr[3] = static_cast<std::uint8_t>(i);
    flows[i].src_port = static_cast<std::uint16_t>(32768 + i);
  }
  return flows;
}

void BM_FlowHash5Tuple(benchmark::State& state) {
  const auto flows = make_flows(state.range(0) != 0);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(sluice::lb::flow_hash_5tuple(flows[i++ & 1023]));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FlowHash5Tuple)->ArgName("v6")->Arg(0)->Arg(1);

void BM_FlowHash3Tuple(benchmark::State& state) {
  const auto flows = make_flows(state.range(0) != 0);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(sluice::lb::flow_hash_3tuple(flows[i++ & 1023]));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FlowHash3Tuple)->ArgName("v6")->Arg(0)->Arg(1);

// The same 40 bytes through the generic paths, for comparison.
void BM_Crc32cHardware40Bytes(benchmark::State& state) {
  const auto bytes = sluice::lb::canonical_5tuple(make_key(false));
  for (auto _ : state)
    benchmark::DoNotOptimize(sluice::lb::crc32c(bytes, 0));
}
BENCHMARK(BM_Crc32cHardware40Bytes);

void BM_Crc32cSoftware40Bytes(benchmark::State& state) {
  const auto bytes = sluice::lb::canonical_5tuple(make_key(false));
  for (auto _ : state)
    benchmark::DoNotOptimize(sluice::lb::crc32c_software(bytes, 0));
}
BENCHMARK(BM_Crc32cSoftware40Bytes);

}  // namespace

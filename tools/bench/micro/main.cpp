// sluice-bench-micro's main: the CPU check the flow hash needs, then Google Benchmark's own main.
#include <benchmark/benchmark.h>

#include <cstdio>

#include "sluice/cpu_features.hpp"

int main(int argc, char** argv) {
  if (const sluice::Status cpu = sluice::check_cpu_features(); !cpu) {
    std::fprintf(stderr, "sluice-bench-micro: %s\n", cpu.error().message.c_str());
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

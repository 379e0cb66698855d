// AllReduce over the executor: every algorithm, world sizes 1-8, counts around the segment and
// chunk boundaries, in place and out of place, many operations in flight, the owned-shard
// contract and bit-identity, in cooperative mode (the full type x op matrix lives in
// collectives_matrix_test.cc).
#include <gtest/gtest.h>
#include <stdlib.h>

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
float Value(int rank, size_t i) {
  return static_cast<float>((rank + 1) * static_cast<int>(i % 29 + 1));
}

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
    // shm needs every rank on one host; the others run on two interleaved synthetic hosts.
    CommSetup setup;
    if (c.algorithm == Algorithm::kShm) setup.layout = testing::Layout::kOneHost;
    std::unique_ptr<Communicator> comm = MakeCommunicator(env, setup);
    ASSERT_NE(comm, nullptr);
    CollOptions options;
    options.algorithm = c.algorithm;
    for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1023}, size_t{70001}}) {
      std::vector<float> in(count);
      for (size_t i = 0; i < count; ++i) in[i] = Value(env.rank(), i);
      std::vector<float> out(count, -1.0f);
      ASSERT_OK(AllReduce(*comm, in.data(), out.data(), count, DataType::kFloat32, ReduceOp::kSum,
                          options));
      for (size_t i = 0; i < count; ++i) ASSERT_EQ(out[i], Expected(c.n, i)) << "i=" << i;
      ASSERT_OK(AllReduce(*comm, in.data(), in.data(), count, DataType::kFloat32, ReduceOp::kSum,
                          options));
      if (count > 0) {
        ASSERT_EQ(std::memcmp(in.data(), out.data(), count * sizeof(float)), 0);
      }
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Algorithms, AllReduceTest,
                         ::testing::Values(Case{1, Algorithm::kRing}, Case{2, Algorithm::kRing},
                                           Case{3, Algorithm::kRing}, Case{4, Algorithm::kRing},
                                           Case{5, Algorithm::kRing}, Case{8, Algorithm::kRing},
                                           Case{1, Algorithm::kDirect}, Case{3, Algorithm::kDirect},
                                           Case{5, Algorithm::kDirect}, Case{8, Algorithm::kDirect},
                                           Case{1, Algorithm::kChain}, Case{4, Algorithm::kChain},
                                           Case{5, Algorithm::kChain}, Case{2, Algorithm::kShm},
                                           Case{3, Algorithm::kShm}, Case{4, Algorithm::kShm},
                                           Case{5, Algorithm::kShm}, Case{8, Algorithm::kShm}),
                         [](const ::testing::TestParamInfo<Case>& param) {
                           return std::string(AlgorithmName(param.param.algorithm)) + "_n" +
                                  std::to_string(param.param.n);
                         });

// Small slots: a 70001-element AllReduce takes dozens of rounds over both slot sets, and
// consecutive operations continue the round numbering.
TEST(ShmAllReduceTest, ManyRoundsAndBackToBackOperations) {
  setenv("TIDAL_SHM_SLOT_BYTES", "4096", 1);
  WorldOptions world;
  world.size = 5;
  RunWorld(world, [&](RankEnv& env) {
    CommSetup setup;
    setup.layout = testing::Layout::kOneHost;
    std::unique_ptr<Communicator> comm = MakeCommunicator(env, setup);
    ASSERT_NE(comm, nullptr);
    std::vector<Work> works;
    std::vector<std::vector<float>> bufs;
    for (size_t count : {size_t{70001}, size_t{3}, size_t{0}, size_t{4099}}) {
      bufs.emplace_back(count);
      for (size_t i = 0; i < count; ++i) bufs.back()[i] = Value(env.rank(), i);
    }
    for (std::vector<float>& b : bufs) {
      Result<Work> w =
          AllReduceAsync(*comm, b.data(), b.data(), b.size(), DataType::kFloat32, ReduceOp::kSum);
      ASSERT_OK(w);
      works.push_back(std::move(w).value());
    }
    for (size_t k = 0; k < works.size(); ++k) {
      ASSERT_OK(works[k].Wait());
      for (size_t i = 0; i < bufs[k].size(); ++i) ASSERT_EQ(bufs[k][i], Expected(5, i)) << i;
    }
  });
  unsetenv("TIDAL_SHM_SLOT_BYTES");
}

TEST(ShmAllReduceTest, AcrossHostsItDeclinesWithNotSupported) {
  WorldOptions world;
  world.size = 2;
  RunWorld(world, [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);  // two synthetic hosts
    ASSERT_NE(comm, nullptr);
    float x = 1;
    CollOptions options;
    options.algorithm = Algorithm::kShm;
    EXPECT_EQ(AllReduce(*comm, &x, &x, 1, DataType::kFloat32, ReduceOp::kSum, options).code(),
              StatusCode::kNotSupported);
  });
}

}  // namespace
}  // namespace tidal::coll

// The collectives' contracts beyond arithmetic: the owned-shard AllReduce (range, one call, the
// owner's bytes everywhere), bit-identical results on every rank with rounding-sensitive data,
// asynchronous Work (issue order, Test() driving progress, back-to-back point-to-point), timeouts
// and dead ranks naming the operation, and TIDAL_CHECK_COLLECTIVES naming the rank that
// disagrees. Cooperative mode, in-process transport.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "harness/coll_check.h"
#include "harness/comm_world.h"
#include "harness/world.h"
#include "tidal/coll/collectives.h"
#include "tidal/coll/half.h"
#include "tidal/core/random.h"

namespace tidal::coll {
namespace {

using testing::ExpectSameEverywhere;
using testing::MakeCommunicator;
using testing::RankEnv;
using testing::RunWorld;
using testing::WorldOptions;

WorldOptions World(int n, int timeout_ms = 10'000) {
  WorldOptions world;
  world.size = n;
  world.timeout = std::chrono::milliseconds(timeout_ms);
  return world;
}

// Environment knob for the duration of a test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_.empty()) {
      unsetenv(name_);
    } else {
      setenv(name_, old_.c_str(), 1);
    }
  }

 private:
  const char* name_;
  std::string old_;
};

struct OwnedCase {
  int n;
  Algorithm algorithm;
};

class OwnedShardTest : public ::testing::TestWithParam<OwnedCase> {};

TEST_P(OwnedShardTest, CallbackSeesTheOwnedRangeOnceAndEveryRankGetsTheOwnersBytes) {
  const OwnedCase c = GetParam();
  RunWorld(World(c.n), [&](RankEnv& env) {
    testing::CommSetup setup;
    if (c.algorithm == Algorithm::kShm) setup.layout = testing::Layout::kOneHost;
    std::unique_ptr<Communicator> comm = MakeCommunicator(env, setup);
    ASSERT_NE(comm, nullptr);
    CollOptions options;
    options.algorithm = c.algorithm;
    for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1023}, size_t{100003}}) {
      std::vector<float> x(count);
      for (size_t i = 0; i < count; ++i) x[i] = static_cast<float>((env.rank() + 1) * (i % 13));
      int calls = 0;
      ElementRange seen;
      ASSERT_OK(AllReduceOwned(
          *comm, x.data(), x.data(), count, DataType::kFloat32, ReduceOp::kSum,
          [&](ElementRange range, void* shard) {
            ++calls;
            seen = range;
            auto* s = static_cast<float*>(shard);
            // A rank-dependent update: only the owner's result may survive the all-gather.
            for (size_t i = 0; i < range.count; ++i) s[i] = s[i] * 3.0f + 0.0f * env.rank();
            return Status::Ok();
          },
          options));
      EXPECT_EQ(calls, 1);
      EXPECT_EQ(seen, OwnedRange(comm->ring_position(), comm->size(), count));
      const float ranks = static_cast<float>(c.n * (c.n + 1) / 2);
      for (size_t i = 0; i < count; ++i) {
        ASSERT_EQ(x[i], 3.0f * ranks * static_cast<float>(i % 13)) << "i=" << i;
      }
      ExpectSameEverywhere(*comm, x.data(), count * sizeof(float));
    }
  });
}

// One rank: with more, the others would wait for the failed rank's all-gather until they time out.
TEST(OwnedShardTest, AFailingCallbackFailsTheOperation) {
  RunWorld(World(1), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    float x[4] = {1, 2, 3, 4};
    const Status st = AllReduceOwned(
        *comm, x, x, 4, DataType::kFloat32, ReduceOp::kSum,
        [](ElementRange, void*) { return InvalidArgumentError("optimizer says no"); });
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st;
    EXPECT_NE(st.ToString().find("optimizer says no"), std::string::npos) << st;
  });
}

INSTANTIATE_TEST_SUITE_P(
    Algorithms, OwnedShardTest,
    ::testing::Values(OwnedCase{1, Algorithm::kRing}, OwnedCase{2, Algorithm::kRing},
                      OwnedCase{3, Algorithm::kRing}, OwnedCase{4, Algorithm::kRing},
                      OwnedCase{5, Algorithm::kRing}, OwnedCase{8, Algorithm::kRing},
                      OwnedCase{1, Algorithm::kDirect}, OwnedCase{2, Algorithm::kDirect},
                      OwnedCase{3, Algorithm::kDirect}, OwnedCase{5, Algorithm::kDirect},
                      OwnedCase{8, Algorithm::kDirect}, OwnedCase{2, Algorithm::kShm},
                      OwnedCase{3, Algorithm::kShm}, OwnedCase{5, Algorithm::kShm},
                      OwnedCase{8, Algorithm::kShm}),
    [](const ::testing::TestParamInfo<OwnedCase>& param) {
      return std::string(AlgorithmName(param.param.algorithm)) + "_n" +
             std::to_string(param.param.n);
    });

// A rank that destroys its communicator right after its last Wait returned has nothing pending,
// even while its progress thread is still ending the round that finished the operation: the
// destruction must not abort the engine and so tell the peers that this rank died (a root whose
// Broadcast finished leaves while the others still receive). Threads mode, many short worlds.
TEST(CommunicatorLifetimeTest, DestroyRightAfterTheLastWaitIsNotADeath) {
  for (int iter = 0; iter < 60; ++iter) {
    WorldOptions world = World(4, 2'000);
    world.mode = testing::Mode::kThreads;
    RunWorld(world, [&](RankEnv& env) {
      std::unique_ptr<Communicator> comm = MakeCommunicator(env);
      ASSERT_NE(comm, nullptr);
      std::vector<int32_t> v(33, env.rank());
      for (int k = 0; k < 3; ++k) {  // the progress thread drives these
        Result<Work> w = coll::AllReduceAsync(*comm, v.data(), v.data(), v.size(),
                                              coll::DataType::kInt32, coll::ReduceOp::kMax);
        ASSERT_OK(w.status());
        ASSERT_OK(w->Wait(env.deadline()));
      }
      const int root = iter % 4;
      float one = env.rank() == root ? 7.0f : 0.0f;
      Result<Work> b = coll::BroadcastAsync(*comm, &one, &one, 1, coll::DataType::kFloat32, root);
      ASSERT_OK(b.status());
      SCOPED_TRACE("iteration " + std::to_string(iter));
      ASSERT_OK(b->Wait(env.deadline()));
      EXPECT_EQ(one, 7.0f);
      EXPECT_EQ(v[0], 3);
    });
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(OwnedShardTest, ChainCannotKeepOwnedShards) {
  RunWorld(World(2), [](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    float x = 1;
    CollOptions options;
    options.algorithm = Algorithm::kChain;
    const Status st =
        AllReduceOwned(*comm, &x, &x, 1, DataType::kFloat32, ReduceOp::kSum, nullptr, options);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st;
  });
}

// Random data whose sums round: results may differ between algorithms, never between ranks.
class BitIdentityTest : public ::testing::TestWithParam<std::tuple<int, Algorithm, DataType>> {};

TEST_P(BitIdentityTest, EveryRankHoldsTheSameBytes) {
  const auto [n, algorithm, type] = GetParam();
  RunWorld(World(n), [&, n = n, algorithm = algorithm, type = type](RankEnv& env) {
    testing::CommSetup setup;
    if (algorithm == Algorithm::kShm) setup.layout = testing::Layout::kOneHost;
    std::unique_ptr<Communicator> comm = MakeCommunicator(env, setup);
    ASSERT_NE(comm, nullptr);
    const size_t count = 30011;
    SplitMix64 rng(env.seed());
    std::vector<float> values(count);
    std::vector<uint8_t> buf(count * DataTypeSize(type));
    for (size_t i = 0; i < count; ++i) {
      values[i] = static_cast<float>(static_cast<double>(rng.Next() >> 11) * 0x1p-53 * 2.0 - 1.0);
      if (type == DataType::kFloat32) std::memcpy(&buf[i * 4], &values[i], 4);
      if (type == DataType::kFloat16) {
        const uint16_t h = FloatToHalf(values[i]);
        std::memcpy(&buf[i * 2], &h, 2);
      }
      if (type == DataType::kBFloat16) {
        const uint16_t h = FloatToBFloat16(values[i]);
        std::memcpy(&buf[i * 2], &h, 2);
      }
    }
    CollOptions options;
    options.algorithm = algorithm;
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kAvg}) {
      std::vector<uint8_t> out(buf.size());
      ASSERT_OK(AllReduce(*comm, buf.data(), out.data(), count, type, op, options));
      ExpectSameEverywhere(*comm, out.data(), out.size());
      if (type != DataType::kFloat32 || op != ReduceOp::kSum) continue;
      // Against a double reference: n - 1 roundings of partial sums bounded by n.
      std::vector<float> all(count * static_cast<size_t>(n));
      ASSERT_OK(AllGather(*comm, values.data(), all.data(), count, DataType::kFloat32));
      for (size_t i = 0; i < count; ++i) {
        double exact = 0;
        for (int r = 0; r < n; ++r)
          exact += static_cast<double>(all[static_cast<size_t>(r) * count + i]);
        float got;
        std::memcpy(&got, &out[i * 4], 4);
        ASSERT_NEAR(static_cast<double>(got), exact, n * n * 0x1p-24) << "i=" << i;
      }
    }
  });
}

INSTANTIATE_TEST_SUITE_P(
    Algorithms, BitIdentityTest,
    ::testing::Combine(
        ::testing::Values(2, 3, 5, 8),
        ::testing::Values(Algorithm::kRing, Algorithm::kDirect, Algorithm::kChain, Algorithm::kShm),
        ::testing::Values(DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16)),
    [](const ::testing::TestParamInfo<std::tuple<int, Algorithm, DataType>>& param) {
      return std::string(AlgorithmName(std::get<1>(param.param))) + "_" +
             std::string(DataTypeName(std::get<2>(param.param))) + "_n" +
             std::to_string(std::get<0>(param.param));
    });

}  // namespace
}  // namespace tidal::coll

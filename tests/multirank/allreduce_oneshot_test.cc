// The on-host small-message AllReduce (shm/shm_oneshot.h, allreduce_inline.h): the one-shot
// protocol and its inline execution. Ranks may reach the same operation by different paths
// (inline on an idle communicator, or as an engine task behind an asynchronous operation); the
// results must be right and bit-identical either way, on both sides of TIDAL_SHM_ONESHOT_BYTES,
// and a missing rank must end in a timeout that names the operation and the rank waited for.
// Every case runs with each reducer (TIDAL_SHM_REDUCER): every rank, and the last to arrive.
// Cooperative mode, one host.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "harness/coll_check.h"
#include "harness/comm_world.h"
#include "harness/world.h"
#include "tidal/coll/collectives.h"
#include "tidal/coll/half.h"

namespace tidal::coll {
namespace {

using testing::ExpectSameEverywhere;
using testing::MakeOneHostCommunicator;
using testing::RankEnv;
using testing::RunWorld;
using testing::WorldOptions;

WorldOptions World(int n, int timeout_ms = 10'000) {
  WorldOptions world;
  world.size = n;
  world.timeout = std::chrono::milliseconds(timeout_ms);
  return world;
}

// Rank r's element i: small integers, exact in every type, different on every rank.
float Value(int rank, size_t i) {
  return static_cast<float>((rank + 1) * static_cast<int>(i % 7 + 1));
}

// Sum over ranks of Value(r, i).
float SumOver(int n, size_t i) {
  return static_cast<float>(n * (n + 1) / 2) * static_cast<float>(i % 7 + 1);
}

struct Case {
  int n;
  const char* reducer;  // TIDAL_SHM_REDUCER
};

class OneShotTest : public ::testing::TestWithParam<Case> {
 private:
  testing::ScopedEnv reducer_{"TIDAL_SHM_REDUCER", GetParam().reducer};
};

// Counts on both sides of the 32 KiB default threshold (64 KiB for the last-arriver variant),
// fp32 sum and avg, in place and not.
TEST_P(OneShotTest, SumAndAvgAcrossTheThreshold) {
  const int n = GetParam().n;
  RunWorld(World(n), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeOneHostCommunicator(env);
    ASSERT_NE(comm, nullptr);
    for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1023}, size_t{8192}, size_t{8193},
                         size_t{16384}, size_t{16385}, size_t{20000}}) {
      for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kAvg}) {
        std::vector<float> x(count), y(count, -1.0f);
        for (size_t i = 0; i < count; ++i) x[i] = Value(env.rank(), i);
        const bool in_place = count % 2 == 1;
        ASSERT_OK(AllReduce(*comm, x.data(), in_place ? x.data() : y.data(), count,
                            DataType::kFloat32, op));
        const std::vector<float>& out = in_place ? x : y;
        for (size_t i = 0; i < count; ++i) {
          float want = SumOver(n, i);
          if (op == ReduceOp::kAvg) want /= static_cast<float>(n);
          ASSERT_EQ(out[i], want) << "count " << count << " i " << i;
        }
        ExpectSameEverywhere(*comm, out.data(), count * sizeof(float));
      }
    }
  });
}

// fp16 accumulates in fp32 and rounds at every step: rank order must be the same everywhere.
TEST_P(OneShotTest, HalfPrecisionIsBitIdentical) {
  const int n = GetParam().n;
  RunWorld(World(n), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeOneHostCommunicator(env);
    ASSERT_NE(comm, nullptr);
    std::vector<uint16_t> x(999);
    for (size_t i = 0; i < x.size(); ++i) {
      x[i] = FloatToHalf(0.1f * static_cast<float>(env.rank() + 1) + 0.37f * static_cast<float>(i));
    }
    for (int round = 0; round < 3; ++round) {
      ASSERT_OK(AllReduce(*comm, x.data(), x.data(), x.size(), DataType::kFloat16, ReduceOp::kSum));
      ExpectSameEverywhere(*comm, x.data(), x.size() * sizeof(uint16_t));
    }
  });
}

// Rank 0 has an asynchronous operation in flight, so its blocking AllReduce goes through the
// engine, while the other ranks run it inline: the same protocol either way.
TEST_P(OneShotTest, InlineAndQueuedRanksMix) {
  const int n = GetParam().n;
  RunWorld(World(n), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeOneHostCommunicator(env);
    ASSERT_NE(comm, nullptr);
    for (int round = 0; round < 5; ++round) {
      std::vector<int32_t> a(33, env.rank() + round), b(17, 2 * env.rank() + 1);
      if (env.rank() == 0) {
        Result<Work> first =
            AllReduceAsync(*comm, a.data(), a.data(), a.size(), DataType::kInt32, ReduceOp::kMax);
        ASSERT_OK(first.status());
        ASSERT_OK(AllReduce(*comm, b.data(), b.data(), b.size(), DataType::kInt32, ReduceOp::kSum));
        ASSERT_OK(first->Wait(env.deadline()));
      } else {
        ASSERT_OK(AllReduce(*comm, a.data(), a.data(), a.size(), DataType::kInt32, ReduceOp::kMax));
        ASSERT_OK(AllReduce(*comm, b.data(), b.data(), b.size(), DataType::kInt32, ReduceOp::kSum));
      }
      for (int32_t v : a) ASSERT_EQ(v, n - 1 + round);
      for (int32_t v : b) ASSERT_EQ(v, n * n);
    }
  });
}

// Many back-to-back rounds: the two slot sets are reused only after every rank read them.
TEST_P(OneShotTest, ManyRoundsReuseTheSlotsSafely) {
  const int n = GetParam().n;
  RunWorld(World(n), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeOneHostCommunicator(env);
    ASSERT_NE(comm, nullptr);
    for (int round = 0; round < 200; ++round) {
      int64_t v = static_cast<int64_t>(env.rank()) * 1000 + round;
      ASSERT_OK(AllReduce(*comm, &v, &v, 1, DataType::kInt64, ReduceOp::kSum));
      ASSERT_EQ(v, 1000 * static_cast<int64_t>(n * (n - 1) / 2) + static_cast<int64_t>(n) * round);
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Ranks, OneShotTest,
                         ::testing::Values(Case{2, "every"}, Case{2, "last"}, Case{3, "every"},
                                           Case{3, "last"}, Case{4, "every"}, Case{4, "last"},
                                           Case{5, "every"}, Case{5, "last"}, Case{8, "every"},
                                           Case{8, "last"}),
                         [](const ::testing::TestParamInfo<Case>& p) {
                           return "n" + std::to_string(p.param.n) + "_" + p.param.reducer;
                         });

class OneShotFailureTest : public OneShotTest {};

// A rank that never joins: the others time out (1 s), naming the operation and the missing rank,
// and the communicator's on-host path is then refused (the round counters disagree).
TEST_P(OneShotFailureTest, MissingRankTimesOutNamingIt) {
  RunWorld(World(3, 5'000), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeOneHostCommunicator(env);
    ASSERT_NE(comm, nullptr);
    float x = 1.0f;
    ASSERT_OK(AllReduce(*comm, &x, &x, 1, DataType::kFloat32, ReduceOp::kSum));  // attaches
    if (env.rank() == 2) return;
    CollOptions options;
    options.deadline = Deadline::AfterMs(1000);
    const Status st = AllReduce(*comm, &x, &x, 1, DataType::kFloat32, ReduceOp::kSum, options);
    EXPECT_EQ(st.code(), StatusCode::kTimedOut) << st;
    EXPECT_NE(st.ToString().find("allreduce #"), std::string::npos) << st;
    EXPECT_NE(st.ToString().find("rank 2"), std::string::npos) << st;
    const Status again = AllReduce(*comm, &x, &x, 1, DataType::kFloat32, ReduceOp::kSum, options);
    EXPECT_EQ(again.code(), StatusCode::kAborted) << again;
  });
}

INSTANTIATE_TEST_SUITE_P(Reducer, OneShotFailureTest,
                         ::testing::Values(Case{3, "every"}, Case{3, "last"}),
                         [](const ::testing::TestParamInfo<Case>& p) { return p.param.reducer; });

// A bad TIDAL_SHM_REDUCER fails the first on-host AllReduce, naming the knob, on every rank.
TEST(OneShotKnobTest, UnknownReducerIsRefused) {
  testing::ScopedEnv reducer("TIDAL_SHM_REDUCER", "fastest");
  RunWorld(World(2), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeOneHostCommunicator(env);
    ASSERT_NE(comm, nullptr);
    float x = 1.0f;
    const Status st = AllReduce(*comm, &x, &x, 1, DataType::kFloat32, ReduceOp::kSum);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st;
    EXPECT_NE(st.ToString().find("TIDAL_SHM_REDUCER=fastest"), std::string::npos) << st;
  });
}

}  // namespace
}  // namespace tidal::coll

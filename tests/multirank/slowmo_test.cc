// SlowMo and Local SGD (optim/tidal/optim/slowmo.h, local_sgd.h): the fused sharded outer step
// against a plain reference (full AllReduce avg, then ref::SlowMoShardUpdate on the whole vector
// on every rank), its special cases (α=1, β=0 is Local SGD; n=1, β=0 is Lookahead), the slow
// state's size, bucket order, bit-identical x on every rank after every outer step, and argument
// errors. Cooperative mode, in-process transport, closed-form per-rank data.
#include "tidal/optim/slowmo.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "harness/coll_check.h"
#include "harness/comm_world.h"
#include "harness/world.h"
#include "tidal/coll/collectives.h"
#include "tidal/core/random.h"
#include "tidal/optim/kernels.h"
#include "tidal/optim/local_sgd.h"

namespace tidal::optim {
namespace {

using coll::DataType;
using coll::ReduceOp;
using testing::ExpectSameEverywhere;
using testing::MakeCommunicator;
using testing::RankEnv;
using testing::RunWorld;
using testing::WorldOptions;

constexpr float kEps = std::numeric_limits<float>::epsilon();
const size_t kCounts[] = {0, 1, 7, 1001, 100003};

WorldOptions World(int n, testing::Mode mode = testing::Mode::kCooperative) {
  WorldOptions world;
  world.size = n;
  world.mode = mode;
  return world;
}

// Elements where |got - want| > tol(i); reports the first few.
template <typename Tol>
void ExpectClose(const std::vector<float>& got, const std::vector<float>& want, Tol tol,
                 const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  size_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const float t = tol(i);
    const bool ok = t == 0.0f ? std::memcmp(&got[i], &want[i], sizeof(float)) == 0
                              : std::fabs(got[i] - want[i]) <= t;
    if (!ok && ++bad <= 3) {
      ADD_FAILURE() << what << ": element " << i << " got " << got[i] << " want " << want[i]
                    << " (tolerance " << t << ")";
    }
  }
  EXPECT_EQ(bad, 0u) << what;
}

// Several buckets: [0, count) cut at count/5 and count/2, empty pieces dropped.
std::vector<Bucket> CutBuckets(size_t count) {
  std::vector<Bucket> buckets;
  size_t begin = 0;
  for (size_t end : {count / 5, count / 2, count}) {
    if (end > begin) buckets.push_back(Bucket{begin, end - begin});
    begin = std::max(begin, end);
  }
  return buckets;
}

// Start values: rank 0's survive Create's broadcast; the others' must not.
float Start(int rank, size_t i) {
  return static_cast<float>(i % 251) - 125.0f + 1000.0f * static_cast<float>(rank);
}

// Exact data. Outer step t = two inner steps on rank r: x += c(i, t), then x += (2r-(n-1))·q(i, t).
// The deltas sum to n·c over the ranks, so every partial sum and the average x̄ = x0 + c are exact
// in fp32 (all values are multiples of 2^-12 below 2^11 in magnitude for α = β = 1/2 and
// power-of-two γ over 5 steps), and so is every step of the update. Summation order then cannot
// matter: the fused step must equal the reference bit for bit, whatever the buckets.
float Drift(size_t i, int t) {
  return static_cast<float>(static_cast<int>((i * 3 + static_cast<size_t>(t) * 5) % 17) - 8) *
         0.125f;
}
float Spread(size_t i, int t) {
  return static_cast<float>(static_cast<int>((i + static_cast<size_t>(t) * 2) % 7) - 3) * 0.0625f;
}
const float kExactGammas[] = {0.5f, 0.25f, 1.0f, 0.125f, 0.5f};

// Rounding data: a descent step x -= γ·g with rank-dependent g.
float Grad(int rank, size_t i, int step) {
  const size_t k = i * 13 + static_cast<size_t>(rank) * 7 + static_cast<size_t>(step) * 3;
  return static_cast<float>(static_cast<int>(k % 23) - 11) * 0.013f;
}
void DescentStep(std::vector<float>& x, int rank, int step, float gamma) {
  for (size_t i = 0; i < x.size(); ++i) x[i] -= gamma * Grad(rank, i, step);
}

SlowMoOptions SlowMoOpts(float alpha, float beta, int tau, std::vector<Bucket> buckets = {}) {
  SlowMoOptions options;
  options.alpha = alpha;
  options.beta = beta;
  options.tau = tau;
  options.buckets = std::move(buckets);
  return options;
}

LocalSgdOptions LocalOpts(int tau) {
  LocalSgdOptions options;
  options.tau = tau;
  return options;
}

struct MatrixCase {
  int n;
  bool bucketed;
  // Threads: the owner update runs on each rank's progress thread.
  testing::Mode mode = testing::Mode::kCooperative;
};

// gtest prints parameters with this instead of dumping their bytes (padding included).
void PrintTo(const MatrixCase& c, std::ostream* os) {
  *os << "n=" << c.n << (c.bucketed ? " several buckets " : " one bucket ")
      << testing::ModeName(c.mode);
}

std::string CaseName(const ::testing::TestParamInfo<MatrixCase>& info) {
  return "n" + std::to_string(info.param.n) + (info.param.bucketed ? "_buckets" : "_one_bucket") +
         (info.param.mode == testing::Mode::kThreads ? "_threads" : "");
}

class SlowMoMatrixTest : public ::testing::TestWithParam<MatrixCase> {};

// The required equivalence, with tolerance 0 (justified by the exact data above).
TEST_P(SlowMoMatrixTest, FusedShardedStepEqualsThePlainReferenceBitForBit) {
  const MatrixCase c = GetParam();
  RunWorld(World(c.n, c.mode), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    const int n = c.n;
    for (size_t count : kCounts) {
      SCOPED_TRACE("count " + std::to_string(count));
      std::vector<float> x(count);
      for (size_t i = 0; i < count; ++i) x[i] = Start(env.rank(), i);
      SlowMoOptions options = SlowMoOpts(0.5f, 0.5f, 2);
      if (c.bucketed) options.buckets = CutBuckets(count);
      auto created = SlowMo::Create(*comm, x.data(), count, options);
      ASSERT_OK(created);
      std::unique_ptr<SlowMo> slowmo = std::move(created).value();
      for (size_t i = 0; i < count; ++i) ASSERT_EQ(x[i], Start(0, i)) << "broadcast, i=" << i;

      std::vector<float> x0 = x;  // the reference's full slow state
      std::vector<float> u(count, 0.0f);
      for (int t = 0; t < 5; ++t) {
        const float gamma = kExactGammas[t];
        for (size_t i = 0; i < count; ++i) x[i] += Drift(i, t);
        Result<bool> outer = slowmo->AfterInnerStep(gamma);
        ASSERT_OK(outer);
        EXPECT_FALSE(*outer);
        const float spread = static_cast<float>(2 * env.rank() - (n - 1));
        for (size_t i = 0; i < count; ++i) x[i] += spread * Spread(i, t);
        std::vector<float> want = x;  // reference: full AllReduce avg, then the update everywhere
        ASSERT_OK(coll::AllReduce(*comm, want.data(), want.data(), count, DataType::kFloat32,
                                  ReduceOp::kAvg));
        ref::SlowMoShardUpdate(0.5f, 0.5f, gamma, want.data(), x0.data(), u.data(), count);
        outer = slowmo->AfterInnerStep(gamma);
        ASSERT_OK(outer);
        EXPECT_TRUE(*outer);
        ExpectClose(
            x, want, [](size_t) { return 0.0f; }, "outer step " + std::to_string(t));
        ExpectSameEverywhere(*comm, x);
        if (::testing::Test::HasFailure()) return;
      }
      // Slow state: 2 floats per owned element of each bucket, at most 2·Σ⌈count_b/n⌉.
      size_t owned = 0, bound = 0;
      const std::vector<Bucket> buckets = c.bucketed ? CutBuckets(count) : SingleBucket(count);
      for (const Bucket& b : buckets) {
        owned += coll::OwnedRange(comm->ring_position(), n, b.count).count;
        bound += (b.count + static_cast<size_t>(n) - 1) / static_cast<size_t>(n);
      }
      EXPECT_EQ(slowmo->slow_state_floats(), 2 * owned);
      EXPECT_LE(slowmo->slow_state_floats(), 2 * bound);
      const size_t ceil_d = (count + static_cast<size_t>(n) - 1) / static_cast<size_t>(n);
      if (!c.bucketed && comm->ring_position() == 0) {
        EXPECT_EQ(slowmo->slow_state_floats(), 2 * ceil_d);  // position 0 owns ⌈d/n⌉
      }
      int64_t total = static_cast<int64_t>(slowmo->slow_state_floats());
      ASSERT_OK(coll::AllReduce(*comm, &total, &total, 1, DataType::kInt64, ReduceOp::kSum));
      EXPECT_EQ(total, static_cast<int64_t>(2 * count));  // the shards tile x exactly once
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Worlds, SlowMoMatrixTest,
                         ::testing::Values(MatrixCase{1, false}, MatrixCase{1, true},
                                           MatrixCase{2, false}, MatrixCase{2, true},
                                           MatrixCase{3, false}, MatrixCase{3, true},
                                           MatrixCase{4, false}, MatrixCase{4, true},
                                           MatrixCase{5, false}, MatrixCase{5, true},
                                           MatrixCase{8, false}, MatrixCase{8, true},
                                           MatrixCase{4, true, testing::Mode::kThreads}),
                         CaseName);

class SlowMoRoundingTest : public ::testing::TestWithParam<MatrixCase> {};

// Data whose sums round, α=0.7, β=0.6 and a changing non-dyadic γ. The reference's one AllReduce
// over the whole vector may add the ranks in another order than the per-bucket AllReduces (other
// owned ranges, another algorithm), so x̄ may differ by (n-1)·eps·max|x_i| per step, and
// the difference propagates through x0 and u. Tolerance: ALGORITHMS.md §1's pass condition,
// 1e-6 relative to the operands, max(|x0|, |x̄|, 1) per element (≈ 8 eps); these cases use
// about half of it by their fifth step.
TEST_P(SlowMoRoundingTest, FusedStepMatchesThePlainReferenceWithin1e6Relative) {
  const MatrixCase c = GetParam();
  const float gammas[] = {0.1f, 0.05f, 0.08f, 0.03f, 0.06f};
  RunWorld(World(c.n), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    for (size_t count : {size_t{1001}, size_t{100003}}) {
      std::vector<float> x(count);
      for (size_t i = 0; i < count; ++i) x[i] = static_cast<float>((i * 37) % 1009) * 0.01f - 5;
      SlowMoOptions options = SlowMoOpts(0.7f, 0.6f, 3);
      if (c.bucketed) options.buckets = CutBuckets(count);
      auto created = SlowMo::Create(*comm, x.data(), count, options);
      ASSERT_OK(created);
      std::unique_ptr<SlowMo> slowmo = std::move(created).value();
      std::vector<float> x0 = x, u(count, 0.0f);
      int step = 0;
      for (float gamma : gammas) {
        for (int k = 0; k < 3; ++k) DescentStep(x, env.rank(), step++, gamma);
        std::vector<float> want = x;
        ASSERT_OK(coll::AllReduce(*comm, want.data(), want.data(), count, DataType::kFloat32,
                                  ReduceOp::kAvg));
        const std::vector<float> xbar = want, x0_before = x0;
        ref::SlowMoShardUpdate(0.7f, 0.6f, gamma, want.data(), x0.data(), u.data(), count);
        ASSERT_OK(slowmo->OuterStep(gamma));
        ExpectClose(
            x, want,
            [&](size_t i) {
              return 1e-6f * std::max({std::fabs(x0_before[i]), std::fabs(xbar[i]), 1.0f});
            },
            "count " + std::to_string(count) + " gamma " + std::to_string(gamma));
        ExpectSameEverywhere(*comm, x);
        if (::testing::Test::HasFailure()) return;
      }
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Worlds, SlowMoRoundingTest,
                         ::testing::Values(MatrixCase{2, true}, MatrixCase{3, false},
                                           MatrixCase{3, true}, MatrixCase{5, true},
                                           MatrixCase{8, false}, MatrixCase{8, true}),
                         CaseName);

// α=1, β=0: x0 - γ·((x0 - x̄)/γ) is within a few ulps of x̄ (ALGORITHMS.md §1 pitfall):
// tolerance 4·eps·max(|x0|, |x̄|) per element (each of -, /γ, ·γ, - rounds once).
TEST(SlowMoTest, AlphaOneBetaZeroEqualsLocalSgdWithinUlps) {
  for (int n : {1, 3, 4}) {
    RunWorld(World(n), [&](RankEnv& env) {
      std::unique_ptr<Communicator> comm = MakeCommunicator(env);
      ASSERT_NE(comm, nullptr);
      const size_t count = 1001;
      std::vector<float> xs(count), xl(count);
      for (size_t i = 0; i < count; ++i) xs[i] = xl[i] = Start(env.rank(), i) * 0.01f;
      auto slowmo = SlowMo::Create(*comm, xs.data(), count, SlowMoOpts(1.0f, 0.0f, 2));
      ASSERT_OK(slowmo);
      auto local = LocalSgd::Create(*comm, xl.data(), count, LocalOpts(2));
      ASSERT_OK(local);
      int step = 0;
      for (float gamma : {0.1f, 0.3f, 0.02f}) {
        const std::vector<float> x0 = xs;
        for (int k = 0; k < 2; ++k, ++step) {
          DescentStep(xs, env.rank(), step, gamma);
          DescentStep(xl, env.rank(), step, gamma);
          Result<bool> a = (*slowmo)->AfterInnerStep(gamma);
          Result<bool> b = (*local)->AfterInnerStep();
          ASSERT_OK(a);
          ASSERT_OK(b);
          EXPECT_EQ(*a, k == 1);
          EXPECT_EQ(*b, k == 1);
        }
        ExpectClose(
            xs, xl,
            [&](size_t i) { return 4 * kEps * std::max(std::fabs(x0[i]), std::fabs(xl[i])); },
            "gamma " + std::to_string(gamma));
        ExpectSameEverywhere(*comm, xl);
        xl = xs;  // the next round starts from the same x (β=0: SlowMo's state is x0 = x)
      }
    });
  }
}

// n=1, β=0, α=1/2: x_{t+1} = x0 + (x - x0)/2, Lookahead with k = τ. Tolerance as above.
TEST(SlowMoTest, OneRankBetaZeroIsLookahead) {
  RunWorld(World(1), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    std::vector<float> x(257);
    for (size_t i = 0; i < x.size(); ++i) x[i] = Start(0, i) * 0.03f;
    auto slowmo = SlowMo::Create(*comm, x.data(), x.size(), SlowMoOpts(0.5f, 0.0f, 4));
    ASSERT_OK(slowmo);
    int step = 0;
    for (float gamma : {0.2f, 0.05f, 0.11f}) {
      const std::vector<float> x0 = x;  // Lookahead's slow weights
      std::vector<float> fast;          // the fast weights after k = τ steps
      for (int k = 0; k < 4; ++k) {
        DescentStep(x, 0, step++, gamma);
        if (k == 3) fast = x;
        ASSERT_OK((*slowmo)->AfterInnerStep(gamma));
      }
      std::vector<float> want(x.size());
      for (size_t i = 0; i < x.size(); ++i) want[i] = x0[i] + 0.5f * (fast[i] - x0[i]);
      ExpectClose(
          x, want,
          [&](size_t i) { return 4 * kEps * std::max(std::fabs(x0[i]), std::fabs(fast[i])); },
          "lookahead gamma " + std::to_string(gamma));
    }
  });
}

// The trainer waits for bucket k before touching its range: each Work leaves its bucket done.
TEST(SlowMoTest, OneWorkPerBucketInBucketOrder) {
  RunWorld(World(3), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    const size_t count = 1001;
    std::vector<float> x(count);
    for (size_t i = 0; i < count; ++i) x[i] = Start(env.rank(), i);
    const std::vector<Bucket> buckets = CutBuckets(count);
    auto slowmo = SlowMo::Create(*comm, x.data(), count, SlowMoOpts(0.5f, 0.5f, 1, buckets));
    ASSERT_OK(slowmo);
    std::vector<float> x0 = x, u(count, 0.0f);
    for (size_t i = 0; i < count; ++i) x[i] += Drift(i, 0) + (2.0f * env.rank() - 2) * Spread(i, 0);
    std::vector<float> want = x;
    ASSERT_OK(coll::AllReduce(*comm, want.data(), want.data(), count, DataType::kFloat32,
                              ReduceOp::kAvg));
    ref::SlowMoShardUpdate(0.5f, 0.5f, 0.25f, want.data(), x0.data(), u.data(), count);
    auto works = (*slowmo)->OuterStepAsync(0.25f);
    ASSERT_OK(works);
    ASSERT_EQ(works->size(), buckets.size());
    // A second outer step while this one is in flight is refused (x belongs to tidal).
    EXPECT_EQ((*slowmo)->OuterStepAsync(0.25f).status().code(), StatusCode::kInvalidArgument);
    for (size_t k = 0; k < buckets.size(); ++k) {
      ASSERT_OK((*works)[k].Wait(env.deadline()));
      for (size_t i = buckets[k].begin; i < buckets[k].begin + buckets[k].count; ++i) {
        ASSERT_EQ(x[i], want[i]) << "bucket " << k << " i=" << i;
      }
    }
    EXPECT_EQ((*slowmo)->outer_steps(), 1);
  });
}

void ExpectInvalid(const Status& st, const std::string& needle) {
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st;
  EXPECT_NE(st.ToString().find("rank "), std::string::npos) << st;
  EXPECT_NE(st.ToString().find(needle), std::string::npos) << st;
}

TEST(SlowMoTest, BadArgumentsNameTheRankAndTheArgument) {
  RunWorld(World(2), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    std::vector<float> x(10, 1.0f);
    auto slowmo = SlowMo::Create(*comm, x.data(), x.size(), {});
    ASSERT_OK(slowmo);
    const float inf = std::numeric_limits<float>::infinity();
    for (float gamma : {0.0f, -0.1f, inf, std::numeric_limits<float>::quiet_NaN()}) {
      ExpectInvalid((*slowmo)->OuterStep(gamma), "gamma");
      ExpectInvalid((*slowmo)->OuterStepAsync(gamma).status(), "gamma");
      ExpectInvalid((*slowmo)->AfterInnerStep(gamma).status(), "gamma");
    }
    EXPECT_EQ((*slowmo)->inner_steps(), 0);  // refused steps are not counted
    ExpectInvalid(SlowMo::Create(*comm, nullptr, 3, {}).status(), "x is null");
    ExpectInvalid(SlowMo::Create(*comm, x.data(), 10, SlowMoOpts(1, 0, 0)).status(), "tau");
    ExpectInvalid(SlowMo::Create(*comm, x.data(), 10, SlowMoOpts(inf, 0, 1)).status(), "alpha");
    SlowMoOptions gap;
    gap.buckets = {{0, 4}, {5, 5}};
    ExpectInvalid(SlowMo::Create(*comm, x.data(), 10, gap).status(), "buckets");
    SlowMoOptions chain;
    chain.coll.algorithm = coll::Algorithm::kChain;
    ExpectInvalid(SlowMo::Create(*comm, x.data(), 10, chain).status(), "chain");
    ExpectInvalid(LocalSgd::Create(*comm, x.data(), 10, LocalOpts(-1)).status(), "tau");
    ExpectInvalid(LocalSgd::Create(*comm, nullptr, 10, {}).status(), "x is null");
    // Zero elements: no buckets, nothing to send, and null x is fine.
    auto empty = SlowMo::Create(*comm, nullptr, 0, {});
    ASSERT_OK(empty);
    ASSERT_OK((*empty)->OuterStep(1.0f));
    EXPECT_EQ((*empty)->slow_state_floats(), 0u);
  });
}

}  // namespace
}  // namespace tidal::optim

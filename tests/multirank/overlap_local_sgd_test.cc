// Overlap Local-SGD (optim/tidal/optim/overlap_local_sgd.h) against a plain per-rank simulation of
// the official code (JYWa/Overlap_Local_SGD, ALGORITHMS.md §3): ref:: kernels and a blocking
// AllReduce(sum) issued where the official code issues its asynchronous one, its result consumed
// at the next sync. Also: z_new = (1-α)·x̄ + α·z_old to fp32 rounding, the first pull-back at
// itr = τ toward x_0, anchor() refused while its AllReduce is in flight, Finish's bit-identical
// average, argument errors. Cooperative mode: an issued AllReduce progresses only while a rank
// waits, so "in flight" is observable right after AfterLocalStep issued it.
#include "tidal/optim/overlap_local_sgd.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "harness/coll_check.h"
#include "harness/comm_world.h"
#include "harness/world.h"
#include "tidal/coll/collectives.h"
#include "tidal/core/random.h"
#include "tidal/optim/kernels.h"

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

WorldOptions World(int n, testing::Mode mode = testing::Mode::kCooperative) {
  WorldOptions world;
  world.size = n;
  world.mode = mode;
  return world;
}

void ExpectBitEqual(std::span<const float> got, std::span<const float> want,
                    const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  size_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0 && ++bad <= 3) {
      ADD_FAILURE() << what << ": element " << i << " got " << got[i] << " want " << want[i];
    }
  }
  EXPECT_EQ(bad, 0u) << what;
}

float Start(int rank, size_t i) {
  return static_cast<float>((i * 37) % 1009) * 0.01f - 5.0f + 100.0f * static_cast<float>(rank);
}

// Rank-dependent local steps (closed form, independent of x): x -= γ·g(r, i, itr).
float Grad(int rank, size_t i, int64_t itr) {
  const size_t k = i * 13 + static_cast<size_t>(rank) * 7 + static_cast<size_t>(itr) * 3;
  return static_cast<float>(static_cast<int>(k % 23) - 11) * 0.013f;
}
float Gamma(int64_t itr) { return 0.1f / static_cast<float>(1 + itr % 3); }
void LocalStep(std::vector<float>& x, int rank, int64_t itr) {
  const float gamma = Gamma(itr);
  for (size_t i = 0; i < x.size(); ++i) x[i] -= gamma * Grad(rank, i, itr);
}

OverlapLocalSgdOptions Opts(int tau, float alpha, float gmf) {
  OverlapLocalSgdOptions options;
  options.tau = tau;
  options.alpha = alpha;
  options.gmf = gmf;
  return options;
}

// The official code, one rank of it: z is the sum of the previous round at every sync.
struct Reference {
  std::vector<float> x, z, b;
  int64_t itr = 0;

  void Step(Communicator& comm, const OverlapLocalSgdOptions& o, float gamma) {
    if (itr != 0 && itr % o.tau == 0) {
      const size_t d = x.size();
      const float inv_n = 1.0f / static_cast<float>(comm.size());
      ref::PullBack(o.alpha, x.data(), z.data(), d);
      if (o.gmf == 0.0f) {
        ref::AnchorReset(inv_n, x.data(), z.data(), d);
      } else {
        ref::AnchorMomentum(o.gmf, gamma, inv_n, x.data(), z.data(), b.data(), d);
      }
      ASSERT_OK(coll::AllReduce(comm, z.data(), z.data(), d, DataType::kFloat32, ReduceOp::kSum));
    }
    ++itr;
  }
};

struct SimCase {
  int n;
  float gmf;
  // Threads: the AllReduce runs on each rank's progress thread, so "in flight" is not checked.
  testing::Mode mode = testing::Mode::kCooperative;
};

void PrintTo(const SimCase& c, std::ostream* os) {
  *os << "n=" << c.n << " gmf=" << c.gmf << " " << testing::ModeName(c.mode);
}

std::string SimName(const ::testing::TestParamInfo<SimCase>& info) {
  return "n" + std::to_string(info.param.n) + (info.param.gmf > 0 ? "_gmf" : "_plain") +
         (info.param.mode == testing::Mode::kThreads ? "_threads" : "");
}

class OverlapSimTest : public ::testing::TestWithParam<SimCase> {};

// Several rounds (τ=2, α=0.6): x after every local step and the anchor after every round equal
// the simulation bit for bit (same kernels bits, kernels.h; the same AllReduce of the same bytes);
// with gmf = 0 every anchor is (1-α)·x̄ + α·z_old to fp32 rounding.
TEST_P(OverlapSimTest, MatchesTheOfficialCodeRoundByRound) {
  const SimCase c = GetParam();
  const bool cooperative = c.mode == testing::Mode::kCooperative;
  RunWorld(World(c.n, c.mode), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    const int n = c.n;
    for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1001}, size_t{100003}}) {
      SCOPED_TRACE("count " + std::to_string(count));
      const OverlapLocalSgdOptions o = Opts(2, 0.6f, c.gmf);
      std::vector<float> x(count);
      for (size_t i = 0; i < count; ++i) x[i] = Start(env.rank(), i);
      auto created = OverlapLocalSgd::Create(*comm, x.data(), count, o);
      ASSERT_OK(created);
      std::unique_ptr<OverlapLocalSgd> overlap = std::move(created).value();
      Reference sim;
      sim.x = x;
      sim.z = x;  // z <- x_0
      sim.b.assign(c.gmf > 0 ? count : 0, 0.0f);
      for (size_t i = 0; i < count; ++i) ASSERT_EQ(x[i], Start(0, i)) << "broadcast, i=" << i;
      for (int64_t itr = 0; itr < 11; ++itr) {  // syncs at itr 2, 4, 6, 8, 10
        LocalStep(x, env.rank(), itr);
        LocalStep(sim.x, env.rank(), itr);
        const bool sync = itr != 0 && itr % o.tau == 0;
        // x̄ (and mean |x|) of the x the sync pulls back, in double, and z_old.
        std::vector<double> stats(2 * count);
        for (size_t i = 0; i < count; ++i) {
          stats[2 * i] = static_cast<double>(sim.x[i]);
          stats[2 * i + 1] = std::fabs(static_cast<double>(sim.x[i]));
        }
        if (sync) {
          ASSERT_OK(coll::AllReduce(*comm, stats.data(), stats.data(), 2 * count,
                                    DataType::kFloat64, ReduceOp::kAvg));
        }
        const std::vector<float> z_old = sim.z;
        ASSERT_OK(overlap->AfterLocalStep(Gamma(itr)));
        if (sync && n > 1 && cooperative) {  // issued, and nobody drove it yet
          EXPECT_TRUE(overlap->in_flight());
          EXPECT_EQ(overlap->anchor().status().code(), StatusCode::kInvalidArgument);
        }
        sim.Step(*comm, o, Gamma(itr));  // its blocking AllReduce drives ours first
        ExpectBitEqual(x, sim.x, "x after itr " + std::to_string(itr));
        if (!sync) continue;
        ASSERT_FALSE(overlap->in_flight());
        Result<std::span<const float>> z = overlap->anchor();
        ASSERT_OK(z);
        ExpectBitEqual(*z, sim.z, "anchor after itr " + std::to_string(itr));
        if (c.gmf != 0.0f) continue;
        // Rounding: 1-α, two products and a sum per pull-back, ·(1/n) (1/n rounded), then n-1
        // additions: (n + 3)·eps of the terms' magnitude (1-α)·mean|x| + α·|z_old|.
        for (size_t i = 0; i < count; ++i) {
          const double want = 0.4 * stats[2 * i] + 0.6 * static_cast<double>(z_old[i]);
          const double scale =
              0.4 * stats[2 * i + 1] + 0.6 * std::fabs(static_cast<double>(z_old[i]));
          ASSERT_LE(std::fabs(static_cast<double>(sim.z[i]) - want),
                    (n + 3) * static_cast<double>(kEps) * scale)
              << "z_new = (1-α)x̄ + α z_old at itr " << itr << ", i=" << i;
        }
        if (::testing::Test::HasFailure()) return;
      }
      ASSERT_OK(overlap->Finish());
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Worlds, OverlapSimTest,
                         ::testing::Values(SimCase{1, 0.0f}, SimCase{2, 0.0f}, SimCase{3, 0.0f},
                                           SimCase{4, 0.0f}, SimCase{5, 0.0f}, SimCase{8, 0.0f},
                                           SimCase{1, 0.7f}, SimCase{3, 0.7f}, SimCase{5, 0.7f},
                                           SimCase{8, 0.7f},
                                           SimCase{4, 0.0f, testing::Mode::kThreads},
                                           SimCase{3, 0.7f, testing::Mode::kThreads}),
                         SimName);

// The first sync comes after τ+1 local steps (itr = τ) and pulls x back toward x_0.
TEST(OverlapLocalSgdTest, FirstPullBackAtItrTauTowardX0) {
  for (int n : {1, 2}) {
    RunWorld(World(n), [&](RankEnv& env) {
      std::unique_ptr<Communicator> comm = MakeCommunicator(env);
      ASSERT_NE(comm, nullptr);
      const int tau = 3;
      std::vector<float> x(101);
      for (size_t i = 0; i < x.size(); ++i) x[i] = Start(env.rank(), i);
      auto overlap = OverlapLocalSgd::Create(*comm, x.data(), x.size(), Opts(tau, 0.5f, 0.0f));
      ASSERT_OK(overlap);
      const std::vector<float> x_0 = x;
      for (int64_t itr = 0; itr < tau; ++itr) {
        LocalStep(x, env.rank(), itr);
        const std::vector<float> before = x;
        ASSERT_OK((*overlap)->AfterLocalStep(Gamma(itr)));
        ExpectBitEqual(x, before, "no sync at itr " + std::to_string(itr));
        EXPECT_FALSE((*overlap)->in_flight());
      }
      LocalStep(x, env.rank(), tau);
      std::vector<float> want = x;
      ref::PullBack(0.5f, want.data(), x_0.data(), want.size());
      ASSERT_OK((*overlap)->AfterLocalStep(Gamma(tau)));
      ExpectBitEqual(x, want, "pull-back toward x_0 at itr tau");
      EXPECT_EQ((*overlap)->iteration(), tau + 1);
      ASSERT_OK((*overlap)->Finish());
    });
  }
}

// Finish drains the last round and leaves the exact average of x, bit-identical on every rank.
TEST(OverlapLocalSgdTest, FinishLeavesEveryRankTheSameAverage) {
  for (int n : {1, 3, 5}) {
    RunWorld(World(n), [&](RankEnv& env) {
      std::unique_ptr<Communicator> comm = MakeCommunicator(env);
      ASSERT_NE(comm, nullptr);
      std::vector<float> x(30011);
      for (size_t i = 0; i < x.size(); ++i) x[i] = Start(env.rank(), i);
      auto overlap = OverlapLocalSgd::Create(*comm, x.data(), x.size(), Opts(2, 0.6f, 0.7f));
      ASSERT_OK(overlap);
      for (int64_t itr = 0; itr < 7; ++itr) {  // the round issued at itr 6 is still in flight
        LocalStep(x, env.rank(), itr);
        ASSERT_OK((*overlap)->AfterLocalStep(Gamma(itr)));
      }
      std::vector<float> want = x;
      ASSERT_OK((*overlap)->Finish());
      EXPECT_FALSE((*overlap)->in_flight());
      ASSERT_OK((*overlap)->anchor());
      ASSERT_OK(coll::AllReduce(*comm, want.data(), want.data(), want.size(), DataType::kFloat32,
                                ReduceOp::kAvg));
      ExpectBitEqual(x, want, "Finish's average");
      ExpectSameEverywhere(*comm, x);
    });
  }
}

// Runs 11 local steps (τ = 2: syncs at itr 2, 4, 6, 8, 10) with `policy`, then Finish; returns
// this rank's x and the object's sched_yield count.
struct YieldRun {
  std::vector<float> x;
  bool yields_cpu = false;
  int64_t cpu_yields = 0;
};
YieldRun RunWithYield(Communicator& comm, int rank, OverlapLocalSgdOptions::CpuYield policy) {
  YieldRun run;
  run.x.resize(1001);
  for (size_t i = 0; i < run.x.size(); ++i) run.x[i] = Start(rank, i);
  OverlapLocalSgdOptions o = Opts(2, 0.6f, 0.7f);
  o.cpu_yield = policy;
  auto overlap = OverlapLocalSgd::Create(comm, run.x.data(), run.x.size(), o);
  EXPECT_OK(overlap);
  if (!overlap.ok()) return run;
  for (int64_t itr = 0; itr < 11; ++itr) {
    LocalStep(run.x, rank, itr);
    EXPECT_OK((*overlap)->AfterLocalStep(Gamma(itr)));
  }
  EXPECT_OK((*overlap)->Finish());
  run.yields_cpu = (*overlap)->yields_cpu();
  run.cpu_yields = (*overlap)->cpu_yields();
  return run;
}

// The hand-over: one sched_yield after each issue and one per local step while the anchor's
// AllReduce is in flight (cooperative mode: nothing drives it until the next sync waits, so with
// n > 1 it is in flight through every step between syncs): 5 issues + 4 steps. Off: none. The
// results are bit-identical either way.
TEST(OverlapLocalSgdTest, CpuYieldAfterIssueAndPerStepInFlightChangesNoBits) {
  using CpuYield = OverlapLocalSgdOptions::CpuYield;
  for (int n : {2, 3}) {
    RunWorld(World(n), [&](RankEnv& env) {
      std::unique_ptr<Communicator> comm = MakeCommunicator(env);
      ASSERT_NE(comm, nullptr);
      const YieldRun on = RunWithYield(*comm, env.rank(), CpuYield::kOn);
      const YieldRun off = RunWithYield(*comm, env.rank(), CpuYield::kOff);
      EXPECT_TRUE(on.yields_cpu);
      EXPECT_EQ(on.cpu_yields, 5 + 4);
      EXPECT_FALSE(off.yields_cpu);
      EXPECT_EQ(off.cpu_yields, 0);
      ExpectBitEqual(on.x, off.x, "x with and without the hand-over");
      ExpectSameEverywhere(*comm, on.x);
    });
  }
}

// kAuto follows TIDAL_OVERLAP_YIELD; a malformed value is refused at Create, naming the rank.
TEST(OverlapLocalSgdTest, CpuYieldKnob) {
  for (const char* value : {"on", "off", "auto", "sometimes"}) {
    SCOPED_TRACE(value);
    testing::ScopedEnv knob("TIDAL_OVERLAP_YIELD", value);
    RunWorld(World(2), [&](RankEnv& env) {
      std::unique_ptr<Communicator> comm = MakeCommunicator(env);
      ASSERT_NE(comm, nullptr);
      std::vector<float> x(10, 1.0f);
      auto overlap = OverlapLocalSgd::Create(*comm, x.data(), x.size(), Opts(2, 0.5f, 0.0f));
      if (std::string(value) == "sometimes") {
        ASSERT_EQ(overlap.status().code(), StatusCode::kInvalidArgument) << overlap.status();
        EXPECT_NE(overlap.status().ToString().find("rank "), std::string::npos);
        EXPECT_NE(overlap.status().ToString().find("TIDAL_OVERLAP_YIELD=sometimes"),
                  std::string::npos);
        return;
      }
      ASSERT_OK(overlap);
      const long cpus = std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN));
      const bool want =
          std::string(value) == "on" || (std::string(value) == "auto" && comm->local_size() > cpus);
      EXPECT_EQ((*overlap)->yields_cpu(), want);
      ASSERT_OK((*overlap)->Finish());
    });
  }
}

void ExpectInvalid(const Status& st, const std::string& needle) {
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st;
  EXPECT_NE(st.ToString().find("rank "), std::string::npos) << st;
  EXPECT_NE(st.ToString().find(needle), std::string::npos) << st;
}

TEST(OverlapLocalSgdTest, BadArgumentsNameTheRankAndTheArgument) {
  RunWorld(World(2), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    std::vector<float> x(10, 1.0f);
    auto overlap = OverlapLocalSgd::Create(*comm, x.data(), x.size(), Opts(1, 0.5f, 0.0f));
    ASSERT_OK(overlap);
    const float inf = std::numeric_limits<float>::infinity();
    for (float gamma : {0.0f, -1.0f, inf, std::numeric_limits<float>::quiet_NaN()}) {
      ExpectInvalid((*overlap)->AfterLocalStep(gamma), "gamma");
    }
    EXPECT_EQ((*overlap)->iteration(), 0);
    ExpectInvalid(OverlapLocalSgd::Create(*comm, nullptr, 3, {}).status(), "x is null");
    ExpectInvalid(OverlapLocalSgd::Create(*comm, x.data(), 10, Opts(0, 0.5f, 0)).status(), "tau");
    ExpectInvalid(OverlapLocalSgd::Create(*comm, x.data(), 10, Opts(2, inf, 0)).status(), "alpha");
    ExpectInvalid(OverlapLocalSgd::Create(*comm, x.data(), 10, Opts(2, 0.5f, -1)).status(), "gmf");
    ASSERT_OK((*overlap)->Finish());
  });
}

}  // namespace
}  // namespace tidal::optim

// Tests of the multi-rank harness itself: every mode runs every rank once, shares one store,
// gives distinct reproducible seeds, attributes failures to their rank, and bounds every wait.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <string>

#include "harness/world.h"
#include "tidal/core/mutex.h"

namespace tidal::testing {
namespace {

WorldOptions Options(int size, Mode mode, TransportKind transport) {
  WorldOptions options;
  options.size = size;
  options.mode = mode;
  options.transport = transport;
  return options;
}

class HarnessTest : public ::testing::TestWithParam<Mode> {};

TEST_P(HarnessTest, EveryRankRunsOnceAndSharesTheStore) {
  WorldOptions options = Options(5, GetParam(), TransportKind::kNone);
  options.timeout = std::chrono::milliseconds(5000);
  RunWorld(options, [](RankEnv& env) {
    Result<int64_t> count = env.store().Add("ranks", 1, env.deadline());
    ASSERT_OK(count);
    ASSERT_OK(SetString(env.store(), "hello/" + std::to_string(env.rank()),
                        "from " + std::to_string(env.rank()), env.deadline()));
    // Every rank reads every other rank's key: in cooperative mode this only completes if a
    // waiting rank yields to the ranks that have not run yet.
    for (int peer = 0; peer < env.size(); ++peer) {
      Result<std::string> value =
          GetString(env.store(), "hello/" + std::to_string(peer), env.deadline());
      ASSERT_OK(value);
      EXPECT_EQ(*value, "from " + std::to_string(peer));
    }
    // The last rank to arrive sees the full count.
    ASSERT_OK(env.store().Wait(std::vector<std::string>{"hello/4"}, env.deadline()));
  });
}

TEST_P(HarnessTest, SeedsAreDistinctPerRankAndReproducible) {
  WorldOptions options = Options(4, GetParam(), TransportKind::kNone);
  RunWorld(options, [](RankEnv& env) {
    ASSERT_OK(SetString(env.store(), "seed/" + std::to_string(env.rank()),
                        std::to_string(env.seed()), env.deadline()));
    std::set<std::string> seeds;
    for (int peer = 0; peer < env.size(); ++peer) {
      Result<std::string> seed =
          GetString(env.store(), "seed/" + std::to_string(peer), env.deadline());
      ASSERT_OK(seed);
      seeds.insert(*seed);
    }
    EXPECT_EQ(seeds.size(), 4u);
  });
  // Same options, same seeds: compare rank 0's seed across two worlds through a static.
  static std::atomic<uint64_t> first{0};
  for (int run = 0; run < 2; ++run) {
    WorldOptions one = Options(1, Mode::kCooperative, TransportKind::kNone);
    one.seed = 42;
    RunWorld(one, [run](RankEnv& env) {
      if (run == 0) {
        first = env.seed();
      } else {
        EXPECT_EQ(first.load(), env.seed());
      }
    });
  }
}

TEST_P(HarnessTest, WaitForTimesOutWithinItsDeadline) {
  WorldOptions options = Options(2, GetParam(), TransportKind::kInProc);
  if (GetParam() == Mode::kProcesses) options.transport = TransportKind::kNone;
  options.timeout = std::chrono::milliseconds(300);
  RunWorld(options, [](RankEnv& env) {
    const auto start = Clock::now();
    Status st = env.WaitFor([] { return false; }, "something that never happens");
    const auto waited = Clock::now() - start;
    EXPECT_EQ(st.code(), StatusCode::kTimedOut) << st;
    EXPECT_NE(st.message().find("something that never happens"), std::string_view::npos);
    EXPECT_GE(waited, std::chrono::milliseconds(300));
    EXPECT_LT(waited, std::chrono::milliseconds(3000));
  });
}

void FailOnRankOne(Mode mode) {
  WorldOptions options = Options(3, mode, TransportKind::kNone);
  RunWorld(options, [mode](RankEnv& env) {
    if (env.rank() != 1) return;
    // A child's own assertion would be swallowed by the interception below (the child inherits
    // it), so a process fails the way a crashing rank does: by its exit code.
    if (mode == Mode::kProcesses) std::_Exit(7);
    ADD_FAILURE() << "deliberate failure";
  });
}

TEST_P(HarnessTest, FailuresAreReportedWithTheirRank) {
  if (GetParam() == Mode::kProcesses) {
    // The child prints its own failure; the parent reports the rank's exit.
    EXPECT_NONFATAL_FAILURE(FailOnRankOne(Mode::kProcesses),
                            "rank 1 of world processes/3/none/seed1 exited with code 7");
  } else if (GetParam() == Mode::kCooperative) {
    EXPECT_NONFATAL_FAILURE(FailOnRankOne(Mode::kCooperative), "deliberate failure");
  } else {
    EXPECT_NONFATAL_FAILURE_ON_ALL_THREADS(FailOnRankOne(Mode::kThreads), "deliberate failure");
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, HarnessTest,
                         ::testing::Values(Mode::kCooperative, Mode::kThreads, Mode::kProcesses),
                         [](const ::testing::TestParamInfo<Mode>& param) {
                           return std::string(ModeName(param.param));
                         });

TEST(HarnessProcesses, RanksAllowedToDieAreNotFailures) {
  WorldOptions options = Options(3, Mode::kProcesses, TransportKind::kNone);
  options.ranks_allowed_to_die = {2};
  RunWorld(options, [](RankEnv& env) {
    if (env.rank() == 2) ::kill(::getpid(), SIGKILL);
  });
}

TEST(HarnessCooperative, SixteenRanksPassATokenThroughTheTransport) {
  WorldOptions options = Options(16, Mode::kCooperative, TransportKind::kInProc);
  RunWorld(options, [](RankEnv& env) {
    const int next = (env.rank() + 1) % env.size();
    const int prev = (env.rank() + env.size() - 1) % env.size();
    int token = env.rank() == 0 ? 1 : 0;
    Request recv;
    Request send;
    if (env.rank() != 0) {
      ASSERT_OK(env.transport().PostRecv(prev, MakeTag(1, 0, 0, 0), &token, sizeof token, &recv));
      ASSERT_OK(env.Wait(recv, "token"));
      ++token;
    }
    ASSERT_OK(env.transport().PostSend(next, MakeTag(1, 0, 0, 0), &token, sizeof token, &send));
    ASSERT_OK(env.Wait(send, "token send"));
    if (env.rank() == 0) {
      ASSERT_OK(env.transport().PostRecv(prev, MakeTag(1, 0, 0, 0), &token, sizeof token, &recv));
      ASSERT_OK(env.Wait(recv, "token back"));
      EXPECT_EQ(token, 16);
    }
  });
}

}  // namespace
}  // namespace tidal::testing

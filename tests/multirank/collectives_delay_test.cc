// CollOptions::delay: a rank's part of an operation starts no earlier than the delay after it was
// issued. A blocking call pays the delay; an asynchronous one does not (the caller goes on while
// the engine holds the operation back), and the engine wakes up for it without transport events
// (threads mode: the background driver sleeps on the event fd, bounded by Task::wake_at).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <vector>

#include "harness/comm_world.h"
#include "harness/world.h"
#include "tidal/coll/collectives.h"

namespace tidal::coll {
namespace {

using std::chrono::milliseconds;
using testing::MakeCommunicator;
using testing::Mode;
using testing::RankEnv;
using testing::RunWorld;
using testing::WorldOptions;

constexpr milliseconds kDelay{60};

class DelayTest : public ::testing::TestWithParam<Mode> {
 protected:
  WorldOptions World(int n) const {
    WorldOptions world;
    world.size = n;
    world.mode = GetParam();
    world.timeout = milliseconds(5'000);
    return world;
  }
};

double ElapsedMs(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

TEST_P(DelayTest, BlockingCallPaysTheDelayOnce) {
  RunWorld(World(3), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    std::vector<float> x(1001, static_cast<float>(env.rank() + 1));
    CollOptions options;
    options.delay = kDelay;
    const Clock::time_point start = Clock::now();
    ASSERT_OK(AllReduce(*comm, x.data(), x.data(), x.size(), DataType::kFloat32, ReduceOp::kSum,
                        options));
    const double ms = ElapsedMs(start);
    EXPECT_GE(ms, 0.95 * static_cast<double>(kDelay.count()));
    for (float v : x) ASSERT_EQ(v, 6.0f);
  });
}

TEST_P(DelayTest, AsyncCallReturnsAtOnceAndFinishesAfterTheDelay) {
  RunWorld(World(2), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    std::vector<float> x(4097, static_cast<float>(env.rank() + 1));
    CollOptions options;
    options.delay = kDelay;
    const Clock::time_point start = Clock::now();
    Result<Work> work = AllReduceAsync(*comm, x.data(), x.data(), x.size(), DataType::kFloat32,
                                       ReduceOp::kSum, options);
    ASSERT_OK(work.status());
    EXPECT_LT(ElapsedMs(start), 0.5 * static_cast<double>(kDelay.count()));
    EXPECT_FALSE(work->Test());  // held back: nothing may have been exchanged yet
    ASSERT_OK(work->Wait(env.deadline()));
    EXPECT_GE(ElapsedMs(start), 0.95 * static_cast<double>(kDelay.count()));
    for (float v : x) ASSERT_EQ(v, 3.0f);
  });
}

// Operations queued behind a delayed one keep their order; their own delays do not add up beyond
// each one's issue time + delay.
TEST_P(DelayTest, DelayedOperationsKeepIssueOrder) {
  RunWorld(World(4), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    CollOptions options;
    options.delay = kDelay;
    std::vector<std::vector<int32_t>> bufs(5, std::vector<int32_t>(17));
    std::vector<Work> works;
    const Clock::time_point start = Clock::now();
    for (size_t k = 0; k < bufs.size(); ++k) {
      for (int32_t& v : bufs[k]) v = static_cast<int32_t>(k * 10 + static_cast<size_t>(env.rank()));
      Result<Work> w = AllReduceAsync(*comm, bufs[k].data(), bufs[k].data(), bufs[k].size(),
                                      DataType::kInt32, ReduceOp::kMax, options);
      ASSERT_OK(w.status());
      works.push_back(std::move(*w));
    }
    for (Work& w : works) ASSERT_OK(w.Wait(env.deadline()));
    const double ms = ElapsedMs(start);
    EXPECT_GE(ms, 0.95 * static_cast<double>(kDelay.count()));
    EXPECT_LT(ms, 4.0 * static_cast<double>(kDelay.count()) + 2'000.0);
    for (size_t k = 0; k < bufs.size(); ++k) {
      for (int32_t v : bufs[k]) ASSERT_EQ(v, static_cast<int32_t>(k * 10 + 3));
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Modes, DelayTest, ::testing::Values(Mode::kCooperative, Mode::kThreads),
                         [](const ::testing::TestParamInfo<Mode>& param) {
                           return std::string(testing::ModeName(param.param));
                         });

}  // namespace
}  // namespace tidal::coll

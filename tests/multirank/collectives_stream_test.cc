// The stream contract of a communicator (ordered_task.h, work.h): asynchronous operations finish
// in issue order; Test() alone drives them to completion; point-to-point calls issued back to
// back start together; a timeout or a dead member fails the operation naming it; and with
// TIDAL_CHECK_COLLECTIVES=1 disagreeing ranks get an error naming the first one that disagrees
// instead of a hang. Cooperative mode, in-process transport.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "harness/comm_world.h"
#include "harness/world.h"
#include "tidal/coll/collectives.h"

namespace tidal::coll {
namespace {

using testing::MakeCommunicator;
using testing::RankEnv;
using testing::RunWorld;
using testing::WorldOptions;

WorldOptions World(int n) {
  WorldOptions world;
  world.size = n;
  world.timeout = std::chrono::milliseconds(10'000);
  return world;
}

bool Contains(const Status& st, const std::string& text) {
  return st.ToString().find(text) != std::string::npos;
}

TEST(CollectiveStreamTest, AsyncOperationsFinishInIssueOrder) {
  RunWorld(World(4), [](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    constexpr int kOps = 16;
    std::vector<std::vector<int32_t>> bufs(kOps);
    std::vector<Work> works;
    for (int k = 0; k < kOps; ++k) {
      bufs[k].assign(1000 + 37 * k, env.rank() + k);
      Result<Work> w = k % 3 == 2
                           ? BroadcastAsync(*comm, bufs[k].data(), bufs[k].data(), bufs[k].size(),
                                            DataType::kInt32, k % 4)
                           : AllReduceAsync(*comm, bufs[k].data(), bufs[k].data(), bufs[k].size(),
                                            DataType::kInt32, ReduceOp::kSum);
      ASSERT_OK(w);
      works.push_back(std::move(w).value());
    }
    // Poll them all: once operation k is seen finished, every earlier one is too.
    int finished_prefix = 0;
    const Deadline deadline = env.deadline();
    while (finished_prefix < kOps) {
      ASSERT_FALSE(deadline.Expired()) << "operations did not finish";
      for (int k = kOps - 1; k >= 0; --k) {
        if (!works[k].Test()) continue;
        for (int j = 0; j < k; ++j) ASSERT_TRUE(works[j].Test()) << j << " before " << k;
        finished_prefix = std::max(finished_prefix, k + 1);
        break;
      }
      env.Yield();
    }
    for (int k = 0; k < kOps; ++k) {
      ASSERT_OK(works[k].status());
      const int32_t expect = k % 3 == 2 ? (k % 4) + k : 6 + 4 * k;
      for (int32_t v : bufs[k]) ASSERT_EQ(v, expect) << "op " << k;
    }
  });
}

TEST(CollectiveStreamTest, BackToBackSendAndRecvDoNotDeadlock) {
  RunWorld(World(2), [](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    const int peer = 1 - env.rank();
    // Far above the eager limit: the sends need the peer's receive to complete.
    std::vector<float> out(1 << 18, static_cast<float>(env.rank() + 1));
    std::vector<float> in(out.size());
    Result<Work> send = SendAsync(*comm, out.data(), out.size(), DataType::kFloat32, peer);
    Result<Work> recv = RecvAsync(*comm, in.data(), in.size(), DataType::kFloat32, peer);
    ASSERT_OK(send);
    ASSERT_OK(recv);
    ASSERT_OK(recv->Wait());
    ASSERT_OK(send->Wait());
    EXPECT_EQ(in.front(), static_cast<float>(peer + 1));
    EXPECT_EQ(in.back(), static_cast<float>(peer + 1));
  });
}

TEST(CollectiveStreamTest, TimeoutNamesTheOperation) {
  RunWorld(World(3), [](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    if (env.rank() == 0) {
      float x[8] = {};
      CollOptions options;
      options.deadline = Deadline::AfterMs(300);
      const Status st = AllReduce(*comm, x, x, 8, DataType::kFloat32, ReduceOp::kSum, options);
      EXPECT_EQ(st.code(), StatusCode::kTimedOut) << st;
      EXPECT_TRUE(Contains(st, "allreduce #0")) << st;
    }
    // The reserved barrier sequence still pairs up after rank 0's op timed out.
    ASSERT_OK(comm->Barrier());
  });
}

TEST(CollectiveStreamTest, ADeadMemberFailsTheCollectiveNamingIt) {
  WorldOptions world = World(4);
  RunWorld(world, [](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    if (env.rank() == 3) {
      comm->Abort(AbortedError("test: rank 3 leaves"));
      return;
    }
    std::vector<float> x(100000, 1.0f);
    CollOptions options;
    options.deadline = Deadline::AfterMs(3000);
    const auto start = std::chrono::steady_clock::now();
    const Status st =
        AllReduce(*comm, x.data(), x.data(), x.size(), DataType::kFloat32, ReduceOp::kSum, options);
    EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st;
    EXPECT_TRUE(Contains(st, "rank 3")) << st;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2500)) << st;
  });
}

class ScopedCheck {
 public:
  ScopedCheck() { setenv("TIDAL_CHECK_COLLECTIVES", "1", 1); }
  ~ScopedCheck() { unsetenv("TIDAL_CHECK_COLLECTIVES"); }
};

TEST(CollectiveStreamTest, CheckCollectivesNamesTheRankWithAnotherCount) {
  ScopedCheck check;
  RunWorld(World(4), [](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    std::vector<float> x(16, 1.0f);
    const size_t count = env.rank() == 2 ? 9 : 8;
    const Status st =
        AllReduce(*comm, x.data(), x.data(), count, DataType::kFloat32, ReduceOp::kSum);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st;
    EXPECT_TRUE(Contains(st, "rank 2 called allreduce(count=9")) << st;
    // Agreeing calls still work with the check on.
    ASSERT_OK(AllReduce(*comm, x.data(), x.data(), 8, DataType::kFloat32, ReduceOp::kSum));
    EXPECT_EQ(x[0], 4.0f);
  });
}

TEST(CollectiveStreamTest, CheckCollectivesNamesTheRankWithAnotherKind) {
  ScopedCheck check;
  RunWorld(World(3), [](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    std::vector<int32_t> x(5, env.rank());
    const Status st =
        env.rank() == 1 ? Broadcast(*comm, x.data(), x.data(), 5, DataType::kInt32, 0)
                        : AllReduce(*comm, x.data(), x.data(), 5, DataType::kInt32, ReduceOp::kMax);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st;
    EXPECT_TRUE(Contains(st, "rank 1 called broadcast(count=5, type=int32, root=0")) << st;
  });
}

}  // namespace
}  // namespace tidal::coll

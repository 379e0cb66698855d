// CollOptions::ready and on_finish (ordered_task.h OpHooks): an operation starts only once its
// start condition holds, a failing condition fails the operation before anything is sent, and the
// finish callback runs exactly once with the final status before the Work reports finished, in
// issue order. These carry the staged device outer steps (slowmo_device.h): ready() waits for a
// device-to-host copy, on_finish releases a CUDA stream gated on a host flag.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "harness/coll_check.h"
#include "harness/comm_world.h"
#include "harness/world.h"
#include "tidal/coll/collectives.h"

namespace tidal::coll {
namespace {

using testing::MakeCommunicator;
using testing::Mode;
using testing::RankEnv;
using testing::RunWorld;
using testing::WorldOptions;

class HooksTest : public ::testing::TestWithParam<Mode> {
 protected:
  WorldOptions World(int n, std::chrono::milliseconds timeout = std::chrono::milliseconds(5'000)) {
    WorldOptions world;
    world.size = n;
    world.mode = GetParam();
    world.timeout = timeout;
    return world;
  }
};

// Rank r's element i: exact in fp32, different per rank.
float Value(int rank, size_t i) {
  return static_cast<float>(i % 97) + 256.0f * static_cast<float>(rank + 1);
}

// The input is produced by the start condition itself, on its third poll (as a copy that lands):
// until then the buffer holds NaN, so an operation that started early sums NaN.
TEST_P(HooksTest, OperationStartsOnlyOnceReady) {
  for (int n : {1, 2, 3, 5}) {
    for (size_t count : {size_t{1}, size_t{1001}, size_t{70001}}) {
      SCOPED_TRACE("n " + std::to_string(n) + " count " + std::to_string(count));
      RunWorld(World(n), [&](RankEnv& env) {
        std::unique_ptr<Communicator> comm = MakeCommunicator(env);
        ASSERT_NE(comm, nullptr);
        std::vector<float> x(count, std::numeric_limits<float>::quiet_NaN());
        int polls = 0;
        int finished = 0;
        CollOptions options;
        options.ready = [&]() -> Result<bool> {
          if (++polls < 3) return false;
          for (size_t i = 0; i < count; ++i) x[i] = Value(env.rank(), i);
          return true;
        };
        options.on_finish = [&](const Status& st) {
          EXPECT_OK(st);
          ++finished;
        };
        Result<Work> work = AllReduceAsync(*comm, x.data(), x.data(), count, DataType::kFloat32,
                                           ReduceOp::kSum, options);
        ASSERT_OK(work.status());
        ASSERT_OK(work->Wait(env.deadline()));
        EXPECT_EQ(polls, 3);
        EXPECT_EQ(finished, 1);
        for (size_t i = 0; i < count; ++i) {
          float want = 0.0f;
          for (int r = 0; r < n; ++r) want += Value(r, i);
          ASSERT_EQ(x[i], want) << "i=" << i;
        }
      });
    }
  }
}

// The finish callbacks of queued operations run once each, in issue order, and before each Work
// reports finished; blocking calls and other collectives run them too.
TEST_P(HooksTest, FinishCallbacksRunOnceInIssueOrder) {
  RunWorld(World(4), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    std::vector<int> order;
    std::vector<std::vector<int32_t>> bufs(6, std::vector<int32_t>(33));
    std::vector<Work> works;
    for (size_t k = 0; k < bufs.size(); ++k) {
      for (int32_t& v : bufs[k]) v = static_cast<int32_t>(k) + env.rank();
      CollOptions options;
      options.on_finish = [&order, k](const Status& st) {
        EXPECT_OK(st);
        order.push_back(static_cast<int>(k));
      };
      Result<Work> w = AllReduceAsync(*comm, bufs[k].data(), bufs[k].data(), bufs[k].size(),
                                      DataType::kInt32, ReduceOp::kMax, options);
      ASSERT_OK(w.status());
      works.push_back(std::move(*w));
    }
    for (size_t k = 0; k < works.size(); ++k) {
      ASSERT_OK(works[k].Wait(env.deadline()));
      ASSERT_GE(order.size(), k + 1) << "Work " << k << " finished before its callback ran";
    }
    ASSERT_EQ(order.size(), bufs.size());
    for (size_t k = 0; k < order.size(); ++k) EXPECT_EQ(order[k], static_cast<int>(k));
    for (size_t k = 0; k < bufs.size(); ++k) {
      for (int32_t v : bufs[k]) ASSERT_EQ(v, static_cast<int32_t>(k) + 3);
    }

    // Blocking AllReduce (which may otherwise run inline, bypassing the engine) and Broadcast.
    int calls = 0;
    CollOptions counted;
    counted.on_finish = [&calls](const Status&) { ++calls; };
    float one = static_cast<float>(env.rank());
    ASSERT_OK(AllReduce(*comm, &one, &one, 1, DataType::kFloat32, ReduceOp::kSum, counted));
    EXPECT_EQ(one, 6.0f);
    EXPECT_EQ(calls, 1);
    ASSERT_OK(Broadcast(*comm, &one, &one, 1, DataType::kFloat32, 2, counted));
    EXPECT_EQ(calls, 2);
  });
}

// With the signature check on (TIDAL_CHECK_COLLECTIVES=1), the on-host AllReduce runs the check as
// an operation of its own before the user's: the hooks belong to the user's operation only.
TEST_P(HooksTest, SignatureCheckDoesNotRunTheHooksTwice) {
  testing::ScopedEnv check("TIDAL_CHECK_COLLECTIVES", "1");
  RunWorld(World(3), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = testing::MakeOneHostCommunicator(env);
    ASSERT_NE(comm, nullptr);
    for (size_t count : {size_t{1}, size_t{5000}, size_t{300000}}) {
      std::vector<float> x(count, std::numeric_limits<float>::quiet_NaN());
      int polls = 0;
      int finished = 0;
      CollOptions options;
      options.ready = [&]() -> Result<bool> {
        ++polls;
        for (size_t i = 0; i < count; ++i) x[i] = Value(env.rank(), i);
        return true;
      };
      options.on_finish = [&](const Status& st) {
        EXPECT_OK(st);
        ++finished;
      };
      ASSERT_OK(
          AllReduce(*comm, x.data(), x.data(), count, DataType::kFloat32, ReduceOp::kSum, options));
      EXPECT_EQ(polls, 1) << "count " << count;
      EXPECT_EQ(finished, 1) << "count " << count;
      for (size_t i = 0; i < count; ++i) {
        ASSERT_EQ(x[i], Value(0, i) + Value(1, i) + Value(2, i)) << "count " << count << " i " << i;
      }
    }
  });
}

// A start condition that fails fails this rank's operation with its error, names the operation,
// and still runs the finish callback (with that error); the peers time out.
TEST_P(HooksTest, FailingStartConditionFailsTheOperation) {
  RunWorld(World(3, std::chrono::milliseconds(1'000)), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    std::vector<float> x(100, 1.0f);
    Status seen = Status::Ok();
    int finished = 0;
    CollOptions options;
    if (env.rank() == 1) {
      options.ready = []() -> Result<bool> {
        return IoError("cudaEventQuery: an illegal memory access was encountered");
      };
    }
    options.on_finish = [&](const Status& st) {
      seen = st;
      ++finished;
    };
    Result<Work> work = AllReduceAsync(*comm, x.data(), x.data(), x.size(), DataType::kFloat32,
                                       ReduceOp::kSum, options);
    ASSERT_OK(work.status());
    const Status st = work->Wait(env.deadline());
    ASSERT_FALSE(st.ok());
    // A failed or timed-out Wait may return before the engine has stopped the task and run the
    // callback (collectives.h, on_finish): wait for the task itself, with a deadline (Test()
    // drives it in cooperative mode).
    const Deadline stop = env.deadline();
    while (!(work->Test() && work->task()->finished()) && !stop.Expired()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_TRUE(work->task()->finished()) << "rank " << env.rank() << ": never stopped";
    EXPECT_EQ(finished, 1);
    EXPECT_EQ(seen.code(), st.code());
    if (env.rank() == 1) {
      EXPECT_EQ(st.code(), StatusCode::kIoError) << st.ToString();
      EXPECT_NE(st.message().find("illegal memory access"), std::string::npos) << st.ToString();
      EXPECT_NE(st.message().find("start condition"), std::string::npos) << st.ToString();
      EXPECT_NE(st.message().find("allreduce"), std::string::npos) << st.ToString();
    }
  });
}

// Point-to-point messages have no hooks: setting one is refused, not ignored.
TEST_P(HooksTest, PointToPointRefusesHooks) {
  RunWorld(World(2), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeCommunicator(env);
    ASSERT_NE(comm, nullptr);
    float v = 1.0f;
    CollOptions options;
    options.on_finish = [](const Status&) {};
    const Status st = env.rank() == 0 ? Send(*comm, &v, 1, DataType::kFloat32, 1, 0, options)
                                      : Recv(*comm, &v, 1, DataType::kFloat32, 0, 0, options);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
    EXPECT_NE(st.message().find("point-to-point"), std::string::npos) << st.ToString();
  });
}

INSTANTIATE_TEST_SUITE_P(Modes, HooksTest, ::testing::Values(Mode::kCooperative, Mode::kThreads),
                         [](const ::testing::TestParamInfo<Mode>& param) {
                           return std::string(testing::ModeName(param.param));
                         });

}  // namespace
}  // namespace tidal::coll

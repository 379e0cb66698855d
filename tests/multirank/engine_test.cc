// The progress engine in threads mode: asynchronous tasks on the background thread, blocking
// callers handing their waits to it, Abort from another thread while a caller drives.
#include "tidal/progress/engine.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>

#include "harness/world.h"
#include "tidal/transport/tag.h"

namespace tidal {
namespace {

using testing::Mode;
using testing::RankEnv;
using testing::RunWorld;
using testing::WorldOptions;

WorldOptions Threads(int size) {
  WorldOptions options;
  options.mode = Mode::kThreads;
  options.size = size;
  options.timeout = std::chrono::milliseconds(10'000);
  return options;
}

std::shared_ptr<RequestTask> Recv(int peer, uint32_t step, int32_t* value) {
  return std::make_shared<RequestTask>(RequestTask::Kind::kRecv, peer, MakeTag(5, 0, step, 0),
                                       value, sizeof(*value));
}

std::shared_ptr<RequestTask> Send(int peer, uint32_t step, int32_t* value) {
  return std::make_shared<RequestTask>(RequestTask::Kind::kSend, peer, MakeTag(5, 0, step, 0),
                                       value, sizeof(*value));
}

TEST(EngineTest, BlockingCallsHandTheirWaitToTheBackgroundThread) {
  RunWorld(Threads(2), [](RankEnv& env) {
    auto engine = Engine::CreateBorrowed(env.transport(), nullptr);
    const int peer = 1 - env.rank();
    int32_t async_value = 0;
    int32_t value = 0;
    std::shared_ptr<RequestTask> pending;
    if (env.rank() == 0) {
      // Rank 1 sends step 1 only after it received step 2: the asynchronous receive stays
      // pending on the background thread while this thread's blocking calls run.
      pending = Recv(peer, 1, &async_value);
      ASSERT_OK(engine->Submit(pending));
      EXPECT_TRUE(engine->background_started());
      value = 7;
      ASSERT_OK(engine->Run(Send(peer, 2, &value), env.deadline(), "send step 2"));
      ASSERT_OK(engine->Wait(pending, env.deadline(), "async recv step 1"));
      EXPECT_EQ(async_value, 8);
    } else {
      ASSERT_OK(engine->Run(Recv(peer, 2, &value), env.deadline(), "recv step 2"));
      EXPECT_EQ(value, 7);
      async_value = value + 1;
      ASSERT_OK(engine->Run(Send(peer, 1, &async_value), env.deadline(), "send step 1"));
      EXPECT_FALSE(engine->background_started());
    }
  });
}

TEST(EngineTest, AbortFromAnotherThreadEndsADrivingWaiter) {
  RunWorld(Threads(2), [](RankEnv& env) {
    auto engine = Engine::CreateBorrowed(env.transport(), nullptr);
    if (env.rank() == 1) return;
    int32_t value = 0;
    std::thread aborter([&engine] {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      engine->Abort(AbortedError("test abort"));
    });
    const auto start = std::chrono::steady_clock::now();
    const Status st = engine->Run(Recv(1, 3, &value), env.deadline(), "recv never sent");
    aborter.join();
    EXPECT_EQ(st.code(), StatusCode::kAborted) << st;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
    EXPECT_TRUE(engine->aborted());
    EXPECT_EQ(engine->Submit(Recv(1, 4, &value)).code(), StatusCode::kAborted);
  });
}

TEST(EngineTest, TimeoutStopsTheTaskAndReturnsAtTheDeadline) {
  RunWorld(Threads(2), [](RankEnv& env) {
    auto engine = Engine::CreateBorrowed(env.transport(), nullptr);
    if (env.rank() == 1) return;
    int32_t value = 0;
    auto task = Recv(1, 6, &value);
    const Status st = engine->Run(task, Deadline::AfterMs(100), "recv never sent");
    EXPECT_EQ(st.code(), StatusCode::kTimedOut) << st;
    EXPECT_NE(st.ToString().find("recv never sent"), std::string::npos) << st;
    EXPECT_TRUE(task->finished());  // the unmatched receive was cancelled within the grace
  });
}

}  // namespace
}  // namespace tidal

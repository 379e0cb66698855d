// The progress engine in threads mode: asynchronous tasks on the background thread, blocking
// callers handing their waits to it, Abort from another thread while a caller drives.
#include "tidal/progress/engine.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "harness/world.h"
#include "tidal/transport/tag.h"
#include "tidal/transport/wake_slice.h"

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

// Finishes once `release` is set; records which thread polled it last, and that thread's slice.
class GateTask : public Task {
 public:
  explicit GateTask(const std::atomic<bool>* release) : release_(release) {}
  bool Poll(Transport&) override {
    polled_slice_ns.store(ThreadSliceNs());
    polled_tid.store(gettid());
    return release_->load();
  }
  void Stop(Transport&, const Status& why) override { SetResult(why); }
  // Nothing on the transport wakes a sleeping driver for this task: ask for a poll every ms.
  Clock::time_point wake_at() const override { return Clock::now() + std::chrono::milliseconds(1); }
  std::atomic<int64_t> polled_slice_ns{-2};
  std::atomic<int> polled_tid{0};

 private:
  const std::atomic<bool>* release_;
};

// Whether `tid`'s slice reads `ns` at some point within 2 s (it does only while the thread sleeps).
bool SeesSlice(int tid, int64_t ns) {
  const Deadline deadline = Deadline::AfterMs(2000);
  while (!deadline.Expired()) {
    if (ThreadSliceNs(tid) == ns) return true;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return false;
}

// wake_slice.h: the progress thread and a blocked caller sleep with TIDAL_WAKE_SLICE_US (default
// 100 us) and run with their own slice. On kernels without custom slices (before 6.12) only the
// give-back is checked.
TEST(EngineTest, ThreadsSleepWithTheWakeSliceAndRunWithTheirOwn) {
  RunWorld(Threads(2), [](RankEnv& env) {
    if (env.rank() == 1) return;
    auto engine = Engine::CreateBorrowed(env.transport(), nullptr);
    const int64_t wake_ns = WakeSliceFromEnv().count() * 1000;
    int64_t default_ns = -1;
    bool supported = false;
    std::thread([&] {
      default_ns = ThreadSliceNs();
      WakeSliceSleep probe;
      supported = wake_ns > 0 && wake_ns != default_ns && ThreadSliceNs() == wake_ns;
    }).join();

    // Only the background thread drives until this thread waits; between polls it sleeps.
    std::atomic<bool> open{false};
    auto background = std::make_shared<GateTask>(&open);
    ASSERT_OK(engine->Submit(background));
    const Deadline polled = Deadline::AfterMs(2000);
    while (background->polled_tid.load() == 0 && !polled.Expired()) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    ASSERT_NE(background->polled_tid.load(), 0);
    EXPECT_EQ(background->polled_slice_ns.load(), default_ns);  // running: its own slice
    if (supported) {
      EXPECT_TRUE(SeesSlice(background->polled_tid.load(), wake_ns));  // asleep: the short one
    }
    open.store(true);
    ASSERT_OK(engine->Wait(background, env.deadline(), "gate on the background thread"));

    // A blocking caller drives its own task and sleeps between polls.
    std::atomic<bool> release{false};
    std::atomic<int> waiter_tid{0};
    int64_t after = -1;
    Status waited;
    auto gate = std::make_shared<GateTask>(&release);
    std::thread waiter([&] {
      waiter_tid.store(gettid());
      waited = engine->Run(gate, env.deadline(), "gate");
      after = ThreadSliceNs();
    });
    while (waiter_tid.load() == 0) std::this_thread::yield();
    const bool lowered = supported && SeesSlice(waiter_tid.load(), wake_ns);
    release.store(true);
    waiter.join();
    ASSERT_OK(waited);
    if (supported) {
      EXPECT_TRUE(lowered) << "the sleeping waiter never had the wake slice";
    }
    EXPECT_EQ(gate->polled_slice_ns.load(), default_ns);
    EXPECT_EQ(after, default_ns);
  });
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

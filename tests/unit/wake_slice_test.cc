// wake_slice.h: the short time slice a thread asks for while it sleeps inside tidal, and gives
// back when it wakes. Every case runs on a fresh thread, so the test runner's own thread keeps
// its scheduling. On kernels before 6.12 (no custom slices) the slice cannot be read back; then
// only "nothing changed afterwards" is checked.
#include "tidal/transport/wake_slice.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <thread>

namespace tidal {
namespace {

using std::chrono::microseconds;

void OnFreshThread(const std::function<void()>& body) { std::thread(body).join(); }

bool CustomSlicesSupported() {
  bool supported = false;
  OnFreshThread([&] {
    WakeSliceSleep sleep(microseconds(250));
    supported = sleep.lowered() && ThreadSliceNs() == 250'000;
  });
  return supported;
}

TEST(WakeSliceTest, LowersTheSliceForOneSleepAndRestoresIt) {
  const bool supported = CustomSlicesSupported();
  OnFreshThread([&] {
    const int64_t before = ThreadSliceNs();
    ASSERT_GE(before, 0);
    {
      WakeSliceSleep sleep(microseconds(200));
      if (supported) {
        EXPECT_TRUE(sleep.lowered());
        EXPECT_EQ(ThreadSliceNs(), 200'000);
      }
      {
        WakeSliceSleep nested(microseconds(200));  // already that slice: nothing to do
        EXPECT_FALSE(nested.lowered() && supported);
      }
      if (supported) {
        EXPECT_EQ(ThreadSliceNs(), 200'000);
      }
    }
    EXPECT_EQ(ThreadSliceNs(), before);
  });
}

TEST(WakeSliceTest, ZeroLeavesTheThreadAlone) {
  OnFreshThread([] {
    const int64_t before = ThreadSliceNs();
    {
      WakeSliceSleep sleep(microseconds(0));
      EXPECT_FALSE(sleep.lowered());
      EXPECT_EQ(ThreadSliceNs(), before);
    }
    EXPECT_EQ(ThreadSliceNs(), before);
  });
}

TEST(WakeSliceTest, KeepsTheThreadsNiceValue) {
  const bool supported = CustomSlicesSupported();
  OnFreshThread([&] {
    const id_t tid = static_cast<id_t>(gettid());
    ASSERT_EQ(setpriority(PRIO_PROCESS, tid, 7), 0);  // raising nice needs no privilege
    const int64_t before = ThreadSliceNs();
    {
      WakeSliceSleep sleep(microseconds(200));
      EXPECT_EQ(getpriority(PRIO_PROCESS, tid), 7);
      if (supported) {
        EXPECT_EQ(ThreadSliceNs(), 200'000);
      }
    }
    EXPECT_EQ(getpriority(PRIO_PROCESS, tid), 7);
    EXPECT_EQ(ThreadSliceNs(), before);
  });
}

TEST(WakeSliceTest, LeavesOtherSchedulingPoliciesAlone) {
  OnFreshThread([] {
    sched_param param{};
    ASSERT_EQ(pthread_setschedparam(pthread_self(), SCHED_IDLE, &param), 0);
    EXPECT_EQ(ThreadSliceNs(), -1);
    {
      WakeSliceSleep sleep(microseconds(200));
      EXPECT_FALSE(sleep.lowered());
    }
    int policy = -1;
    ASSERT_EQ(pthread_getschedparam(pthread_self(), &policy, &param), 0);
    EXPECT_EQ(policy, SCHED_IDLE);
  });
}

}  // namespace
}  // namespace tidal

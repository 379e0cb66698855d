// Liveness bookkeeping (HeartbeatMonitor), death messages, and the watcher over an InProcStore.
#include "tidal/progress/liveness.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

#include "harness/world.h"
#include "tidal/store/in_proc_store.h"
#include "tidal/store/job_keys.h"

namespace tidal {
namespace {

using std::chrono::milliseconds;

TEST(DeathStatusTest, NamesTheRankOnce) {
  const Status st = DeathStatus(3, "rank 3 was killed by signal 9 (SIGKILL)");
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_EQ(st.message(), "rank 3 died: was killed by signal 9 (SIGKILL)");
  EXPECT_EQ(DeathStatus(2, "aborted").message(), "rank 2 died: aborted");
}

TEST(HeartbeatMonitorTest, WatchesTheFollowingRanksOnly) {
  const Clock::time_point t0 = Clock::now();
  EXPECT_EQ(HeartbeatMonitor(3, 4, 2, milliseconds(100), t0).watched(), (std::vector<int>{0, 1}));
  EXPECT_EQ(HeartbeatMonitor(0, 2, 5, milliseconds(100), t0).watched(), (std::vector<int>{1}));
  EXPECT_TRUE(HeartbeatMonitor(0, 1, 2, milliseconds(100), t0).watched().empty());
}

TEST(HeartbeatMonitorTest, ReportsAPeerWhoseCounterStoppedOnce) {
  const Clock::time_point t0 = Clock::now();
  HeartbeatMonitor monitor(0, 4, 2, milliseconds(100), t0);
  monitor.Observe(1, 1, t0 + milliseconds(50));
  monitor.Observe(2, 1, t0 + milliseconds(50));
  monitor.Observe(1, 2, t0 + milliseconds(140));  // rank 1 beats, rank 2 does not
  EXPECT_TRUE(monitor.TakeExpired(t0 + milliseconds(140)).empty());
  EXPECT_EQ(monitor.TakeExpired(t0 + milliseconds(160)), (std::vector<int>{2}));
  EXPECT_TRUE(monitor.TakeExpired(t0 + milliseconds(170)).empty()) << "reported once";
  monitor.Forget(1);
  EXPECT_TRUE(monitor.TakeExpired(t0 + milliseconds(1000)).empty());
}

TEST(HeartbeatMonitorTest, APeerThatNeverBeatsExpiresFromTheStart) {
  const Clock::time_point t0 = Clock::now();
  HeartbeatMonitor monitor(1, 2, 1, milliseconds(100), t0);
  monitor.Observe(0, -1, t0 + milliseconds(90));
  EXPECT_EQ(monitor.TakeExpired(t0 + milliseconds(101)), (std::vector<int>{0}));
}

TEST(LivenessWatcherTest, LearnsAPostedDeathWithinTwoPollPeriods) {
  InProcStore store;
  std::atomic<int> wakes{0};
  LivenessOptions options;
  options.poll_period = milliseconds(20);
  auto watcher = LivenessWatcher::StartBorrowed(store, 0, 3, options, [&wakes] { ++wakes; });
  ASSERT_OK(SetString(store, DeathKey(2), "rank 2 exited with code 3", Deadline::AfterMs(1000)));
  ASSERT_OK(store.Add(kDeathCountKey, 1, Deadline::AfterMs(1000)).status());
  const auto start = Clock::now();
  while (watcher->death_count() == 0 && Clock::now() - start < milliseconds(2000)) {
    std::this_thread::yield();
  }
  EXPECT_LT(Clock::now() - start, 2 * options.poll_period + milliseconds(30));
  const std::vector<Death> deaths = watcher->DeathsSince(0);
  ASSERT_EQ(deaths.size(), 1u);
  EXPECT_EQ(deaths[0].rank, 2);
  EXPECT_EQ(deaths[0].why.message(), "rank 2 died: exited with code 3");
  EXPECT_EQ(wakes.load(), 1);
  EXPECT_TRUE(watcher->DeathsSince(1).empty());
}

TEST(LivenessWatcherTest, HeartbeatsPostARankThatStoppedBeating) {
  InProcStore store;
  LivenessOptions options;
  options.poll_period = milliseconds(10);
  options.heartbeat_period = milliseconds(10);
  options.heartbeat_timeout = milliseconds(150);
  // Ranks 0 and 1 of 3 run watchers; rank 2 never beats.
  auto w0 = LivenessWatcher::StartBorrowed(store, 0, 3, options, nullptr);
  auto w1 = LivenessWatcher::StartBorrowed(store, 1, 3, options, nullptr);
  const auto start = Clock::now();
  while ((w0->death_count() == 0 || w1->death_count() == 0) &&
         Clock::now() - start < milliseconds(3000)) {
    std::this_thread::yield();
  }
  ASSERT_EQ(w0->death_count(), 1u);
  ASSERT_EQ(w1->death_count(), 1u);
  EXPECT_EQ(w0->DeathsSince(0)[0].rank, 2);
  EXPECT_EQ(w1->DeathsSince(0)[0].rank, 2);
  EXPECT_NE(w1->DeathsSince(0)[0].why.message().find("stopped its heartbeat"), std::string::npos);
  Result<std::string> posted = GetString(store, DeathKey(2), Deadline::AfterMs(100));
  ASSERT_TRUE(posted.ok()) << posted.status();
  Result<int64_t> count = store.Add(kDeathCountKey, 0, Deadline::AfterMs(100));
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 1) << "posted once although two ranks noticed";
}

}  // namespace
}  // namespace tidal

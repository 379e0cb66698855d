// Communicator over the in-process transport and store: ring order and placements, Split, tag
// spaces, Barrier, liveness through the store, timeouts and Abort, in cooperative and threads
// modes.
#include "tidal/comm/communicator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "harness/world.h"
#include "tidal/progress/engine.h"
#include "tidal/store/job_keys.h"
#include "tidal/topology/ring.h"

namespace tidal {
namespace {

using testing::Mode;
using testing::RankEnv;
using testing::RunWorld;
using testing::WorldOptions;

constexpr auto kPoll = std::chrono::milliseconds(50);

// Two synthetic hosts with interleaved ranks, so that the ring order is not the rank order.
Placement PlacementOf(int rank) { return Placement{"h" + std::to_string(rank % 2), -1, -1, -1}; }

std::unique_ptr<Communicator> MakeComm(RankEnv& env) {
  LivenessOptions liveness;
  liveness.poll_period = kPoll;
  auto engine = Engine::CreateBorrowed(
      env.transport(),
      LivenessWatcher::StartBorrowed(env.store(), env.rank(), env.size(), liveness, nullptr));
  CommOptions options;
  options.timeout = env.options().timeout;
  options.placement = PlacementOf(env.rank());
  Result<std::unique_ptr<Communicator>> comm =
      Communicator::CreateOver(std::move(engine), env.store(), options);
  EXPECT_TRUE(comm.ok()) << comm.status();
  return comm.ok() ? std::move(comm).value() : nullptr;
}

class CommunicatorTest : public ::testing::TestWithParam<std::tuple<Mode, int>> {
 protected:
  WorldOptions World() const {
    WorldOptions options;
    options.mode = std::get<0>(GetParam());
    options.size = std::get<1>(GetParam());
    options.timeout = std::chrono::milliseconds(10'000);
    return options;
  }
};

TEST_P(CommunicatorTest, RingOrderAndPlacementsAgree) {
  RunWorld(World(), [](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeComm(env);
    ASSERT_NE(comm, nullptr);
    std::vector<Placement> expected;
    for (int r = 0; r < env.size(); ++r) expected.push_back(PlacementOf(r));
    const HostLayout layout = ComputeHostLayout(expected);
    EXPECT_EQ(comm->rank(), env.rank());
    EXPECT_EQ(comm->size(), env.size());
    EXPECT_EQ(comm->ring_order(), layout.ring);
    EXPECT_EQ(comm->ring_order()[static_cast<size_t>(comm->ring_position())], env.rank());
    EXPECT_EQ(comm->local_size(), (env.size() + 1 - env.rank() % 2) / 2);
    EXPECT_EQ(comm->local_rank(), layout.local_rank[static_cast<size_t>(env.rank())]);
    for (int r = 0; r < env.size(); ++r)
      EXPECT_EQ(comm->placement(r), expected[static_cast<size_t>(r)]);
    EXPECT_EQ(comm->id(), 1u);
  });
}

TEST_P(CommunicatorTest, SplitEvenOddWithReversedKeysDoesNotCrossTalk) {
  RunWorld(World(), [](RankEnv& env) {
    std::unique_ptr<Communicator> world = MakeComm(env);
    ASSERT_NE(world, nullptr);
    const int n = env.size();
    Result<std::unique_ptr<Communicator>> split = world->Split(env.rank() % 2, -env.rank());
    ASSERT_TRUE(split.ok()) << split.status();
    Communicator& sub = **split;
    // Members of my color, in reversed world order.
    std::vector<int> members;
    for (int r = n - 1; r >= 0; --r) {
      if (r % 2 == env.rank() % 2) members.push_back(r);
    }
    ASSERT_EQ(sub.size(), static_cast<int>(members.size()));
    EXPECT_EQ(sub.world_rank(sub.rank()), env.rank());
    for (int i = 0; i < sub.size(); ++i)
      EXPECT_EQ(sub.world_rank(i), members[static_cast<size_t>(i)]);
    EXPECT_GT(sub.id(), world->id());
    // The same tag on both communicators: each message arrives in its own tag space.
    const int32_t mine_world = 1000 + env.rank();
    const int32_t mine_sub = 2000 + sub.rank();
    ASSERT_OK(sub.Send((sub.rank() + 1) % sub.size(), &mine_sub, sizeof(mine_sub), 3));
    ASSERT_OK(world->Send((env.rank() + 1) % n, &mine_world, sizeof(mine_world), 3));
    int32_t got_world = 0;
    int32_t got_sub = 0;
    ASSERT_OK(world->Recv((env.rank() + n - 1) % n, &got_world, sizeof(got_world), 3));
    ASSERT_OK(sub.Recv((sub.rank() + sub.size() - 1) % sub.size(), &got_sub, sizeof(got_sub), 3));
    EXPECT_EQ(got_world, 1000 + (env.rank() + n - 1) % n);
    EXPECT_EQ(got_sub, 2000 + (sub.rank() + sub.size() - 1) % sub.size());
    // Every member of a group agrees on its id.
    uint32_t leader_id = sub.id();
    if (sub.rank() == 0) {
      for (int r = 1; r < sub.size(); ++r) ASSERT_OK(sub.Send(r, &leader_id, sizeof(leader_id)));
    } else {
      ASSERT_OK(sub.Recv(0, &leader_id, sizeof(leader_id)));
    }
    EXPECT_EQ(leader_id, sub.id());
    ASSERT_OK(world->Barrier());
  });
}

TEST_P(CommunicatorTest, NegativeColorIsNotAMember) {
  RunWorld(World(), [](RankEnv& env) {
    std::unique_ptr<Communicator> world = MakeComm(env);
    ASSERT_NE(world, nullptr);
    Result<std::unique_ptr<Communicator>> split = world->Split(env.rank() == 0 ? -1 : 7, 0);
    ASSERT_TRUE(split.ok()) << split.status();
    if (env.rank() == 0) {
      EXPECT_EQ(*split, nullptr);
      return;
    }
    ASSERT_NE(*split, nullptr);
    EXPECT_EQ((*split)->size(), env.size() - 1);
    EXPECT_EQ((*split)->rank(), env.rank() - 1);
    ASSERT_OK((*split)->Barrier());
  });
}

TEST_P(CommunicatorTest, BarrierWaitsForEveryRank) {
  auto arrived = std::make_shared<std::atomic<int>>(0);
  RunWorld(World(), [arrived](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeComm(env);
    ASSERT_NE(comm, nullptr);
    for (int round = 1; round <= 3; ++round) {
      arrived->fetch_add(1);
      ASSERT_OK(comm->Barrier());
      EXPECT_GE(arrived->load(), round * env.size()) << "round " << round;
      ASSERT_OK(comm->Barrier());
    }
  });
}

TEST_P(CommunicatorTest, DeathPostedToTheStoreFailsReceivesFromTheDeadRank) {
  if (std::get<1>(GetParam()) < 2) GTEST_SKIP() << "needs a peer";
  RunWorld(World(), [](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeComm(env);
    ASSERT_NE(comm, nullptr);
    const int dead = env.size() - 1;
    ASSERT_OK(comm->Barrier());
    if (env.rank() == dead) {
      // A silent death: the transport stays up, only the store says so (as tidalrun would).
      ASSERT_OK(SetString(env.store(), DeathKey(dead),
                          "rank " + std::to_string(dead) + " was killed by signal 9 (SIGKILL)",
                          env.deadline()));
      ASSERT_OK(env.store().Add(kDeathCountKey, 1, env.deadline()).status());
      return;
    }
    const auto start = std::chrono::steady_clock::now();
    int32_t value = 0;
    const Status st = comm->Recv(dead, &value, sizeof(value));
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st;
    EXPECT_NE(st.ToString().find("rank " + std::to_string(dead) + " died"), std::string::npos)
        << st;
    EXPECT_LT(took, 2 * kPoll + std::chrono::milliseconds(150)) << st;
    ASSERT_EQ(comm->engine().deaths().size(), 1u);
  });
}

TEST_P(CommunicatorTest, TimedOutReceiveLeavesTheCommunicatorUsable) {
  if (std::get<1>(GetParam()) < 2) GTEST_SKIP() << "needs a peer";
  RunWorld(World(), [](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeComm(env);
    ASSERT_NE(comm, nullptr);
    int32_t value = 0;
    if (env.rank() == 0) {
      comm->set_timeout(std::chrono::milliseconds(100));
      const Status st = comm->Recv(1, &value, sizeof(value), 9);
      EXPECT_EQ(st.code(), StatusCode::kTimedOut) << st;
      comm->set_timeout(env.options().timeout);
    }
    ASSERT_OK(comm->Barrier());
    if (env.rank() == 1) {
      value = 42;
      ASSERT_OK(comm->Send(0, &value, sizeof(value), 9));
    } else if (env.rank() == 0) {
      ASSERT_OK(comm->Recv(1, &value, sizeof(value), 9));
      EXPECT_EQ(value, 42);
    }
    ASSERT_OK(comm->Barrier());
  });
}

TEST_P(CommunicatorTest, AbortFailsLaterCallsAndPeersSeeTheAbortedRank) {
  if (std::get<1>(GetParam()) < 2) GTEST_SKIP() << "needs a peer";
  RunWorld(World(), [](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeComm(env);
    ASSERT_NE(comm, nullptr);
    ASSERT_OK(comm->Barrier());
    // A rank may leave the barrier while its last message to a peer is still on the way; the
    // abort must not overtake it, so the ranks also meet in the store before rank 1 aborts. (A
    // store wait, not RankEnv::WaitFor: a store change does not wake a wait on the transport.)
    const std::string all_past = "test/all-past-barrier";
    Result<int64_t> past = env.store().Add("test/past-barrier", 1, env.deadline());
    ASSERT_OK(past.status());
    if (*past == env.size()) ASSERT_OK(SetString(env.store(), all_past, "1", env.deadline()));
    int32_t value = 0;
    if (env.rank() == 1) {
      ASSERT_OK(env.store().Wait(std::span<const std::string>(&all_past, 1), env.deadline()));
      comm->Abort(AbortedError("test abort"));
      EXPECT_TRUE(comm->engine().aborted());
      EXPECT_EQ(comm->Send(0, &value, sizeof(value)).code(), StatusCode::kAborted);
      EXPECT_EQ(comm->Barrier().code(), StatusCode::kAborted);
      return;
    }
    const Status st = comm->Recv(1, &value, sizeof(value));
    EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st;
    EXPECT_NE(st.ToString().find("rank 1"), std::string::npos) << st;
  });
}

INSTANTIATE_TEST_SUITE_P(Cooperative, CommunicatorTest,
                         ::testing::Combine(::testing::Values(Mode::kCooperative),
                                            ::testing::Values(1, 2, 3, 4, 5, 8)));
INSTANTIATE_TEST_SUITE_P(Threads, CommunicatorTest,
                         ::testing::Combine(::testing::Values(Mode::kThreads),
                                            ::testing::Values(3, 4)));

}  // namespace
}  // namespace tidal

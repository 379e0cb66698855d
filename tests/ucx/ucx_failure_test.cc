// The UCX transport's failure paths and wake-up, as forked processes over TCP loopback and shared
// memory: Abort, FailPeer, a peer SIGKILLed mid-transfer (kUnavailable or kTimedOut within twice a
// 2 s deadline), sleeping on the event fd, Signal() from another thread, and 8 ranks on few cores.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <thread>
#include <vector>

#include "harness/world.h"
#include "tidal/transport/wait.h"
#include "ucx/ucx_fork_world.h"

namespace tidal::testing {
namespace {

using std::chrono::milliseconds;

void ExpectOutcomes(const std::vector<ForkOutcome>& outcomes, int killed_rank = -1) {
  for (const ForkOutcome& o : outcomes) {
    if (o.rank == killed_rank) {
      EXPECT_EQ(o.signal, SIGKILL) << "rank " << o.rank << " should have been killed";
    } else {
      EXPECT_TRUE(o.ok()) << "rank " << o.rank << ": exit code " << o.exit_code << ", signal "
                          << o.signal;
    }
  }
}

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

class UcxFailureTest : public ::testing::TestWithParam<UcxTls> {
 protected:
  ForkWorldOptions World(int size) const {
    ForkWorldOptions options;
    options.size = size;
    options.tls = GetParam();
    options.final_barrier = false;
    return options;
  }
};

// Rank 0 aborts with a receive nobody sends to and a 4 MiB send nobody receives pending.
TEST_P(UcxFailureTest, AbortCompletesPendingRequestsAndRefusesPosts) {
  ExpectOutcomes(RunForked(World(2), [](ForkRank& env) {
    // Wire-up done first: UCX 1.13 can assert in ucp_worker_destroy ("got REP message") when an
    // endpoint is torn down while a TCP wire-up reply is still pending.
    ASSERT_OK(ForkBarrier(env, 1));
    if (env.rank() == 1) {
      ASSERT_OK(env.WaitFlag("done", env.deadline()));
      return;
    }
    Transport& t = env.transport();
    std::vector<uint8_t> big(4 << 20, 1);
    uint64_t small = 0;
    Request recv, send;
    ASSERT_OK(t.PostRecv(1, MakeTag(1, 0, 0, 0), &small, sizeof(small), &recv));
    ASSERT_OK(t.PostSend(1, MakeTag(1, 1, 0, 0), big.data(), big.size(), &send));
    for (int i = 0; i < 100; ++i) t.Progress();
    EXPECT_TRUE(recv.pending());
    t.Abort(AbortedError("rank 0: test abort"));
    EXPECT_TRUE(t.aborted());
    Request* both[] = {&recv, &send};
    const Status status = WaitAll(t, both, Deadline::After(milliseconds(2000)), "aborted");
    EXPECT_EQ(status.code(), StatusCode::kAborted) << status;
    EXPECT_EQ(recv.status().code(), StatusCode::kAborted) << recv.status();
    EXPECT_EQ(send.status().code(), StatusCode::kAborted) << send.status();
    Request later;
    const Status refused = t.PostSend(1, 0, &small, sizeof(small), &later);
    EXPECT_EQ(refused.code(), StatusCode::kAborted) << refused;
    EXPECT_FALSE(later.pending());
    env.SetFlag("done");
  }));
}

// FailPeer(1) completes rank 0's requests involving rank 1 and every later one with the status.
TEST_P(UcxFailureTest, FailPeerCompletesItsRequests) {
  ExpectOutcomes(RunForked(World(3), [](ForkRank& env) {
    // Wire-up done first: UCX 1.13 can assert in ucp_worker_destroy ("got REP message") when an
    // endpoint is torn down while a TCP wire-up reply is still pending.
    ASSERT_OK(ForkBarrier(env, 1));
    if (env.rank() != 0) {
      ASSERT_OK(env.WaitFlag("done", env.deadline()));
      return;
    }
    Transport& t = env.transport();
    std::vector<uint8_t> big(4 << 20, 1);
    uint64_t small = 0, to_two = 5;
    Request recv, send;
    ASSERT_OK(t.PostRecv(1, MakeTag(1, 0, 0, 0), &small, sizeof(small), &recv));
    ASSERT_OK(t.PostSend(1, MakeTag(1, 1, 0, 0), big.data(), big.size(), &send));
    for (int i = 0; i < 100; ++i) t.Progress();
    t.FailPeer(1, UnavailableError("rank 1 died (test)"));
    Request* both[] = {&recv, &send};
    EXPECT_EQ(WaitAll(t, both, Deadline::After(milliseconds(2000)), "failed").code(),
              StatusCode::kUnavailable);
    EXPECT_EQ(send.status().code(), StatusCode::kUnavailable) << send.status();
    EXPECT_NE(recv.status().message().find("rank 1"), std::string_view::npos) << recv.status();
    Request later;
    ASSERT_OK(t.PostRecv(1, 0, &small, sizeof(small), &later));
    EXPECT_EQ(WaitRequest(t, later, env.deadline(), "later").code(), StatusCode::kUnavailable);
    // Rank 2 is unaffected.
    Request other;
    ASSERT_OK(t.PostSend(2, MakeTag(1, 2, 0, 0), &to_two, sizeof(to_two), &other));
    EXPECT_OK(WaitRequest(t, other, env.deadline(), "send to rank 2"));
    env.SetFlag("done");
  }));
}

// Rank 2 dies by SIGKILL after the first of eight 8 MiB chunks from rank 0. Ranks 0 and 1 (with
// a receive from rank 2 pending) learn it within twice a 2 s deadline: over TCP, UCX reports the
// dead peer (kUnavailable); over shared memory they time out (kTimedOut) and then declare the peer
// failed, as the liveness protocol would, which must complete everything.
TEST_P(UcxFailureTest, PeerKilledMidTransfer) {
  ExpectOutcomes(
      RunForked(
          World(3),
          [](ForkRank& env) {
            constexpr size_t kChunk = size_t{8} << 20;
            constexpr int kChunks = 8;
            Transport& t = env.transport();
            std::vector<uint8_t> buffer(kChunk * kChunks, 3);
            const milliseconds timeout(2000);
            if (env.rank() == 2) {
              Request first;
              ASSERT_OK(t.PostRecv(0, MakeTag(1, 0, 0, 0), buffer.data(), kChunk, &first));
              ASSERT_OK(WaitRequest(t, first, env.deadline(), "first chunk"));
              raise(SIGKILL);
            }
            std::vector<Request> requests(kChunks + 1);
            std::vector<Request*> pointers;
            uint64_t never = 0;
            ASSERT_OK(
                t.PostRecv(2, MakeTag(1, 99, 0, 0), &never, sizeof(never), &requests[kChunks]));
            pointers.push_back(&requests[kChunks]);
            if (env.rank() == 0) {
              for (int c = 0; c < kChunks; ++c) {
                ASSERT_OK(t.PostSend(2, MakeTag(1, static_cast<uint32_t>(c), 0, 0),
                                     buffer.data() + c * kChunk, kChunk, &requests[c]));
                pointers.push_back(&requests[c]);
              }
            }
            const auto start = Clock::now();
            const Status status =
                WaitAll(t, pointers, Deadline::After(timeout), "transfer with rank 2");
            const auto took = Clock::now() - start;
            EXPECT_LT(took, 2 * timeout);
            EXPECT_TRUE(status.code() == StatusCode::kUnavailable ||
                        status.code() == StatusCode::kTimedOut)
                << status;
            if (env.options().tls == UcxTls::kTcp && env.rank() == 0) {
              EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status;
              EXPECT_NE(status.message().find("rank 2"), std::string_view::npos) << status;
            }
            if (status.code() == StatusCode::kTimedOut) {
              t.FailPeer(2, UnavailableError("rank 2 died (liveness)"));
            }
            EXPECT_EQ(WaitAll(t, pointers, env.deadline(), "failed transfer").code(),
                      StatusCode::kUnavailable);
            std::printf(
                "[ucx %s] rank %d: %s after %lld ms\n", UcxTlsName(env.options().tls).c_str(),
                env.rank(), status.ToString().c_str(),
                static_cast<long long>(std::chrono::duration_cast<milliseconds>(took).count()));
          }),
      /*killed_rank=*/2);
}

// A waiter past its spin sleeps on the event fd: 300 ms of waiting cost little CPU, and the message
// still wakes it.
TEST_P(UcxFailureTest, WaiterSleepsOnEventFdAndIsWoken) {
  ExpectOutcomes(RunForked(World(2), [](ForkRank& env) {
    Transport& t = env.transport();
    ASSERT_OK(ForkBarrier(env, 1));  // wire-up done: only the wait is measured
    uint64_t value = 0;
    if (env.rank() == 1) {
      ASSERT_OK(env.WaitFlag("waiting", env.deadline()));
      std::this_thread::sleep_for(milliseconds(300));  // a delay, not a synchronization
      value = 99;
      Request send;
      ASSERT_OK(t.PostSend(0, 0, &value, sizeof(value), &send));
      ASSERT_OK(WaitRequest(t, send, env.deadline(), "send"));
      return;
    }
    Request recv;
    ASSERT_OK(t.PostRecv(1, 0, &value, sizeof(value), &recv));
    for (int i = 0; i < 100; ++i) t.Progress();
    env.SetFlag("waiting");
    const double cpu_before = CpuSeconds();
    const auto start = Clock::now();
    ASSERT_OK(WaitRequest(t, recv, env.deadline(), "recv"));
    const double wall = std::chrono::duration<double>(Clock::now() - start).count();
    const double cpu = CpuSeconds() - cpu_before;
    EXPECT_EQ(value, 99u);
    EXPECT_LT(cpu, 0.5 * wall) << "the waiter spun instead of sleeping: " << cpu << " s CPU in "
                               << wall << " s";
    std::printf("[ucx %s] waited %.0f ms using %.1f ms of CPU\n",
                UcxTlsName(env.options().tls).c_str(), wall * 1e3, cpu * 1e3);
  }));
}

TEST_P(UcxFailureTest, SignalFromAnotherThreadWakesTheEventFd) {
  ExpectOutcomes(RunForked(World(1), [](ForkRank& env) {
    Transport& t = env.transport();
    ASSERT_GE(t.EventFd(), 0);
    const Deadline deadline = env.deadline();
    while (!t.Arm()) {
      t.Progress();
      ASSERT_FALSE(deadline.Expired()) << "the transport never let itself be armed";
    }
    std::thread signaller([&t] {
      std::this_thread::sleep_for(milliseconds(50));
      t.Signal();
    });
    pollfd pfd{t.EventFd(), POLLIN, 0};
    const auto start = Clock::now();
    const int ready = poll(&pfd, 1, 5000);
    signaller.join();
    EXPECT_EQ(ready, 1);
    EXPECT_LT(Clock::now() - start, milliseconds(2000));
    t.Progress();
  }));
}

// Eight ranks on this machine's few cores: a ring of 1 KiB messages neither starves a rank nor
// pays a scheduler tick per message.
TEST_P(UcxFailureTest, EightRanksRing) {
  ForkWorldOptions options = World(8);
  options.final_barrier = true;
  ExpectOutcomes(RunForked(options, [](ForkRank& env) {
    constexpr int kRounds = 300;
    Transport& t = env.transport();
    const int next = (env.rank() + 1) % env.size();
    const int prev = (env.rank() + env.size() - 1) % env.size();
    std::vector<uint8_t> out(1024), in(1024);
    const auto start = Clock::now();
    for (int round = 0; round < kRounds; ++round) {
      out[0] = static_cast<uint8_t>(round + env.rank());
      Request send, recv;
      const Tag tag = MakeTag(1, static_cast<uint32_t>(round), 0, 0);
      ASSERT_OK(t.PostRecv(prev, tag, in.data(), in.size(), &recv));
      ASSERT_OK(t.PostSend(next, tag, out.data(), out.size(), &send));
      Request* both[] = {&send, &recv};
      ASSERT_OK(WaitAll(t, both, env.deadline(), "ring step"));
      ASSERT_EQ(in[0], static_cast<uint8_t>(round + prev));
    }
    if (env.rank() == 0) {
      const double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
      std::printf("[ucx %s] 8-rank ring: %.1f us per step\n", UcxTlsName(env.options().tls).c_str(),
                  us / kRounds);
    }
  }));
}

INSTANTIATE_TEST_SUITE_P(Loopback, UcxFailureTest, ::testing::Values(UcxTls::kTcp, UcxTls::kSm),
                         [](const auto& p) { return UcxTlsName(p.param); });

}  // namespace
}  // namespace tidal::testing

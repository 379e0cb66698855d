// The fault-injecting wrapper around in-process endpoints, driven from one thread: delay, rate
// limit, injected failures (exact count and seeded probability), kill, cancel of a held send, and
// the combined event fd that wakes a sleeping waiter when a delayed send falls due.
#include "tidal/transport/fault/fault_transport.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "harness/world.h"
#include "tidal/core/check.h"
#include "tidal/transport/inproc/inproc_transport.h"

namespace tidal {
namespace {

using std::chrono::milliseconds;

// Rank 0 is wrapped in a FaultTransport with `options`; the other ranks are plain.
struct World {
  std::shared_ptr<InProcFabric> fabric;
  FaultTransport* fault = nullptr;
  std::vector<std::unique_ptr<Transport>> ranks;
  Transport& operator[](int r) { return *ranks[static_cast<size_t>(r)]; }
};

World MakeWorld(int size, const FaultOptions& options) {
  World w;
  Result<std::shared_ptr<InProcFabric>> fabric = InProcFabric::Create(size, {});
  TIDAL_CHECK_OK(fabric);
  w.fabric = *fabric;
  for (int r = 0; r < size; ++r) {
    Result<std::unique_ptr<Transport>> t = w.fabric->CreateEndpoint(r);
    TIDAL_CHECK_OK(t);
    if (r == 0) {
      Result<std::unique_ptr<FaultTransport>> f = FaultTransport::Create(std::move(*t), options);
      TIDAL_CHECK_OK(f);
      w.fault = f->get();
      w.ranks.push_back(std::move(*f));
    } else {
      w.ranks.push_back(std::move(*t));
    }
  }
  return w;
}

bool Drive(World& w, const std::function<bool()>& done, milliseconds timeout = milliseconds(5000)) {
  const Deadline deadline = Deadline::After(timeout);
  while (!done()) {
    if (deadline.Expired()) return false;
    for (auto& t : w.ranks) t->Progress();
  }
  return true;
}

Tag T(uint32_t seq, uint32_t step = 0) { return MakeTag(0, seq, step, 0); }

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

TEST(FaultTransport, CreateValidatesOptions) {
  auto fabric = InProcFabric::Create(1, {});
  ASSERT_OK(fabric);
  auto endpoint = [&] { return std::move(*(*fabric)->CreateEndpoint(0)); };
  EXPECT_EQ(FaultTransport::Create(nullptr, {}).status().code(), StatusCode::kInvalidArgument);
  auto t = endpoint();
  EXPECT_EQ(
      FaultTransport::Create(std::move(t), FaultOptions{.fail_probability = 1.5}).status().code(),
      StatusCode::kInvalidArgument);
}

TEST(FaultTransport, PassesThroughWithoutFaults) {
  World w = MakeWorld(2, {});
  EXPECT_EQ(w[0].name(), "fault(inproc)");
  int out = 3, in = 0;
  Request send, recv;
  ASSERT_OK(w[0].PostSend(1, T(1), &out, 4, &send));
  ASSERT_OK(w[1].PostRecv(0, T(1), &in, 4, &recv));
  EXPECT_TRUE(send.pending());
  ASSERT_TRUE(Drive(w, [&] { return send.done() && recv.done(); }));
  EXPECT_EQ(in, 3);
  EXPECT_EQ(w.fault->posts(), 1);
}

TEST(FaultTransport, DelayHoldsSendsInOrder) {
  World w = MakeWorld(2, FaultOptions{.send_delay = milliseconds(50)});
  int out[3] = {1, 2, 3}, in[3] = {0, 0, 0};
  Request sends[3], recvs[3];
  const Clock::time_point start = Clock::now();
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(w[1].PostRecv(0, T(1), &in[i], 4, &recvs[i]));
    ASSERT_OK(w[0].PostSend(1, T(1), &out[i], 4, &sends[i]));
  }
  ASSERT_TRUE(Drive(w, [&] { return recvs[0].done(); }));
  EXPECT_GE(MsSince(start), 50.0);
  ASSERT_TRUE(Drive(w, [&] { return recvs[2].done() && sends[2].done(); }));
  EXPECT_EQ(in[0], 1);
  EXPECT_EQ(in[1], 2);
  EXPECT_EQ(in[2], 3);
}

TEST(FaultTransport, EventFdWakesWhenADelayedSendIsDue) {
  World w = MakeWorld(2, FaultOptions{.send_delay = milliseconds(50)});
  int out = 1, in = 0;
  Request send, recv;
  ASSERT_OK(w[1].PostRecv(0, T(1), &in, 4, &recv));
  const Clock::time_point start = Clock::now();
  ASSERT_OK(w[0].PostSend(1, T(1), &out, 4, &send));
  ASSERT_TRUE(w[0].Arm()) << "nothing is due yet";
  pollfd pfd{w[0].EventFd(), POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 2000), 1) << "the timer did not wake the waiter";
  EXPECT_GE(MsSince(start), 45.0);
  EXPECT_LT(MsSince(start), 1000.0);
  EXPECT_FALSE(w[0].Arm()) << "a held send is due";
  ASSERT_TRUE(Drive(w, [&] { return send.done() && recv.done(); }));
  // And the wrapped transport's fd is in the set: a message arriving wakes it too.
  Request recv2, send2;
  ASSERT_OK(w[0].PostRecv(1, T(2), &in, 4, &recv2));
  ASSERT_TRUE(w[0].Arm());
  ASSERT_OK(w[1].PostSend(0, T(2), &out, 4, &send2));
  EXPECT_EQ(::poll(&pfd, 1, 2000), 1);
  ASSERT_TRUE(Drive(w, [&] { return send2.done() && recv2.done(); }));
}

TEST(FaultTransport, RateLimitPacesBytes) {
  World w = MakeWorld(2, FaultOptions{.bytes_per_second = 10e6});
  std::vector<char> out(1'000'000, 'r'), in(1'000'000);
  Request send, recv;
  const Clock::time_point start = Clock::now();
  ASSERT_OK(w[1].PostRecv(0, T(1), in.data(), in.size(), &recv));
  ASSERT_OK(w[0].PostSend(1, T(1), out.data(), out.size(), &send));
  ASSERT_TRUE(Drive(w, [&] { return send.done() && recv.done(); }));
  EXPECT_GE(MsSince(start), 100.0);
  EXPECT_EQ(in, out);
}

TEST(FaultTransport, FailAfterPostsCountsExactly) {
  World w = MakeWorld(2, FaultOptions{.fail_after_posts = 3});
  int out = 1, in[5] = {};
  Request sends[5], recvs[3];
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(w[0].PostSend(1, T(1, i), &out, 4, &sends[i]));
    EXPECT_TRUE(sends[i].pending()) << "post " << i << " completed inline";
  }
  EXPECT_EQ(w.fault->posts(), 5);
  for (int i = 0; i < 3; ++i) ASSERT_OK(w[1].PostRecv(0, T(1, i), &in[i], 4, &recvs[i]));
  ASSERT_TRUE(Drive(w, [&] {
    for (const Request& r : sends) {
      if (!r.done()) return false;
    }
    return recvs[2].done();
  }));
  for (int i = 0; i < 3; ++i) EXPECT_OK(sends[i].status());
  for (int i = 3; i < 5; ++i) {
    EXPECT_EQ(sends[i].status().code(), StatusCode::kIoError);
    EXPECT_EQ(sends[i].status().message(),
              "rank 0 send to rank 1 tag(comm 0 seq 1 step " + std::to_string(i) +
                  " src 0): injected failure (post " + std::to_string(i) + ", fail_after_posts 3)");
  }
  // Receives count too.
  Request late;
  ASSERT_OK(w[0].PostRecv(1, T(2), &in[4], 4, &late));
  ASSERT_TRUE(Drive(w, [&] { return late.done(); }));
  EXPECT_EQ(late.status().code(), StatusCode::kIoError);
  EXPECT_EQ(w.fault->posts(), 6);
}

std::vector<bool> FailurePattern(uint64_t seed) {
  World w = MakeWorld(1, FaultOptions{.seed = seed, .fail_probability = 0.5});
  constexpr int kCount = 64;
  Request recvs[kCount];
  int sink = 0;
  for (Request& r : recvs) TIDAL_CHECK_OK(w[0].PostRecv(0, T(1), &sink, 4, &r));
  w[0].Progress();  // delivers the injected failures; the other receives stay unmatched
  std::vector<bool> failed;
  for (const Request& r : recvs) failed.push_back(r.done());
  for (Request& r : recvs) w[0].Cancel(&r);
  Drive(w, [&] {
    for (const Request& r : recvs) {
      if (!r.done()) return false;
    }
    return true;
  });
  return failed;
}

TEST(FaultTransport, FailProbabilityIsSeeded) {
  const std::vector<bool> a = FailurePattern(11);
  EXPECT_EQ(a, FailurePattern(11));
  EXPECT_NE(a, FailurePattern(12));
  const auto failures = std::count(a.begin(), a.end(), true);
  EXPECT_GT(failures, 10);
  EXPECT_LT(failures, 54);
}

TEST(FaultTransport, KillFailsOwnRequestsAndTellsPeers) {
  World w = MakeWorld(3, FaultOptions{.send_delay = milliseconds(1000)});
  int a = 0, b = 0, c = 0;
  Request own_recv, held_send, peer_recv, peer_send;
  ASSERT_OK(w[0].PostRecv(1, T(1), &a, 4, &own_recv));
  ASSERT_OK(w[0].PostSend(2, T(1), &a, 4, &held_send));
  ASSERT_OK(w[1].PostRecv(0, T(2), &b, 4, &peer_recv));
  w.fault->Kill();
  w.fault->Kill();  // idempotent
  EXPECT_TRUE(w.fault->killed());
  EXPECT_TRUE(w[0].aborted());
  ASSERT_OK(w[2].PostSend(0, T(3), &c, 4, &peer_send));
  ASSERT_TRUE(Drive(w, [&] {
    return own_recv.done() && held_send.done() && peer_recv.done() && peer_send.done();
  }));
  EXPECT_EQ(own_recv.status().code(), StatusCode::kAborted);
  EXPECT_EQ(held_send.status().code(), StatusCode::kAborted);
  EXPECT_EQ(peer_recv.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(peer_recv.status().message(),
            "rank 1 recv from rank 0 tag(comm 0 seq 2 step 0 src 0): rank 0 died: killed by fault "
            "injection");
  EXPECT_EQ(peer_send.status().code(), StatusCode::kUnavailable);
  Request later;
  ASSERT_OK(w[0].PostRecv(1, T(4), &a, 4, &later));
  EXPECT_TRUE(later.pending());
  ASSERT_TRUE(Drive(w, [&] { return later.done(); }));
  EXPECT_EQ(later.status().code(), StatusCode::kAborted);
}

TEST(FaultTransport, CancelHeldSend) {
  World w = MakeWorld(2, FaultOptions{.send_delay = milliseconds(20)});
  int out = 1, in = 0;
  Request send, recv;
  ASSERT_OK(w[0].PostSend(1, T(1), &out, 4, &send));
  w[0].Cancel(&send);
  ASSERT_TRUE(Drive(w, [&] { return send.done(); }));
  EXPECT_EQ(send.status().code(), StatusCode::kAborted);
  ASSERT_OK(w[1].PostRecv(0, T(1), &in, 4, &recv));
  EXPECT_FALSE(Drive(
      w, [&] { return recv.done(); }, milliseconds(40)));
  w[1].Cancel(&recv);
  ASSERT_TRUE(Drive(w, [&] { return recv.done(); }));
}

TEST(FaultTransport, FailPeerFailsHeldSends) {
  World w = MakeWorld(2, FaultOptions{.send_delay = milliseconds(1000)});
  int out = 1;
  Request send;
  ASSERT_OK(w[0].PostSend(1, T(1), &out, 4, &send));
  w[0].FailPeer(1, UnavailableError("rank 1 is gone"));
  ASSERT_TRUE(Drive(w, [&] { return send.done(); }));
  EXPECT_EQ(send.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace tidal

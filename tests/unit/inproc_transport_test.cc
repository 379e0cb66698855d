// The in-process transport, driven from one thread: 2-3 endpoints, Progress() called in a loop
// with a deadline. Covers what the conformance suite cannot see from outside: eager vs rendezvous
// copy timing, exact error messages, the shuffle's determinism, Abort/FailPeer and the event fd.
#include "tidal/transport/inproc/inproc_transport.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "harness/world.h"
#include "tidal/core/check.h"

namespace tidal {
namespace {

using std::chrono::milliseconds;

struct World {
  std::shared_ptr<InProcFabric> fabric;
  std::vector<std::unique_ptr<Transport>> ranks;
  Transport& operator[](int r) { return *ranks[static_cast<size_t>(r)]; }
};

World MakeWorld(int size, InProcOptions options = {}) {
  World w;
  Result<std::shared_ptr<InProcFabric>> fabric = InProcFabric::Create(size, options);
  TIDAL_CHECK_OK(fabric);
  w.fabric = *fabric;
  for (int r = 0; r < size; ++r) {
    Result<std::unique_ptr<Transport>> t = w.fabric->CreateEndpoint(r);
    TIDAL_CHECK_OK(t);
    w.ranks.push_back(std::move(*t));
  }
  return w;
}

// Drives every endpoint until `done()` or the deadline; returns done().
bool Drive(World& w, const std::function<bool()>& done, milliseconds timeout = milliseconds(5000)) {
  const Deadline deadline = Deadline::After(timeout);
  while (!done()) {
    if (deadline.Expired()) return false;
    for (auto& t : w.ranks) {
      if (t != nullptr) t->Progress();
    }
  }
  return true;
}

bool Done(const Request& r) { return r.done(); }

Tag T(uint32_t seq, uint32_t step = 0) { return MakeTag(0, seq, step, 0); }

TEST(InProcTransport, CreateValidates) {
  EXPECT_EQ(InProcFabric::Create(0, {}).status().code(), StatusCode::kInvalidArgument);
  auto fabric = InProcFabric::Create(2, {});
  ASSERT_OK(fabric);
  EXPECT_EQ((*fabric)->size(), 2);
  auto first = (*fabric)->CreateEndpoint(0);
  ASSERT_OK(first);
  EXPECT_EQ((*first)->name(), "inproc");
  EXPECT_EQ((*fabric)->CreateEndpoint(0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*fabric)->CreateEndpoint(2).status().code(), StatusCode::kInvalidArgument);
}

TEST(InProcTransport, NoInlineCompletionAndSourceStamping) {
  World w = MakeWorld(2);
  int out = 42, in = 0;
  Request send, recv;
  ASSERT_OK(w[1].PostRecv(0, T(1), &in, sizeof(in), &recv));
  ASSERT_OK(w[0].PostSend(1, T(1), &out, sizeof(out), &send));
  EXPECT_TRUE(send.pending());
  EXPECT_TRUE(recv.pending());  // matched already, completes only in rank 1's Progress()
  EXPECT_EQ(TagSource(send.tag()), 0u);
  EXPECT_EQ(TagSource(recv.tag()), 0u);
  EXPECT_EQ(w[0].Progress(), 1);
  EXPECT_TRUE(send.done());
  EXPECT_TRUE(recv.pending());
  EXPECT_EQ(w[1].Progress(), 1);
  ASSERT_OK(recv.status());
  EXPECT_EQ(recv.bytes(), sizeof(in));
  EXPECT_EQ(in, 42);
  EXPECT_EQ(w[1].Progress(), 0);
}

TEST(InProcTransport, EagerCopiesAtPost) {
  World w = MakeWorld(2, InProcOptions{.eager_bytes = 64});
  std::vector<char> out(64, 'a'), in(64, 0);
  Request send, recv;
  ASSERT_OK(w[0].PostSend(1, T(1), out.data(), out.size(), &send));
  ASSERT_TRUE(Drive(w, [&] { return Done(send); }));  // completes before any receive exists
  std::fill(out.begin(), out.end(), 'b');
  ASSERT_OK(w[1].PostRecv(0, T(1), in.data(), in.size(), &recv));
  ASSERT_TRUE(Drive(w, [&] { return Done(recv); }));
  EXPECT_EQ(in, std::vector<char>(64, 'a'));
}

// UCX-like rendezvous: a message above eager_bytes is copied from the sender's buffer when it
// matches, so writing to a pending large send's buffer changes what the receiver gets (a program
// must not do it; this test does it to prove when the copy happens), and the send stays pending
// until a receive matches it.
TEST(InProcTransport, RendezvousCopiesAtMatch) {
  World w = MakeWorld(2, InProcOptions{.eager_bytes = 64});
  std::vector<char> out(65, 'a'), in(65, 0);
  Request send, recv;
  ASSERT_OK(w[0].PostSend(1, T(1), out.data(), out.size(), &send));
  EXPECT_FALSE(Drive(
      w, [&] { return Done(send); }, milliseconds(20)));
  std::fill(out.begin(), out.end(), 'b');
  ASSERT_OK(w[1].PostRecv(0, T(1), in.data(), in.size(), &recv));
  ASSERT_TRUE(Drive(w, [&] { return Done(send) && Done(recv); }));
  ASSERT_OK(send.status());
  EXPECT_EQ(in, std::vector<char>(65, 'b'));
}

TEST(InProcTransport, TruncationFailsTheReceive) {
  World w = MakeWorld(2, InProcOptions{.eager_bytes = 1024});
  for (size_t bytes : {size_t{1000}, size_t{4096}}) {  // eager, rendezvous
    std::vector<char> out(bytes, 'x'), in(bytes / 4, 0);
    Request send, recv;
    ASSERT_OK(w[1].PostRecv(0, MakeTag(0, 3, 1, 0), in.data(), in.size(), &recv));
    ASSERT_OK(w[0].PostSend(1, MakeTag(0, 3, 1, 0), out.data(), out.size(), &send));
    ASSERT_TRUE(Drive(w, [&] { return Done(send) && Done(recv); }));
    EXPECT_OK(send.status());
    EXPECT_EQ(recv.status().code(), StatusCode::kIoError);
    EXPECT_EQ(recv.status().message(),
              "rank 1 recv from rank 0 tag(comm 0 seq 3 step 1 src 0): message of " +
                  std::to_string(bytes) + " bytes truncated to " + std::to_string(bytes / 4));
  }
}

TEST(InProcTransport, ShorterMessageFillsAPrefix) {
  World w = MakeWorld(2);
  const char out[4] = {1, 2, 3, 4};
  std::vector<char> in(8, 9);
  Request send, recv;
  ASSERT_OK(w[0].PostSend(1, T(1), out, sizeof(out), &send));
  ASSERT_OK(w[1].PostRecv(0, T(1), in.data(), in.size(), &recv));
  ASSERT_TRUE(Drive(w, [&] { return Done(send) && Done(recv); }));
  EXPECT_EQ(recv.bytes(), 4u);
  EXPECT_EQ(in, (std::vector<char>{1, 2, 3, 4, 9, 9, 9, 9}));
}

TEST(InProcTransport, ValidatesArgumentsAndPostsNothing) {
  World w = MakeWorld(2);
  int x = 0;
  Request r;
  EXPECT_EQ(w[0].PostSend(2, T(1), &x, 4, &r).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(w[0].PostRecv(-1, T(1), &x, 4, &r).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(w[0].PostSend(1, T(1), nullptr, 4, &r).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(w[0].PostRecv(1, T(1), &x, 4, nullptr).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(r.pending());
  ASSERT_OK(w[0].PostRecv(1, T(1), &x, 4, &r));
  const Status twice = w[0].PostRecv(1, T(2), &x, 4, &r);
  EXPECT_EQ(twice.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(twice.message().find("rank 0 recv from rank 1"), std::string_view::npos) << twice;
  // Nothing reached rank 1 from the refused send: a receive there stays unmatched.
  Request probe;
  ASSERT_OK(w[1].PostRecv(0, T(1), &x, 4, &probe));
  EXPECT_FALSE(Drive(
      w, [&] { return Done(probe); }, milliseconds(10)));
  w[0].Cancel(&r);
  w[1].Cancel(&probe);
  ASSERT_TRUE(Drive(w, [&] { return Done(r) && Done(probe); }));
}

// Records the order in which 3 ranks' receives of 40 messages (on 4 tags) complete.
std::vector<int> ShuffledOrder(uint64_t seed, bool shuffle) {
  World w = MakeWorld(3, InProcOptions{.shuffle = shuffle, .seed = seed});
  constexpr int kCount = 40;
  std::vector<int> out(kCount), in(kCount, -1), order;
  Request sends[kCount], recvs[kCount];
  for (int i = 0; i < kCount; ++i) {
    out[i] = i;
    TIDAL_CHECK_OK(w[2].PostRecv(i % 2, T(1, i % 4), &in[i], sizeof(int), &recvs[i]));
  }
  for (int i = 0; i < kCount; ++i) {
    TIDAL_CHECK_OK(w[i % 2].PostSend(2, T(1, i % 4), &out[i], sizeof(int), &sends[i]));
  }
  std::vector<bool> seen(kCount, false);
  Drive(w, [&] {
    for (int i = 0; i < kCount; ++i) {
      if (recvs[i].done() && !seen[i]) {
        seen[i] = true;
        order.push_back(i);
      }
    }
    for (const Request& s : sends) {
      if (!s.done()) return false;
    }
    return static_cast<int>(order.size()) == kCount;
  });
  for (int i = 0; i < kCount; ++i) EXPECT_EQ(in[i], i) << "FIFO per (source, tag) broken";
  return order;
}

TEST(InProcTransport, ShuffleIsDeterministicPerSeedAndKeepsFifo) {
  const std::vector<int> plain = ShuffledOrder(1, false);
  ASSERT_EQ(plain.size(), 40u);
  const std::vector<int> a = ShuffledOrder(7, true);
  EXPECT_EQ(a, ShuffledOrder(7, true));
  EXPECT_NE(a, plain);
  EXPECT_NE(a, ShuffledOrder(8, true));
}

TEST(InProcTransport, CancelUnmatchedReceiveThenReceiveAgain) {
  World w = MakeWorld(2);
  int in = 0, out = 5;
  Request cancelled, send, recv;
  ASSERT_OK(w[1].PostRecv(0, T(1), &in, sizeof(in), &cancelled));
  w[1].Cancel(&cancelled);
  EXPECT_TRUE(cancelled.pending());  // completes in Progress()
  ASSERT_TRUE(Drive(w, [&] { return Done(cancelled); }));
  EXPECT_EQ(cancelled.status().code(), StatusCode::kAborted);
  ASSERT_OK(w[0].PostSend(1, T(1), &out, sizeof(out), &send));
  ASSERT_OK(w[1].PostRecv(0, T(1), &in, sizeof(in), &recv));
  ASSERT_TRUE(Drive(w, [&] { return Done(send) && Done(recv); }));
  EXPECT_OK(recv.status());
  EXPECT_EQ(in, 5);
}

TEST(InProcTransport, CancelAfterMatchCompletesNormally) {
  World w = MakeWorld(2, InProcOptions{.eager_bytes = 4});
  int small = 1, in_small = 0;
  std::vector<char> big(64, 'z'), in_big(64, 0);
  Request s1, s2, r1, r2;
  ASSERT_OK(w[0].PostSend(1, T(1), &small, sizeof(small), &s1));        // eager: left already
  ASSERT_OK(w[1].PostRecv(0, T(1), &in_small, sizeof(in_small), &r1));  // matched at post
  ASSERT_OK(w[1].PostRecv(0, T(2), in_big.data(), in_big.size(), &r2));
  ASSERT_OK(w[0].PostSend(1, T(2), big.data(), big.size(), &s2));  // rendezvous, matched at post
  for (Request* r : {&s1, &s2}) w[0].Cancel(r);
  for (Request* r : {&r1, &r2}) w[1].Cancel(r);
  ASSERT_TRUE(Drive(w, [&] { return Done(s1) && Done(s2) && Done(r1) && Done(r2); }));
  for (Request* r : {&s1, &s2, &r1, &r2}) EXPECT_OK(r->status());
  EXPECT_EQ(in_small, 1);
  EXPECT_EQ(in_big, big);
}

TEST(InProcTransport, CancelUnmatchedRendezvousSend) {
  World w = MakeWorld(2, InProcOptions{.eager_bytes = 4});
  std::vector<char> big(64, 'z'), in(64, 0);
  Request send, recv;
  ASSERT_OK(w[0].PostSend(1, T(1), big.data(), big.size(), &send));
  w[0].Cancel(&send);
  ASSERT_TRUE(Drive(w, [&] { return Done(send); }));
  EXPECT_EQ(send.status().code(), StatusCode::kAborted);
  ASSERT_OK(w[1].PostRecv(0, T(1), in.data(), in.size(), &recv));
  EXPECT_FALSE(Drive(
      w, [&] { return Done(recv); }, milliseconds(10)))
      << "a cancelled send arrived";
  w[1].Cancel(&recv);
  ASSERT_TRUE(Drive(w, [&] { return Done(recv); }));
}

TEST(InProcTransport, AbortFailsOwnAndPeersRequests) {
  World w = MakeWorld(3, InProcOptions{.eager_bytes = 4});
  int a = 0, b = 0, c = 0;
  std::vector<char> big(64, 'z'), sink(64);
  Request own_recv, own_rndv, peer1_recv, peer2_recv, peer1_rndv;
  ASSERT_OK(w[0].PostRecv(1, T(1), &a, 4, &own_recv));
  ASSERT_OK(w[0].PostSend(1, T(2), big.data(), big.size(), &own_rndv));
  ASSERT_OK(w[1].PostRecv(0, T(3), &b, 4, &peer1_recv));
  ASSERT_OK(w[2].PostRecv(0, T(3), &c, 4, &peer2_recv));
  ASSERT_OK(w[1].PostSend(0, T(4), big.data(), big.size(), &peer1_rndv));
  w[0].Abort(AbortedError("test abort"));
  EXPECT_TRUE(w[0].aborted());
  ASSERT_TRUE(Drive(w, [&] {
    return Done(own_recv) && Done(own_rndv) && Done(peer1_recv) && Done(peer2_recv) &&
           Done(peer1_rndv);
  }));
  EXPECT_EQ(own_recv.status().code(), StatusCode::kAborted);
  EXPECT_EQ(own_rndv.status().code(), StatusCode::kAborted);
  for (Request* r : {&peer1_recv, &peer2_recv, &peer1_rndv}) {
    EXPECT_EQ(r->status().code(), StatusCode::kUnavailable);
    EXPECT_NE(r->status().message().find("rank 0 died: test abort"), std::string_view::npos)
        << r->status();
  }
  EXPECT_EQ(peer2_recv.status().message(),
            "rank 2 recv from rank 0 tag(comm 0 seq 3 step 0 src 0): rank 0 died: test abort");
  // The aborted rank's rendezvous send was removed: rank 1 cannot receive it. Later posts fail.
  Request late_recv, late_send, after;
  ASSERT_OK(w[1].PostRecv(0, T(2), sink.data(), sink.size(), &late_recv));
  ASSERT_OK(w[2].PostSend(0, T(5), &c, 4, &late_send));
  ASSERT_OK(w[0].PostRecv(2, T(5), &a, 4, &after));
  ASSERT_TRUE(Drive(w, [&] { return Done(late_recv) && Done(late_send) && Done(after); }));
  EXPECT_EQ(late_recv.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(late_send.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(after.status().code(), StatusCode::kAborted);
}

TEST(InProcTransport, FailPeerIsLocal) {
  World w = MakeWorld(3, InProcOptions{.eager_bytes = 4});
  int a = 0, b = 0;
  std::vector<char> big(64, 'z'), in(64);
  Request from1, rndv_to1, from2, rndv_from1;
  ASSERT_OK(w[0].PostRecv(1, T(1), &a, 4, &from1));
  ASSERT_OK(w[0].PostSend(1, T(2), big.data(), big.size(), &rndv_to1));
  ASSERT_OK(w[0].PostRecv(2, T(1), &b, 4, &from2));
  ASSERT_OK(w[1].PostSend(0, T(3), big.data(), big.size(), &rndv_from1));
  w[0].FailPeer(1, UnavailableError("rank 1 is gone"));
  ASSERT_TRUE(Drive(w, [&] { return Done(from1) && Done(rndv_to1) && Done(rndv_from1); }));
  for (Request* r : {&from1, &rndv_to1, &rndv_from1}) {
    EXPECT_EQ(r->status().code(), StatusCode::kUnavailable) << r->status();
  }
  EXPECT_NE(from1.status().message().find("rank 1 is gone"), std::string_view::npos);
  EXPECT_TRUE(from2.pending());  // other peers are unaffected
  Request later;
  ASSERT_OK(w[0].PostSend(1, T(4), &a, 4, &later));
  ASSERT_TRUE(Drive(w, [&] { return Done(later); }));
  EXPECT_EQ(later.status().code(), StatusCode::kUnavailable);
  w[0].Cancel(&from2);
  ASSERT_TRUE(Drive(w, [&] { return Done(from2); }));
}

TEST(InProcTransport, DestructorAbortsAndCompletesPending) {
  World w = MakeWorld(2);
  int a = 0, b = 0;
  Request own, peer;
  ASSERT_OK(w[0].PostRecv(1, T(1), &a, 4, &own));
  ASSERT_OK(w[1].PostRecv(0, T(1), &b, 4, &peer));
  w.ranks[0].reset();
  ASSERT_TRUE(own.done());
  EXPECT_EQ(own.status().code(), StatusCode::kAborted);
  ASSERT_TRUE(Drive(w, [&] { return Done(peer); }));
  EXPECT_EQ(peer.status().code(), StatusCode::kUnavailable);
}

bool Readable(int fd) {
  pollfd pfd{fd, POLLIN, 0};
  return ::poll(&pfd, 1, 0) == 1;
}

TEST(InProcTransport, EventFdBecomesReadableWhenWorkArrives) {
  World w = MakeWorld(2);
  int out = 1, in = 0;
  Request send, recv;
  ASSERT_GE(w[1].EventFd(), 0);
  ASSERT_OK(w[1].PostRecv(0, T(1), &in, 4, &recv));
  ASSERT_TRUE(w[1].Arm());
  EXPECT_FALSE(Readable(w[1].EventFd()));
  ASSERT_OK(w[0].PostSend(1, T(1), &out, 4, &send));
  EXPECT_TRUE(Readable(w[1].EventFd()));
  EXPECT_FALSE(w[1].Arm()) << "a completion is queued: Arm must refuse";
  EXPECT_EQ(w[1].Progress(), 1);
  EXPECT_TRUE(w[1].Arm());
  EXPECT_FALSE(Readable(w[1].EventFd()));
  w[1].Signal();
  EXPECT_TRUE(Readable(w[1].EventFd()));
  ASSERT_TRUE(Drive(w, [&] { return Done(send); }));
}

}  // namespace
}  // namespace tidal

// The conformance cases about errors: cancellation, truncation, injected failures and a killed
// rank. Each checks the status code and that the message names what a user needs (the operation,
// the injection, the dead rank).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "harness/transport_conformance_internal.h"
#include "tidal/transport/fault/fault_transport.h"

namespace tidal::testing::conformance {
namespace {

constexpr size_t kWord = sizeof(uint32_t);

bool Contains(const Status& status, std::string_view text) {
  return status.message().find(text) != std::string_view::npos;
}

}  // namespace

void CancelRecv(RankEnv& env) {
  const int me = env.rank();
  const int left = Left(env);
  const int right = Right(env);
  const Tag data_tag = CaseTag(ConformanceCase::kCancelRecv, 0, 0);
  const Tag go_tag = CaseTag(ConformanceCase::kCancelRecv, 0, 1);
  std::vector<uint32_t> in(8, 0);
  // Nobody sends on data_tag yet: the receive cannot have matched, so it must end kAborted.
  Request cancelled;
  ASSERT_TRUE(Recv(env, left, data_tag, in.data(), in.size() * kWord, cancelled));
  env.transport().Cancel(&cancelled);
  const Status st = env.Wait(cancelled, "cancelled receive");
  ASSERT_EQ(st.code(), StatusCode::kAborted) << st;
  // Tell the left neighbour that it may send now; wait until the right one says the same.
  Request go_out, go_in, send, recv;
  ASSERT_TRUE(Recv(env, right, go_tag, nullptr, 0, go_in));
  ASSERT_TRUE(Send(env, left, go_tag, nullptr, 0, go_out));
  ASSERT_OK(env.Wait(go_in, "go from the right neighbour"));
  const std::vector<uint32_t> out = Words(me, right, in.size(), 9);
  ASSERT_TRUE(Send(env, right, data_tag, out.data(), out.size() * kWord, send));
  ASSERT_TRUE(Recv(env, left, data_tag, in.data(), in.size() * kWord, recv));
  Request* all[] = {&go_out, &send, &recv};
  ASSERT_OK(env.WaitAll(all, "exchange after the cancel"));
  EXPECT_TRUE(Holds(recv, in.data(), left, me, in.size(), 9));
  // Cancelling a finished request changes nothing.
  env.transport().Cancel(&recv);
  EXPECT_TRUE(recv.done());
  EXPECT_OK(recv.status());
}

void Truncation(RankEnv& env) {
  const int me = env.rank();
  const int left = Left(env);
  const int right = Right(env);
  // Round 0: 4 words into room for 16: a prefix, bytes() == 16. Round 1: 16 words into room for 4
  // (eager sizes). Round 2: rendezvous-sized, into half the room. The rendezvous truncation comes
  // last: UCX 1.13 over TCP may declare the link failed after it (see transport.h), so nothing in
  // this case follows it on that link.
  const size_t sent_words[] = {4, 16, 16384};
  const size_t room_words[] = {16, 4, 8192};
  for (uint32_t round = 0; round < 3; ++round) {
    const Tag tag = CaseTag(ConformanceCase::kTruncation, round, 0);
    const std::vector<uint32_t> out = Words(me, right, sent_words[round], round);
    std::vector<uint32_t> in(room_words[round], 0xEEEEEEEEu);
    Request send, recv;
    ASSERT_TRUE(Recv(env, left, tag, in.data(), in.size() * kWord, recv));
    ASSERT_TRUE(Send(env, right, tag, out.data(), out.size() * kWord, send));
    const Status received = env.Wait(recv, "receive");
    // The sender is not told about the receiver's truncation (UCX's eager protocol); whatever it
    // is told, the send must complete.
    const Status sent = env.Wait(send, "send");
    EXPECT_NE(sent.code(), StatusCode::kTimedOut) << sent;
    if (round > 0) {
      EXPECT_EQ(received.code(), StatusCode::kIoError) << "round " << round << ": " << received;
      EXPECT_TRUE(Contains(received, "truncat")) << received;
      continue;
    }
    ASSERT_OK(received);
    EXPECT_TRUE(Holds(recv, in.data(), left, me, sent_words[round], round));
    for (size_t i = sent_words[round]; i < in.size(); ++i) {
      EXPECT_EQ(in[i], 0xEEEEEEEEu) << "word " << i << " past the message was written";
    }
  }
}

void InjectedFailure(RankEnv& env) {
  FaultTransport* fault = env.fault();
  ASSERT_NE(fault, nullptr) << "kInjectedFailure needs WorldOptions::fault";
  const int64_t k = fault->options().fail_after_posts;
  ASSERT_GE(k, 0);
  ASSERT_EQ(k % 2, 0) << "fail_after_posts must be even: the case posts in pairs";
  const int me = env.rank();
  const int left = Left(env);
  const int right = Right(env);
  uint32_t step = 0;
  // Posts before the K-th succeed: ring exchanges, one receive and one send each.
  for (; fault->posts() + 2 <= k; ++step) {
    const Tag tag = CaseTag(ConformanceCase::kInjectedFailure, 0, step);
    uint32_t in = 0;
    const uint32_t out = Word(me, right, step, 0);
    Request req[2];
    ASSERT_TRUE(Recv(env, left, tag, &in, kWord, req[0]));
    ASSERT_TRUE(Send(env, right, tag, &out, kWord, req[1]));
    Request* all[] = {&req[0], &req[1]};
    ASSERT_OK(env.WaitAll(all, "exchange before the injected failures"));
    ASSERT_EQ(in, Word(left, me, step, 0));
  }
  ASSERT_EQ(fault->posts(), k);
  // From the K-th post on, every post fails, in Progress(), never inline.
  const Tag tag = CaseTag(ConformanceCase::kInjectedFailure, 0, step);
  uint32_t in = 0;
  const uint32_t out = 1;
  Request recv, send;
  ASSERT_TRUE(Recv(env, left, tag, &in, kWord, recv));
  ASSERT_TRUE(Send(env, right, tag, &out, kWord, send));
  EXPECT_EQ(fault->posts(), k + 2);
  for (Request* r : {&recv, &send}) {
    const Status st = env.Wait(*r, "request after fail_after_posts");
    EXPECT_EQ(st.code(), StatusCode::kIoError) << st;
    EXPECT_TRUE(Contains(st, "injected failure")) << st;
  }
}

void KillRank(RankEnv& env) {
  FaultTransport* fault = env.fault();
  ASSERT_NE(fault, nullptr) << "kKillRank needs WorldOptions::fault";
  const int me = env.rank();
  const int victim = env.size() - 1;
  const Tag never = CaseTag(ConformanceCase::kKillRank, 0, 0);
  const Tag ready = CaseTag(ConformanceCase::kKillRank, 0, 1);
  if (me != victim) {
    // Post a receive from the victim that it will never send, then tell it to die.
    Request doomed, ready_send;
    uint32_t in = 0;
    ASSERT_TRUE(Recv(env, victim, never, &in, kWord, doomed));
    ASSERT_TRUE(Send(env, victim, ready, nullptr, 0, ready_send));
    const Status st = env.Wait(doomed, "receive from the killed rank");
    EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st;
    EXPECT_TRUE(Contains(st, "rank " + std::to_string(victim))) << st;
    // The victim received "ready" before dying; whether the sender heard of that is open.
    const Status sent = env.Wait(ready_send, "ready");
    EXPECT_TRUE(sent.ok() || sent.code() == StatusCode::kUnavailable) << sent;
    return;
  }
  Requests readies(static_cast<size_t>(victim));
  for (int p = 0; p < victim; ++p) {
    ASSERT_TRUE(Recv(env, p, ready, nullptr, 0, readies[p]));
  }
  ASSERT_OK(env.WaitAll(readies.all(), "ready from every other rank"));
  uint32_t in = 0;
  Request own;  // pending when the rank dies
  ASSERT_TRUE(Recv(env, 0, never, &in, kWord, own));
  fault->Kill();
  EXPECT_TRUE(fault->killed());
  Status st = env.Wait(own, "own receive at the kill");
  EXPECT_EQ(st.code(), StatusCode::kAborted) << st;
  Request later;
  ASSERT_TRUE(Recv(env, 0, never, &in, kWord, later));
  st = env.Wait(later, "receive after the kill");
  EXPECT_EQ(st.code(), StatusCode::kAborted) << st;
}

}  // namespace tidal::testing::conformance

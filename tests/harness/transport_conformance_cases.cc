// The basic conformance cases: ordering, matching, sizes, many requests, all-to-all, ring.
// Each sends closed-form words (Word()) and checks every received word. Every rank is also its
// own peer where a case loops over all ranks, so a world of one rank exercises self-sends.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "harness/transport_conformance_internal.h"

namespace tidal::testing::conformance {
namespace {

constexpr size_t kWord = sizeof(uint32_t);

// Words of message `i` in the ordering cases: mostly small, every fourth above any usual eager
// threshold, so FIFO must hold across eager and rendezvous protocols.
size_t OrderingWords(int i) { return static_cast<size_t>(i % 4 == 3 ? 4096 + i : 1 + i % 8); }

// Every message rank -> peer of the ordering cases, and its receive buffer.
struct PerPeer {
  std::vector<std::vector<uint32_t>> out;
  std::vector<std::vector<uint32_t>> in;
};

}  // namespace

void NoInlineCompletion(RankEnv& env) {
  const int me = env.rank();
  const int left = Left(env);
  const int right = Right(env);
  const size_t small = 16;
  const size_t large = 16384;  // 64 KiB
  const std::vector<uint32_t> out_small = Words(me, right, small, 1);
  const std::vector<uint32_t> out_large = Words(me, right, large, 2);
  const std::vector<uint32_t> out_self = Words(me, me, small, 3);
  std::vector<uint32_t> in_small(small), in_large(large), in_self(small);
  Requests req(6);
  ASSERT_TRUE(Recv(env, left, CaseTag(ConformanceCase::kNoInlineCompletion, 0, 0), in_small.data(),
                   small * kWord, req[0]));
  ASSERT_TRUE(Recv(env, left, CaseTag(ConformanceCase::kNoInlineCompletion, 0, 1), in_large.data(),
                   large * kWord, req[1]));
  ASSERT_TRUE(Send(env, right, CaseTag(ConformanceCase::kNoInlineCompletion, 0, 0),
                   out_small.data(), small * kWord, req[2]));
  ASSERT_TRUE(Send(env, right, CaseTag(ConformanceCase::kNoInlineCompletion, 0, 1),
                   out_large.data(), large * kWord, req[3]));
  // A receive and the send that matches it, both posted here: still neither may complete inline.
  ASSERT_TRUE(Recv(env, me, CaseTag(ConformanceCase::kNoInlineCompletion, 0, 2), in_self.data(),
                   small * kWord, req[4]));
  ASSERT_TRUE(Send(env, me, CaseTag(ConformanceCase::kNoInlineCompletion, 0, 2), out_self.data(),
                   small * kWord, req[5]));
  EXPECT_TRUE(req[4].pending() && req[5].pending());
  ASSERT_OK(env.WaitAll(req.all(), "no-inline exchange"));
  EXPECT_TRUE(Holds(req[0], in_small.data(), left, me, small, 1));
  EXPECT_TRUE(Holds(req[1], in_large.data(), left, me, large, 2));
  EXPECT_TRUE(Holds(req[4], in_self.data(), me, me, small, 3));
  EXPECT_EQ(req[2].bytes(), small * kWord);
  EXPECT_EQ(req[3].bytes(), large * kWord);
}

void OrderingSameTag(RankEnv& env, const ConformanceParams& params) {
  const int n = env.size();
  const int me = env.rank();
  const int m = params.ordering_messages;
  const Tag tag = CaseTag(ConformanceCase::kOrderingSameTag, 0, 0);
  std::vector<PerPeer> peers(static_cast<size_t>(n));
  Requests recvs(static_cast<size_t>(n * m));
  Requests sends(static_cast<size_t>(n * m));
  for (int p = 0; p < n; ++p) {
    for (int i = 0; i < m; ++i) {
      peers[p].out.push_back(Words(me, p, OrderingWords(i), static_cast<uint32_t>(i)));
      peers[p].in.emplace_back(OrderingWords(i) + 1);
    }
  }
  // Half of the receives are posted before the sends (posted path), half after (unexpected path).
  auto post_recvs = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      for (int p = 0; p < n; ++p) {
        std::vector<uint32_t>& in = peers[p].in[i];
        ASSERT_TRUE(Recv(env, p, tag, in.data(), in.size() * kWord, recvs[p * m + i]));
      }
    }
  };
  ASSERT_NO_FATAL_FAILURE(post_recvs(0, m / 2));
  for (int i = 0; i < m; ++i) {
    for (int p = 0; p < n; ++p) {
      const std::vector<uint32_t>& out = peers[p].out[i];
      ASSERT_TRUE(Send(env, p, tag, out.data(), out.size() * kWord, sends[p * m + i]));
    }
  }
  ASSERT_NO_FATAL_FAILURE(post_recvs(m / 2, m));
  ASSERT_OK(env.WaitAll(recvs.all(), "ordered receives"));
  ASSERT_OK(env.WaitAll(sends.all(), "ordered sends"));
  for (int p = 0; p < n; ++p) {
    for (int i = 0; i < m; ++i) {
      ASSERT_TRUE(Holds(recvs[p * m + i], peers[p].in[i].data(), p, me, OrderingWords(i),
                        static_cast<uint32_t>(i)))
          << "message " << i << " of rank " << p;
    }
  }
}

void OrderingInterleavedTags(RankEnv& env, const ConformanceParams& params) {
  constexpr int kTags = 3;
  const int n = env.size();
  const int me = env.rank();
  const int m = params.ordering_messages;
  auto tag_of = [](int i) {
    return CaseTag(ConformanceCase::kOrderingInterleavedTags, 0, static_cast<uint32_t>(i % kTags));
  };
  std::vector<PerPeer> peers(static_cast<size_t>(n));
  Requests recvs(static_cast<size_t>(n * m));
  Requests sends(static_cast<size_t>(n * m));
  for (int p = 0; p < n; ++p) {
    for (int i = 0; i < m; ++i) {
      peers[p].out.push_back(Words(me, p, OrderingWords(i / kTags), static_cast<uint32_t>(i)));
      peers[p].in.emplace_back(OrderingWords(i / kTags) + 1);
    }
  }
  // Receives go tag by tag, last tag first; even peers' before the sends, odd peers' after.
  auto post_recvs = [&](int parity) {
    for (int t = kTags - 1; t >= 0; --t) {
      for (int i = t; i < m; i += kTags) {
        for (int p = parity; p < n; p += 2) {
          std::vector<uint32_t>& in = peers[p].in[i];
          ASSERT_TRUE(Recv(env, p, tag_of(i), in.data(), in.size() * kWord, recvs[p * m + i]));
        }
      }
    }
  };
  ASSERT_NO_FATAL_FAILURE(post_recvs(0));
  for (int i = 0; i < m; ++i) {
    for (int p = 0; p < n; ++p) {
      const std::vector<uint32_t>& out = peers[p].out[i];
      ASSERT_TRUE(Send(env, p, tag_of(i), out.data(), out.size() * kWord, sends[p * m + i]));
    }
  }
  ASSERT_NO_FATAL_FAILURE(post_recvs(1));
  ASSERT_OK(env.WaitAll(recvs.all(), "interleaved receives"));
  ASSERT_OK(env.WaitAll(sends.all(), "interleaved sends"));
  for (int p = 0; p < n; ++p) {
    for (int i = 0; i < m; ++i) {
      ASSERT_TRUE(Holds(recvs[p * m + i], peers[p].in[i].data(), p, me, OrderingWords(i / kTags),
                        static_cast<uint32_t>(i)))
          << "message " << i << " (tag " << i % kTags << ") of rank " << p;
    }
  }
}

void TagMatching(RankEnv& env) {
  constexpr int kTags = 12;
  const int me = env.rank();
  const int left = Left(env);
  const int right = Right(env);
  auto words = [](int k) { return k % 4 == 0 ? size_t{3000} + k : size_t{4} + 2 * k; };
  for (uint32_t round = 0; round < 2; ++round) {
    auto tag = [&](int k) {
      return CaseTag(ConformanceCase::kTagMatching, round, static_cast<uint32_t>(k));
    };
    std::vector<std::vector<uint32_t>> in(kTags), out(kTags);
    Requests recvs(kTags), sends(kTags);
    // Round 0: receives first, in reverse tag order. Round 1: sends first; receives in a
    // scrambled tag order.
    auto post_recvs = [&] {
      for (int j = 0; j < kTags; ++j) {
        const int k = round == 0 ? kTags - 1 - j : (j * 5) % kTags;
        in[k].assign(words(k), 0);
        ASSERT_TRUE(Recv(env, left, tag(k), in[k].data(), in[k].size() * kWord, recvs[k]));
      }
    };
    if (round == 0) {
      ASSERT_NO_FATAL_FAILURE(post_recvs());
    }
    for (int k = 0; k < kTags; ++k) {
      out[k] = Words(me, right, words(k), static_cast<uint32_t>(k));
      ASSERT_TRUE(Send(env, right, tag(k), out[k].data(), out[k].size() * kWord, sends[k]));
    }
    if (round == 1) {
      ASSERT_NO_FATAL_FAILURE(post_recvs());
    }
    ASSERT_OK(env.WaitAll(recvs.all(), "tag-matched receives"));
    ASSERT_OK(env.WaitAll(sends.all(), "tag-matched sends"));
    for (int k = 0; k < kTags; ++k) {
      EXPECT_TRUE(Holds(recvs[k], in[k].data(), left, me, words(k), static_cast<uint32_t>(k)))
          << "round " << round << " tag step " << k;
    }
  }
}

void ZeroBytes(RankEnv& env) {
  const int n = env.size();
  const Tag no_buffer = CaseTag(ConformanceCase::kZeroBytes, 0, 0);
  const Tag with_buffer = CaseTag(ConformanceCase::kZeroBytes, 0, 1);
  const uint32_t payload = 0x12345678u;
  std::vector<std::vector<uint32_t>> in(static_cast<size_t>(n), std::vector<uint32_t>(4, 0xABu));
  Requests recvs(static_cast<size_t>(2 * n)), sends(static_cast<size_t>(2 * n));
  for (int p = 0; p < n; ++p) {
    ASSERT_TRUE(Recv(env, p, no_buffer, nullptr, 0, recvs[2 * p]));
    ASSERT_TRUE(Recv(env, p, with_buffer, in[p].data(), in[p].size() * kWord, recvs[2 * p + 1]));
  }
  for (int p = 0; p < n; ++p) {
    ASSERT_TRUE(Send(env, p, no_buffer, nullptr, 0, sends[2 * p]));
    ASSERT_TRUE(Send(env, p, with_buffer, &payload, 0, sends[2 * p + 1]));
  }
  ASSERT_OK(env.WaitAll(recvs.all(), "zero-byte receives"));
  ASSERT_OK(env.WaitAll(sends.all(), "zero-byte sends"));
  for (int p = 0; p < n; ++p) {
    EXPECT_EQ(recvs[2 * p].bytes(), 0u);
    EXPECT_EQ(recvs[2 * p + 1].bytes(), 0u);
    EXPECT_EQ(in[p], std::vector<uint32_t>(4, 0xABu)) << "a zero-byte message wrote to the buffer";
  }
}

void LargeMessages(RankEnv& env, const ConformanceParams& params) {
  const int me = env.rank();
  const int left = Left(env);
  const int right = Right(env);
  const size_t count = params.large_bytes / kWord;
  std::vector<uint32_t> in(count);
  for (uint32_t round = 0; round < 2; ++round) {
    const Tag tag = CaseTag(ConformanceCase::kLargeMessages, round, 0);
    const std::vector<uint32_t> out = Words(me, right, count, round);
    std::fill(in.begin(), in.end(), 0u);
    Requests req(2);
    // Round 0 posts the receive first, round 1 the send.
    if (round == 0) {
      ASSERT_TRUE(Recv(env, left, tag, in.data(), count * kWord, req[0]));
    }
    ASSERT_TRUE(Send(env, right, tag, out.data(), count * kWord, req[1]));
    if (round == 1) {
      ASSERT_TRUE(Recv(env, left, tag, in.data(), count * kWord, req[0]));
    }
    ASSERT_OK(env.WaitAll(req.all(), "large exchange"));
    EXPECT_TRUE(Holds(req[0], in.data(), left, me, count, round)) << "round " << round;
    EXPECT_EQ(req[1].bytes(), count * kWord);
  }
}

void ManyOutstanding(RankEnv& env, const ConformanceParams& params) {
  const int n = env.size();
  const int me = env.rank();
  const size_t m = static_cast<size_t>(params.many_outstanding);
  auto tag = [](size_t i) {
    return CaseTag(ConformanceCase::kManyOutstanding, 0, static_cast<uint32_t>(i % 61));
  };
  std::vector<uint32_t> in(n * m, 0), out(n * m);
  Requests recvs(n * m), sends(n * m);
  for (int p = 0; p < n; ++p) {
    for (size_t i = 0; i < m; ++i) {
      ASSERT_TRUE(Recv(env, p, tag(i), &in[p * m + i], kWord, recvs[p * m + i]));
    }
  }
  for (size_t i = 0; i < m; ++i) {
    for (int p = 0; p < n; ++p) {
      out[p * m + i] = Word(me, p, i, 7);
      ASSERT_TRUE(Send(env, p, tag(i), &out[p * m + i], kWord, sends[p * m + i]));
    }
  }
  ASSERT_OK(env.WaitAll(recvs.all(), "many receives"));
  ASSERT_OK(env.WaitAll(sends.all(), "many sends"));
  for (int p = 0; p < n; ++p) {
    for (size_t i = 0; i < m; ++i) {
      ASSERT_EQ(in[p * m + i], Word(p, me, i, 7)) << "message " << i << " from rank " << p;
    }
  }
}

void AllToAll(RankEnv& env) {
  const int n = env.size();
  const int me = env.rank();
  const Tag tag = CaseTag(ConformanceCase::kAllToAll, 0, 0);
  // Pair-specific sizes, some eager and some rendezvous; float values stay exact (< 2^24).
  auto count = [](int src, int dst) { return size_t{700} + 613 * ((src + 2 * dst) % 5); };
  auto value = [](int src, int dst, size_t i) {
    return static_cast<float>((i % 251) * 1024 + static_cast<size_t>(src % 32) * 32 + dst % 32);
  };
  std::vector<std::vector<float>> in(static_cast<size_t>(n)), out(static_cast<size_t>(n));
  Requests recvs(static_cast<size_t>(n)), sends(static_cast<size_t>(n));
  for (int p = 0; p < n; ++p) {
    in[p].assign(count(p, me), -1.0f);
    ASSERT_TRUE(Recv(env, p, tag, in[p].data(), in[p].size() * sizeof(float), recvs[p]));
  }
  for (int k = 1; k <= n; ++k) {  // start with the right neighbour, so pairs do not all collide
    const int p = (me + k) % n;
    out[p].resize(count(me, p));
    for (size_t i = 0; i < out[p].size(); ++i) out[p][i] = value(me, p, i);
    ASSERT_TRUE(Send(env, p, tag, out[p].data(), out[p].size() * sizeof(float), sends[p]));
  }
  ASSERT_OK(env.WaitAll(recvs.all(), "all-to-all receives"));
  ASSERT_OK(env.WaitAll(sends.all(), "all-to-all sends"));
  for (int p = 0; p < n; ++p) {
    ASSERT_EQ(recvs[p].bytes(), count(p, me) * sizeof(float)) << "from rank " << p;
    for (size_t i = 0; i < in[p].size(); ++i) {
      ASSERT_EQ(in[p][i], value(p, me, i)) << "element " << i << " from rank " << p;
    }
  }
}

void RingPass(RankEnv& env, const ConformanceParams& params) {
  const int n = env.size();
  const int me = env.rank();
  const int left = Left(env);
  const int right = Right(env);
  for (int lap = 0; lap < params.ring_laps; ++lap) {
    const Tag tag = CaseTag(ConformanceCase::kRingPass, static_cast<uint32_t>(lap), 0);
    // Odd laps carry a rendezvous-sized token. Each rank adds its rank to every element.
    const size_t words = lap % 2 == 1 ? 5000 : 2;
    std::vector<uint32_t> token(words);
    Requests req(2);
    if (me == 0) {
      for (size_t j = 0; j < words; ++j) token[j] = static_cast<uint32_t>(j);
      std::vector<uint32_t> back(words);
      ASSERT_TRUE(Recv(env, left, tag, back.data(), words * kWord, req[0]));
      ASSERT_TRUE(Send(env, right, tag, token.data(), words * kWord, req[1]));
      ASSERT_OK(env.WaitAll(req.all(), "ring lap"));
      const uint32_t added = static_cast<uint32_t>(n * (n - 1) / 2);
      for (size_t j = 0; j < words; ++j) {
        ASSERT_EQ(back[j], static_cast<uint32_t>(j) + added) << "lap " << lap << " element " << j;
      }
      continue;
    }
    ASSERT_TRUE(Recv(env, left, tag, token.data(), words * kWord, req[0]));
    ASSERT_OK(env.Wait(req[0], "ring token"));
    ASSERT_EQ(req[0].bytes(), words * kWord);
    for (uint32_t& w : token) w += static_cast<uint32_t>(me);
    ASSERT_TRUE(Send(env, right, tag, token.data(), words * kWord, req[1]));
    ASSERT_OK(env.Wait(req[1], "ring forward"));
  }
}

}  // namespace tidal::testing::conformance

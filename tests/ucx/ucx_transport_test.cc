// The UCX transport's contract (transport.h) over real UCX, as forked processes, once over TCP
// loopback (UCX_TLS=tcp,self UCX_NET_DEVICES=lo) and once over shared memory (UCX_TLS=sm,self):
// ping-pong, FIFO per (source, tag), 64 MiB messages, zero bytes, truncation, many outstanding
// requests, self-sends, argument errors, cancellation and no inline completion.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "harness/world.h"
#include "tidal/core/check.h"
#include "tidal/transport/wait.h"
#include "ucx/ucx_fork_world.h"

namespace tidal::testing {
namespace {

// Closed-form payload: distinct per (source, salt) and position.
uint8_t PatternByte(size_t i, int source, uint32_t salt) {
  return static_cast<uint8_t>((i * 131 + static_cast<size_t>(source) * 29 + salt * 7) % 251);
}
std::vector<uint8_t> Pattern(size_t n, int source, uint32_t salt) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = PatternByte(i, source, salt);
  return v;
}
bool IsPattern(const uint8_t* data, size_t n, int source, uint32_t salt) {
  for (size_t i = 0; i < n; ++i) {
    if (data[i] != PatternByte(i, source, salt)) return false;
  }
  return true;
}

Status Send(ForkRank& env, int peer, Tag tag, const void* data, size_t n) {
  Request request;
  TIDAL_RETURN_IF_ERROR(env.transport().PostSend(peer, tag, data, n, &request));
  TIDAL_CHECK(request.pending()) << "a send completed inline";
  return WaitRequest(env.transport(), request, env.deadline(), "send");
}

Result<size_t> Recv(ForkRank& env, int peer, Tag tag, void* data, size_t capacity) {
  Request request;
  TIDAL_RETURN_IF_ERROR(env.transport().PostRecv(peer, tag, data, capacity, &request));
  TIDAL_CHECK(request.pending()) << "a receive completed inline";
  TIDAL_RETURN_IF_ERROR(WaitRequest(env.transport(), request, env.deadline(), "recv"));
  return request.bytes();
}

void ExpectAllOk(const std::vector<ForkOutcome>& outcomes) {
  for (const ForkOutcome& o : outcomes) {
    EXPECT_TRUE(o.ok()) << "rank " << o.rank << ": exit code " << o.exit_code << ", signal "
                        << o.signal;
  }
}

class UcxTransportTest : public ::testing::TestWithParam<UcxTls> {
 protected:
  ForkWorldOptions World(int size) const {
    ForkWorldOptions options;
    options.size = size;
    options.tls = GetParam();
    return options;
  }
};

TEST_P(UcxTransportTest, PingPong) {
  ExpectAllOk(RunForked(World(2), [](ForkRank& env) {
    EXPECT_EQ(env.transport().name(), "ucx");
    const int peer = 1 - env.rank();
    const Tag tag = MakeTag(1, 2, 3, 0);
    for (uint64_t i = 0; i < 200; ++i) {
      uint64_t value = 0;
      if (env.rank() == 0) {
        ASSERT_OK(Send(env, peer, tag, &i, sizeof(i)));
        Result<size_t> got = Recv(env, peer, tag, &value, sizeof(value));
        ASSERT_OK(got);
        EXPECT_EQ(*got, sizeof(value));
        ASSERT_EQ(value, i + 1);
      } else {
        ASSERT_OK(Recv(env, peer, tag, &value, sizeof(value)));
        ASSERT_EQ(value, i);
        ++value;
        ASSERT_OK(Send(env, peer, tag, &value, sizeof(value)));
      }
    }
  }));
}

TEST_P(UcxTransportTest, StampsSourceRankIntoTags) {
  ExpectAllOk(RunForked(World(2), [](ForkRank& env) {
    const int peer = 1 - env.rank();
    uint32_t out = 42, in = 0;
    Request send, recv;
    ASSERT_OK(env.transport().PostRecv(peer, MakeTag(3, 4, 5, 0), &in, sizeof(in), &recv));
    ASSERT_OK(env.transport().PostSend(peer, MakeTag(3, 4, 5, 0), &out, sizeof(out), &send));
    EXPECT_EQ(TagSource(send.tag()), static_cast<uint32_t>(env.rank()));
    EXPECT_EQ(TagSource(recv.tag()), static_cast<uint32_t>(peer));
    Request* both[] = {&send, &recv};
    ASSERT_OK(WaitAll(env.transport(), both, env.deadline(), "exchange"));
    EXPECT_EQ(in, 42u);
    EXPECT_EQ(send.bytes(), sizeof(out));
  }));
}

// Sizes cross UCX's eager/rendezvous switch; matching stays FIFO per (source, tag), and a message
// on another tag waits (unexpected) until its receive is posted.
TEST_P(UcxTransportTest, FifoPerSourceAndTag) {
  ExpectAllOk(RunForked(World(3), [](ForkRank& env) {
    constexpr int kMessages = 60;
    constexpr size_t kSizes[] = {4, 1000, 200'000, 8, 70'000};
    const Tag tag_a = MakeTag(2, 0, 0, 0);
    const Tag tag_b = MakeTag(2, 1, 0, 0);
    if (env.rank() != 0) {
      const uint32_t late = 0xb0b;
      ASSERT_OK(Send(env, 0, tag_b, &late, sizeof(late)));
      std::vector<std::vector<uint8_t>> buffers;
      std::vector<Request> requests(kMessages);
      std::vector<Request*> pointers;
      for (int i = 0; i < kMessages; ++i) {
        buffers.push_back(Pattern(kSizes[i % 5], env.rank(), static_cast<uint32_t>(i)));
        std::memcpy(buffers.back().data(), &i, sizeof(i));
        ASSERT_OK(env.transport().PostSend(0, tag_a, buffers.back().data(), buffers.back().size(),
                                           &requests[i]));
        pointers.push_back(&requests[i]);
      }
      ASSERT_OK(WaitAll(env.transport(), pointers, env.deadline(), "sends"));
      return;
    }
    for (int source = 1; source <= 2; ++source) {
      std::vector<std::vector<uint8_t>> buffers(kMessages, std::vector<uint8_t>(200'000));
      std::vector<Request> requests(kMessages);
      std::vector<Request*> pointers;
      for (int i = 0; i < kMessages; ++i) {
        ASSERT_OK(env.transport().PostRecv(source, tag_a, buffers[i].data(), buffers[i].size(),
                                           &requests[i]));
        pointers.push_back(&requests[i]);
      }
      ASSERT_OK(WaitAll(env.transport(), pointers, env.deadline(), "receives"));
      for (int i = 0; i < kMessages; ++i) {
        int seq = -1;
        std::memcpy(&seq, buffers[i].data(), sizeof(seq));
        EXPECT_EQ(seq, i) << "from rank " << source;
        EXPECT_EQ(requests[i].bytes(), kSizes[i % 5]);
        const std::vector<uint8_t> expected =
            Pattern(kSizes[i % 5], source, static_cast<uint32_t>(i));
        EXPECT_TRUE(std::equal(expected.begin() + 4, expected.end(), buffers[i].begin() + 4))
            << "message " << i << " from rank " << source;
      }
      uint32_t late = 0;
      ASSERT_OK(Recv(env, source, tag_b, &late, sizeof(late)));
      EXPECT_EQ(late, 0xb0bu);
    }
  }));
}

TEST_P(UcxTransportTest, LargeMessage64MiB) {
  ExpectAllOk(RunForked(World(2), [](ForkRank& env) {
    constexpr size_t kBytes = size_t{64} << 20;
    constexpr int kRoundTrips = 3;
    const Tag tag = MakeTag(1, 0, 0, 0);
    const int peer = 1 - env.rank();
    const std::vector<uint8_t> out = Pattern(kBytes, env.rank(), 1);
    std::vector<uint8_t> in(kBytes);
    const auto start = Clock::now();
    for (int i = 0; i < kRoundTrips; ++i) {
      if (env.rank() == 0) ASSERT_OK(Send(env, peer, tag, out.data(), kBytes));
      Result<size_t> got = Recv(env, peer, tag, in.data(), kBytes);
      ASSERT_OK(got);
      EXPECT_EQ(*got, kBytes);
      if (env.rank() == 1) ASSERT_OK(Send(env, peer, tag, out.data(), kBytes));
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    EXPECT_TRUE(IsPattern(in.data(), kBytes, peer, 1));
    if (env.rank() == 0) {
      std::printf("[ucx %s] 64 MiB ping-pong: %.1f ms per round trip, %.2f GB/s\n",
                  UcxTlsName(env.options().tls).c_str(), seconds * 1e3 / kRoundTrips,
                  2.0 * kRoundTrips * static_cast<double>(kBytes) / seconds / 1e9);
    }
  }));
}

TEST_P(UcxTransportTest, ZeroByteMessages) {
  ExpectAllOk(RunForked(World(2), [](ForkRank& env) {
    const int peer = 1 - env.rank();
    const Tag tag = MakeTag(1, 0, 0, 0);
    uint64_t sink = 7;
    Request null_recv, buffer_recv, s1, s2;
    ASSERT_OK(env.transport().PostRecv(peer, tag, nullptr, 0, &null_recv));
    ASSERT_OK(env.transport().PostRecv(peer, tag, &sink, sizeof(sink), &buffer_recv));
    ASSERT_OK(env.transport().PostSend(peer, tag, nullptr, 0, &s1));
    ASSERT_OK(env.transport().PostSend(peer, tag, &sink, 0, &s2));
    Request* all[] = {&null_recv, &buffer_recv, &s1, &s2};
    ASSERT_OK(WaitAll(env.transport(), all, env.deadline(), "zero-byte messages"));
    EXPECT_EQ(null_recv.bytes(), 0u);
    EXPECT_EQ(buffer_recv.bytes(), 0u);
    EXPECT_EQ(sink, 7u);
  }));
}

TEST_P(UcxTransportTest, TruncationFailsTheReceiveShortMessageFillsAPrefix) {
  ExpectAllOk(RunForked(World(2), [](ForkRank& env) {
    const Tag tag = MakeTag(1, 0, 0, 0);
    constexpr size_t kSizes[][2] = {{100, 10}, {1 << 20, 1 << 19}};  // {sent, capacity}
    if (env.rank() == 0) {
      for (const auto& size : kSizes) {
        std::vector<uint8_t> data = Pattern(size[0], 0, 3);
        Request request;
        ASSERT_OK(env.transport().PostSend(1, tag, data.data(), data.size(), &request));
        // UCX may report the truncation to the sender too; either way the send completes.
        static_cast<void>(WaitRequest(env.transport(), request, env.deadline(), "send"));
        ASSERT_TRUE(request.done());
      }
      const std::vector<uint8_t> shorter = Pattern(10, 0, 4);
      ASSERT_OK(Send(env, 1, tag, shorter.data(), shorter.size()));
      return;
    }
    for (const auto& size : kSizes) {
      std::vector<uint8_t> buffer(size[1]);
      Result<size_t> got = Recv(env, 0, tag, buffer.data(), buffer.size());
      EXPECT_EQ(got.status().code(), StatusCode::kIoError) << got.status();
      EXPECT_NE(got.status().message().find("truncated"), std::string_view::npos) << got.status();
      EXPECT_NE(got.status().message().find("rank 0"), std::string_view::npos) << got.status();
    }
    std::vector<uint8_t> buffer(100, 0xee);
    Result<size_t> got = Recv(env, 0, tag, buffer.data(), buffer.size());
    ASSERT_OK(got);
    EXPECT_EQ(*got, 10u);
    EXPECT_TRUE(IsPattern(buffer.data(), 10, 0, 4));
    EXPECT_EQ(buffer[10], 0xee);
  }));
}

TEST_P(UcxTransportTest, ManyOutstandingRequests) {
  ExpectAllOk(RunForked(World(4), [](ForkRank& env) {
    constexpr int kPerPeer = 64;
    const int n = env.size();
    std::vector<std::vector<uint8_t>> in(static_cast<size_t>(n * kPerPeer));
    std::vector<std::vector<uint8_t>> out(in.size());
    std::vector<Request> requests(2 * in.size());
    std::vector<Request*> pointers;
    for (int peer = 0; peer < n; ++peer) {
      for (int i = 0; i < kPerPeer; ++i) {
        const size_t k = static_cast<size_t>(peer * kPerPeer + i);
        const size_t bytes = 1 + static_cast<size_t>(i) * 997;
        in[k].resize(bytes);
        out[k] = Pattern(bytes, env.rank(), static_cast<uint32_t>(i));
        const Tag tag = MakeTag(5, static_cast<uint32_t>(i), 0, 0);
        ASSERT_OK(env.transport().PostRecv(peer, tag, in[k].data(), bytes, &requests[2 * k]));
        ASSERT_OK(env.transport().PostSend(peer, tag, out[k].data(), bytes, &requests[2 * k + 1]));
        pointers.push_back(&requests[2 * k]);
        pointers.push_back(&requests[2 * k + 1]);
      }
    }
    ASSERT_OK(WaitAll(env.transport(), pointers, env.deadline(), "all-to-all"));
    for (int peer = 0; peer < n; ++peer) {
      for (int i = 0; i < kPerPeer; ++i) {
        const size_t k = static_cast<size_t>(peer * kPerPeer + i);
        EXPECT_TRUE(IsPattern(in[k].data(), in[k].size(), peer, static_cast<uint32_t>(i)))
            << "from rank " << peer << " message " << i;
      }
    }
  }));
}

TEST_P(UcxTransportTest, ArgumentErrorsPostNothing) {
  ExpectAllOk(RunForked(World(2), [](ForkRank& env) {
    Transport& t = env.transport();
    uint8_t byte = 0;
    Request request;
    EXPECT_EQ(t.PostSend(2, 0, &byte, 1, &request).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(t.PostRecv(-1, 0, &byte, 1, &request).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(t.PostSend(0, 0, nullptr, 1, &request).code(), StatusCode::kInvalidArgument);
    EXPECT_FALSE(request.pending());
    ASSERT_OK(t.PostRecv(env.rank(), MakeTag(9, 0, 0, 0), &byte, 1, &request));
    const Status again = t.PostRecv(env.rank(), MakeTag(9, 0, 0, 0), &byte, 1, &request);
    EXPECT_EQ(again.code(), StatusCode::kInvalidArgument) << again;
    t.Cancel(&request);
    EXPECT_EQ(WaitRequest(t, request, env.deadline(), "cancelled").code(), StatusCode::kAborted);
    EXPECT_EQ(t.size(), 2);
    EXPECT_EQ(t.rank(), env.rank());
    Result<std::unique_ptr<UcxTransport>> bad =
        UcxTransport::Create(env.transport().context(), 0, 2, {});
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  }));
}

TEST_P(UcxTransportTest, SelfSendAndNoInlineCompletion) {
  ExpectAllOk(RunForked(World(2), [](ForkRank& env) {
    Transport& t = env.transport();
    const Tag tag = MakeTag(1, 0, 0, 0);
    uint64_t out = 1234 + static_cast<uint64_t>(env.rank()), in = 0;
    Request send, recv;
    ASSERT_OK(t.PostSend(env.rank(), tag, &out, sizeof(out), &send));
    ASSERT_OK(t.PostRecv(env.rank(), tag, &in, sizeof(in), &recv));
    EXPECT_TRUE(send.pending());
    EXPECT_TRUE(recv.pending());
    Request* both[] = {&send, &recv};
    ASSERT_OK(WaitAll(t, both, env.deadline(), "self"));
    EXPECT_EQ(in, out);
  }));
}

TEST_P(UcxTransportTest, CancelUnmatchedReceive) {
  ExpectAllOk(RunForked(World(2), [](ForkRank& env) {
    Transport& t = env.transport();
    uint64_t value = 0;
    Request request;
    ASSERT_OK(t.PostRecv(1 - env.rank(), MakeTag(7, 7, 7, 0), &value, sizeof(value), &request));
    t.Cancel(&request);
    const Status status = WaitRequest(t, request, env.deadline(), "cancelled recv");
    EXPECT_EQ(status.code(), StatusCode::kAborted) << status;
    EXPECT_NE(status.message().find("cancel"), std::string_view::npos) << status;
    t.Cancel(&request);  // not pending: no effect
    // The transport stays usable (the final barrier of the world also checks it).
    ASSERT_OK(ForkBarrier(env, 1));
  }));
}

INSTANTIATE_TEST_SUITE_P(Loopback, UcxTransportTest,
                         ::testing::Values(UcxTls::kTcp, UcxTls::kSm, UcxTls::kDefault),
                         [](const auto& p) { return UcxTlsName(p.param); });

}  // namespace
}  // namespace tidal::testing

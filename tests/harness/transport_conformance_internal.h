// Private to the transport conformance suite: the helpers its cases share, and one function per
// case (transport_conformance_cases.cc, transport_conformance_errors.cc).
//
// Thread safety: as the suite: each rank calls these on its own thread.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "harness/transport_conformance.h"
#include "harness/world.h"
#include "tidal/transport/request.h"
#include "tidal/transport/tag.h"

namespace tidal::testing::conformance {

// The closed-form word `index` of the message from `src` to `dst` (`salt` tells messages of one
// pair apart): a message from the wrong sender, for the wrong receiver or out of order cannot pass
// for the right one.
uint32_t Word(int src, int dst, size_t index, uint32_t salt);
std::vector<uint32_t> Words(int src, int dst, size_t count, uint32_t salt);

// A case's tag: its own communicator id, so cases never match each other's messages.
Tag CaseTag(ConformanceCase c, uint32_t seq, uint32_t step);

// A fixed set of requests that never move, and the pointer list WaitAll takes.
class Requests {
 public:
  explicit Requests(size_t n) : storage_(std::make_unique<Request[]>(n)), ptrs_(n) {
    for (size_t i = 0; i < n; ++i) ptrs_[i] = &storage_[i];
  }
  Request& operator[](size_t i) { return storage_[i]; }
  std::span<Request* const> all() const { return ptrs_; }

 private:
  std::unique_ptr<Request[]> storage_;
  std::vector<Request*> ptrs_;
};

// Posts and checks that the post succeeded and left the request pending (no inline completion).
// Use as ASSERT_TRUE(Send(...)).
::testing::AssertionResult Send(RankEnv& env, int peer, Tag tag, const void* data, size_t bytes,
                                Request& request);
::testing::AssertionResult Recv(RankEnv& env, int peer, Tag tag, void* data, size_t capacity,
                                Request& request);

// Checks that a completed receive holds Words(src, dst, count, salt) and nothing more.
::testing::AssertionResult Holds(const Request& request, const uint32_t* data, int src, int dst,
                                 size_t count, uint32_t salt);

inline int Left(const RankEnv& env) { return (env.rank() + env.size() - 1) % env.size(); }
inline int Right(const RankEnv& env) { return (env.rank() + 1) % env.size(); }

void NoInlineCompletion(RankEnv& env);
void OrderingSameTag(RankEnv& env, const ConformanceParams& params);
void OrderingInterleavedTags(RankEnv& env, const ConformanceParams& params);
void TagMatching(RankEnv& env);
void ZeroBytes(RankEnv& env);
void LargeMessages(RankEnv& env, const ConformanceParams& params);
void ManyOutstanding(RankEnv& env, const ConformanceParams& params);
void AllToAll(RankEnv& env);
void RingPass(RankEnv& env, const ConformanceParams& params);
void CancelRecv(RankEnv& env);
void Truncation(RankEnv& env);
void InjectedFailure(RankEnv& env);
void KillRank(RankEnv& env);

}  // namespace tidal::testing::conformance

// The transport conformance suite (see transport_conformance.h): case names, dispatch, and the
// helpers the cases share. The cases are in transport_conformance_cases.cc (basic) and
// transport_conformance_errors.cc (cancellation, truncation, injected failures, kills).
#include "harness/transport_conformance.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "harness/transport_conformance_internal.h"
#include "tidal/transport/tag.h"

namespace tidal::testing {
namespace {

constexpr ConformanceCase kBasicCases[] = {
    ConformanceCase::kNoInlineCompletion,
    ConformanceCase::kOrderingSameTag,
    ConformanceCase::kOrderingInterleavedTags,
    ConformanceCase::kTagMatching,
    ConformanceCase::kZeroBytes,
    ConformanceCase::kLargeMessages,
    ConformanceCase::kManyOutstanding,
    ConformanceCase::kAllToAll,
    ConformanceCase::kRingPass,
    ConformanceCase::kCancelRecv,
    ConformanceCase::kTruncation,
};

}  // namespace

namespace conformance {
namespace {

::testing::AssertionResult Pending(const Status& posted, const Request& request, const char* op,
                                   int peer) {
  if (!posted.ok())
    return ::testing::AssertionFailure() << op << " rank " << peer << ": " << posted;
  if (!request.pending()) {
    return ::testing::AssertionFailure()
           << op << " rank " << peer << " completed inline: the request is not pending right "
           << "after the post";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace

uint32_t Word(int src, int dst, size_t index, uint32_t salt) {
  uint32_t x = (static_cast<uint32_t>(src) * 0x9E3779B1u) ^
               (static_cast<uint32_t>(dst) * 0x85EBCA77u) ^
               (static_cast<uint32_t>(index) * 0xC2B2AE3Du) ^ (salt * 0x27D4EB2Fu);
  x ^= x >> 15;
  return x * 0x2C1B3C6Du;
}

std::vector<uint32_t> Words(int src, int dst, size_t count, uint32_t salt) {
  std::vector<uint32_t> words(count);
  for (size_t i = 0; i < count; ++i) words[i] = Word(src, dst, i, salt);
  return words;
}

Tag CaseTag(ConformanceCase c, uint32_t seq, uint32_t step) {
  return MakeTag(1 + static_cast<uint32_t>(c), seq, step, 0);
}

::testing::AssertionResult Send(RankEnv& env, int peer, Tag tag, const void* data, size_t bytes,
                                Request& request) {
  return Pending(env.transport().PostSend(peer, tag, data, bytes, &request), request, "send to",
                 peer);
}

::testing::AssertionResult Recv(RankEnv& env, int peer, Tag tag, void* data, size_t capacity,
                                Request& request) {
  return Pending(env.transport().PostRecv(peer, tag, data, capacity, &request), request,
                 "recv from", peer);
}

::testing::AssertionResult Holds(const Request& request, const uint32_t* data, int src, int dst,
                                 size_t count, uint32_t salt) {
  if (!request.status().ok()) {
    return ::testing::AssertionFailure() << "from rank " << src << ": " << request.status();
  }
  if (request.bytes() != count * sizeof(uint32_t)) {
    return ::testing::AssertionFailure()
           << "from rank " << src << " salt " << salt << ": " << request.bytes()
           << " bytes, expected " << count * sizeof(uint32_t);
  }
  for (size_t i = 0; i < count; ++i) {
    if (data[i] != Word(src, dst, i, salt)) {
      return ::testing::AssertionFailure()
             << "from rank " << src << " salt " << salt << ": word " << i << " is " << data[i]
             << ", expected " << Word(src, dst, i, salt);
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace conformance

std::string_view ConformanceCaseName(ConformanceCase c) {
  switch (c) {
    case ConformanceCase::kNoInlineCompletion:
      return "NoInlineCompletion";
    case ConformanceCase::kOrderingSameTag:
      return "OrderingSameTag";
    case ConformanceCase::kOrderingInterleavedTags:
      return "OrderingInterleavedTags";
    case ConformanceCase::kTagMatching:
      return "TagMatching";
    case ConformanceCase::kZeroBytes:
      return "ZeroBytes";
    case ConformanceCase::kLargeMessages:
      return "LargeMessages";
    case ConformanceCase::kManyOutstanding:
      return "ManyOutstanding";
    case ConformanceCase::kAllToAll:
      return "AllToAll";
    case ConformanceCase::kRingPass:
      return "RingPass";
    case ConformanceCase::kCancelRecv:
      return "CancelRecv";
    case ConformanceCase::kTruncation:
      return "Truncation";
    case ConformanceCase::kInjectedFailure:
      return "InjectedFailure";
    case ConformanceCase::kKillRank:
      return "KillRank";
  }
  return "Unknown";
}

std::span<const ConformanceCase> BasicConformanceCases() { return kBasicCases; }

void RunConformanceCase(ConformanceCase c, RankEnv& env, const ConformanceParams& params) {
  SCOPED_TRACE(::testing::Message()
               << "conformance case " << ConformanceCaseName(c) << " on rank " << env.rank()
               << " of " << env.size() << " (" << env.transport().name() << ")");
  switch (c) {
    case ConformanceCase::kNoInlineCompletion:
      return conformance::NoInlineCompletion(env);
    case ConformanceCase::kOrderingSameTag:
      return conformance::OrderingSameTag(env, params);
    case ConformanceCase::kOrderingInterleavedTags:
      return conformance::OrderingInterleavedTags(env, params);
    case ConformanceCase::kTagMatching:
      return conformance::TagMatching(env);
    case ConformanceCase::kZeroBytes:
      return conformance::ZeroBytes(env);
    case ConformanceCase::kLargeMessages:
      return conformance::LargeMessages(env, params);
    case ConformanceCase::kManyOutstanding:
      return conformance::ManyOutstanding(env, params);
    case ConformanceCase::kAllToAll:
      return conformance::AllToAll(env);
    case ConformanceCase::kRingPass:
      return conformance::RingPass(env, params);
    case ConformanceCase::kCancelRecv:
      return conformance::CancelRecv(env);
    case ConformanceCase::kTruncation:
      return conformance::Truncation(env);
    case ConformanceCase::kInjectedFailure:
      return conformance::InjectedFailure(env);
    case ConformanceCase::kKillRank:
      return conformance::KillRank(env);
  }
  FAIL() << "unknown conformance case " << static_cast<int>(c);
}

}  // namespace tidal::testing

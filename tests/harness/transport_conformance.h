// The transport conformance suite: the behaviour every Transport implementation must show
// (transport.h's contract), written once against the Transport interface and RankEnv only, so that
// the in-process transport, the fault wrapper and the UCX transport (ranks as processes) all run
// the same checks.
//
//   RunWorld(options, [](RankEnv& env) {
//     RunConformanceCase(ConformanceCase::kAllToAll, env);
//   });
//
// Every rank of a world runs the same case with the same parameters. Cases post non-blocking and
// then wait with env.Wait/WaitAll, so they work in every harness mode; every post is checked to
// leave its request pending (no inline completion). Each case uses its own communicator id in the
// tag, so several cases may run back to back in one world (kKillRank last: it kills a rank).
// Failures are reported through gtest assertions on the failing rank.
//
// Thread safety: RunConformanceCase runs on the rank's own thread, like any test body.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "harness/world.h"

namespace tidal::testing {

enum class ConformanceCase {
  kNoInlineCompletion,       // posts, even of matching pairs, leave requests pending
  kOrderingSameTag,          // many messages on one tag, eager and rendezvous mixed: FIFO
  kOrderingInterleavedTags,  // messages alternate over tags; each tag's stream stays FIFO
  kTagMatching,              // receives posted in another tag order than the sends
  kZeroBytes,                // zero-byte messages, with and without a buffer
  kLargeMessages,            // above any eager threshold, receive posted first and last
  kManyOutstanding,          // many requests per peer in flight at once
  kAllToAll,                 // every pair exchanges closed-form data of a pair-specific size
  kRingPass,                 // a token travels the ring, each rank adding to it
  kCancelRecv,               // cancel an unmatched receive; a new receive gets the later send
  kTruncation,               // a longer message fails the receive; a shorter one fills a prefix
  // These need a FaultTransport (env.fault() != nullptr):
  kInjectedFailure,  // FaultOptions::fail_after_posts = K (even): posts K, K+1 fail with kIoError
  kKillRank,         // the last rank is killed; the others' receives from it fail (kUnavailable)
};

std::string_view ConformanceCaseName(ConformanceCase c);

// The cases that need only a working transport (not kInjectedFailure, not kKillRank).
std::span<const ConformanceCase> BasicConformanceCases();

// Sizes of the cases; shrink them for slow modes (threads on few cores, sanitizers).
struct ConformanceParams {
  int ordering_messages = 48;            // per peer, kOrdering*
  int many_outstanding = 1000;           // per peer and direction, kManyOutstanding
  size_t large_bytes = size_t{8} << 20;  // kLargeMessages
  int ring_laps = 3;                     // kRingPass
};

// Runs case `c` on this rank. REQUIRES: every rank of the world calls it with the same `c` and
// `params`; for kInjectedFailure and kKillRank, env.fault() is set (see the enum).
void RunConformanceCase(ConformanceCase c, RankEnv& env, const ConformanceParams& params = {});

}  // namespace tidal::testing

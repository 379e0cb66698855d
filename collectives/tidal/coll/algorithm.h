// Algorithms of tidal's collectives and how one is chosen.
//
//   ring      reduce-scatter / all-gather around the topology-ordered ring, pipelined in
//             segments (bandwidth-optimal: 2(n-1)/n of the buffer on the wire per rank).
//   direct    every rank exchanges its pieces with every other rank at once (reduce-scatter and
//             all-gather by direct exchange; broadcast/reduce straight from/to the root): 2 steps
//             for AllReduce, the latency choice for small messages and few ranks.
//   chain     broadcast and reduce along the ring from/to the root, pipelined in segments;
//             AllReduce as chain reduce to position 0 then chain broadcast.
//   pairwise  AllToAll(V): n-1 steps, at step s rank r sends to r+s and receives from r-s.
//   shm       AllReduce when every member is on one host: reduce-scatter and all-gather through
//             a shared-memory segment (shm/shm_allreduce.h), no messages at all.
//
// Selection (kAuto): the per-collective knob (TIDAL_ALGO_ALLREDUCE, ...) when set, else
// TIDAL_ALGO when the collective has that algorithm, else a choice by message size and world size
// (SelectAlgorithm). Every algorithm leaves every rank with bit-identical results.
//
// Thread safety: pure functions; knobs are read at each call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "tidal/core/status.h"

namespace tidal::coll {

enum class Algorithm : uint8_t { kAuto, kRing, kDirect, kChain, kPairwise, kShm };

enum class CollKind : uint8_t {
  kAllReduce,
  kReduceScatter,
  kAllGather,
  kAllGatherV,
  kBroadcast,
  kReduce,
  kAllToAll,
  kAllToAllV,
  kBarrier,
  kSend,
  kRecv,
};

// "auto", "ring", "direct", "chain", "pairwise", "shm".
std::string_view AlgorithmName(Algorithm algorithm);
Result<Algorithm> ParseAlgorithm(std::string_view name);
// "allreduce", "reduce_scatter", "allgather", ...
std::string_view CollKindName(CollKind kind);

// The algorithms `kind` has (kAuto excluded), the default first.
std::span<const Algorithm> AlgorithmsFor(CollKind kind);

// The algorithm to run: `requested` unless kAuto, else the knobs, else the choice by size and
// topology (`one_host`: every member on this host, n >= 2; shm needs it). kInvalidArgument when
// the requested (or forced) algorithm does not exist for `kind`; kNotSupported when it exists but
// cannot run here (shm across hosts). A knob naming an algorithm that cannot run here is ignored.
Result<Algorithm> SelectAlgorithm(CollKind kind, Algorithm requested, size_t bytes, int n,
                                  bool one_host = false);

}  // namespace tidal::coll

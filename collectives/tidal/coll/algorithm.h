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
//   hier      AllReduce across hosts with equal ranks per host: host-local reduce-scatter, a ring
//             among the ranks of equal local index across hosts, host-local all-gather (hier.h).
//
// Selection (kAuto): the per-collective knob (TIDAL_ALGO_ALLREDUCE, ...) when set, else
// TIDAL_ALGO when the collective has that algorithm, else a choice by message size, world size
// and host shape (SelectAlgorithm):
//   one host, n >= 2                            AllReduce: shm
//   bytes <= 16 KiB and n <= 8                  direct, where the collective has it
//   >= 2 hosts, >= 2 ranks on each, equal       AllReduce: hier
//   otherwise                                   the collective's default (ring, chain, pairwise)
// Every algorithm leaves every rank with bit-identical results.
//
// Thread safety: pure functions; knobs are read at each call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "tidal/core/knobs.h"
#include "tidal/core/status.h"

namespace tidal::coll {

// Values are part of the C API (tidal_algorithm_t): append only.
enum class Algorithm : uint8_t { kAuto, kRing, kDirect, kChain, kPairwise, kShm, kHier };

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

// "auto", "ring", "direct", "chain", "pairwise", "shm", "hier".
std::string_view AlgorithmName(Algorithm algorithm);
Result<Algorithm> ParseAlgorithm(std::string_view name);
// "allreduce", "reduce_scatter", "allgather", ...
std::string_view CollKindName(CollKind kind);

// The algorithms `kind` has (kAuto excluded), the default first.
std::span<const Algorithm> AlgorithmsFor(CollKind kind);

// Where a communicator's members run, as selection needs it: the number of distinct hosts and,
// when every host has the same number of members, that number (0 when uneven). The default
// describes no usable layout (neither shm nor hier may run).
struct HostShape {
  int hosts = 1;
  int ranks_per_host = 0;

  // Every member on one host, at least two of them (shm may run).
  bool one_host() const { return hosts == 1 && ranks_per_host >= 2; }
  // The same number of members on every host (hier may run; on one host, or with one member per
  // host, it is a plain ring).
  bool even() const { return ranks_per_host >= 1; }
  // At least two hosts with the same number (>= 2) of members each (kAuto picks hier).
  bool hierarchical() const { return hosts >= 2 && ranks_per_host >= 2; }
  friend bool operator==(const HostShape&, const HostShape&) = default;
};

// The shape of members on hosts `host_of` (any labels: host_of[i] is member i's host, members of
// one host need not be adjacent).
HostShape ShapeOfHosts(std::span<const int> host_of);

// The knob that forces `kind`'s algorithm (TIDAL_ALGO_ALLREDUCE, ...; AllGatherV shares
// AllGather's); nullopt for collectives that only TIDAL_ALGO forces.
std::optional<Knob> AlgorithmKnobFor(CollKind kind);

// The algorithm to run: `requested` unless kAuto, else the knobs, else the choice by size and
// topology (see the table above). kInvalidArgument when the requested (or forced) algorithm does
// not exist for `kind`; kNotSupported when it exists but cannot run here (shm across hosts, hier
// with uneven ranks per host). A knob naming an algorithm that cannot run here is ignored.
Result<Algorithm> SelectAlgorithm(CollKind kind, Algorithm requested, size_t bytes, int n,
                                  const HostShape& shape = {});

}  // namespace tidal::coll

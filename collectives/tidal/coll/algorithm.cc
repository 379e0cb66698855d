#include "tidal/coll/algorithm.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "tidal/core/knobs.h"

namespace tidal::coll {
namespace {

constexpr Algorithm kReductions[] = {Algorithm::kRing, Algorithm::kDirect, Algorithm::kChain,
                                     Algorithm::kShm, Algorithm::kHier};
constexpr Algorithm kShards[] = {Algorithm::kRing, Algorithm::kDirect};
constexpr Algorithm kRooted[] = {Algorithm::kChain, Algorithm::kDirect};
constexpr Algorithm kPairwise[] = {Algorithm::kPairwise};
constexpr Algorithm kDirectOnly[] = {Algorithm::kDirect};

// Below this many bytes per rank the direct algorithms' 1-2 steps beat the ring's 2(n-1).
constexpr size_t kDirectBytes = 16 << 10;
constexpr int kDirectMaxRanks = 8;

}  // namespace

std::optional<Knob> AlgorithmKnobFor(CollKind kind) {
  switch (kind) {
    case CollKind::kAllReduce:
      return Knob::kAlgoAllReduce;
    case CollKind::kReduceScatter:
      return Knob::kAlgoReduceScatter;
    case CollKind::kAllGather:
    case CollKind::kAllGatherV:
      return Knob::kAlgoAllGather;
    case CollKind::kBroadcast:
      return Knob::kAlgoBroadcast;
    case CollKind::kReduce:
      return Knob::kAlgoReduce;
    default:
      return std::nullopt;
  }
}

namespace {

bool Has(CollKind kind, Algorithm algorithm) {
  const std::span<const Algorithm> all = AlgorithmsFor(kind);
  return std::find(all.begin(), all.end(), algorithm) != all.end();
}

Result<Algorithm> FromKnob(Knob knob) {
  const std::string text = KnobString(knob);
  if (text.empty()) return Algorithm::kAuto;
  Result<Algorithm> parsed = ParseAlgorithm(text);
  if (!parsed.ok()) {
    return InvalidArgumentError(GetKnobInfo(knob).name, "=", text, ": ", parsed.status().message());
  }
  return *parsed;
}

}  // namespace

std::string_view AlgorithmName(Algorithm algorithm) {
  switch (algorithm) {
    case Algorithm::kAuto:
      return "auto";
    case Algorithm::kRing:
      return "ring";
    case Algorithm::kDirect:
      return "direct";
    case Algorithm::kChain:
      return "chain";
    case Algorithm::kPairwise:
      return "pairwise";
    case Algorithm::kShm:
      return "shm";
    case Algorithm::kHier:
      return "hier";
  }
  return "unknown";
}

Result<Algorithm> ParseAlgorithm(std::string_view name) {
  for (Algorithm a : {Algorithm::kAuto, Algorithm::kRing, Algorithm::kDirect, Algorithm::kChain,
                      Algorithm::kPairwise, Algorithm::kShm, Algorithm::kHier}) {
    if (name == AlgorithmName(a)) return a;
  }
  return InvalidArgumentError("unknown algorithm '", name,
                              "' (expected auto, ring, direct, chain, pairwise, shm or hier)");
}

std::string_view CollKindName(CollKind kind) {
  switch (kind) {
    case CollKind::kAllReduce:
      return "allreduce";
    case CollKind::kReduceScatter:
      return "reduce_scatter";
    case CollKind::kAllGather:
      return "allgather";
    case CollKind::kAllGatherV:
      return "allgatherv";
    case CollKind::kBroadcast:
      return "broadcast";
    case CollKind::kReduce:
      return "reduce";
    case CollKind::kAllToAll:
      return "alltoall";
    case CollKind::kAllToAllV:
      return "alltoallv";
    case CollKind::kBarrier:
      return "barrier";
    case CollKind::kSend:
      return "send";
    case CollKind::kRecv:
      return "recv";
  }
  return "unknown";
}

std::span<const Algorithm> AlgorithmsFor(CollKind kind) {
  switch (kind) {
    case CollKind::kAllReduce:
      return kReductions;
    case CollKind::kReduceScatter:
    case CollKind::kAllGather:
    case CollKind::kAllGatherV:
      return kShards;
    case CollKind::kBroadcast:
    case CollKind::kReduce:
      return kRooted;
    case CollKind::kAllToAll:
    case CollKind::kAllToAllV:
      return kPairwise;
    default:
      return kDirectOnly;
  }
}

HostShape ShapeOfHosts(std::span<const int> host_of) {
  std::map<int, int> members;
  for (int host : host_of) ++members[host];
  HostShape shape;
  shape.hosts = std::max<int>(1, static_cast<int>(members.size()));
  shape.ranks_per_host = members.empty() ? 0 : members.begin()->second;
  for (const auto& [host, count] : members) {
    if (count != shape.ranks_per_host) shape.ranks_per_host = 0;
  }
  return shape;
}

Result<Algorithm> SelectAlgorithm(CollKind kind, Algorithm requested, size_t bytes, int n,
                                  const HostShape& shape) {
  const auto runnable = [&](Algorithm a) {
    if (a == Algorithm::kShm) return shape.one_host();
    if (a == Algorithm::kHier) return shape.even();
    return true;
  };
  Algorithm chosen = requested;
  if (chosen == Algorithm::kAuto) {
    if (std::optional<Knob> knob = AlgorithmKnobFor(kind)) {
      TIDAL_ASSIGN_OR_RETURN(chosen, FromKnob(*knob));
      if (!runnable(chosen)) chosen = Algorithm::kAuto;
    }
  }
  if (chosen == Algorithm::kAuto) {
    TIDAL_ASSIGN_OR_RETURN(Algorithm global, FromKnob(Knob::kAlgo));
    if (Has(kind, global) && runnable(global)) chosen = global;
  }
  if (chosen == Algorithm::kAuto) {
    const std::span<const Algorithm> all = AlgorithmsFor(kind);
    chosen = all.front();
    const bool small = bytes <= kDirectBytes && n <= kDirectMaxRanks;
    if (small && Has(kind, Algorithm::kDirect)) {
      chosen = Algorithm::kDirect;
    } else if (shape.hierarchical() && Has(kind, Algorithm::kHier)) {
      chosen = Algorithm::kHier;
    }
    if (shape.one_host() && Has(kind, Algorithm::kShm)) chosen = Algorithm::kShm;
  }
  if (!Has(kind, chosen)) {
    return InvalidArgumentError(CollKindName(kind), " has no algorithm '", AlgorithmName(chosen),
                                "'");
  }
  if (!runnable(chosen)) {
    if (chosen == Algorithm::kHier) {
      return NotSupportedError(CollKindName(kind),
                               " with algorithm 'hier' needs the same number of members on "
                               "every host; here they are spread unevenly over ",
                               shape.hosts, " hosts");
    }
    return NotSupportedError(CollKindName(kind), " with algorithm '", AlgorithmName(chosen),
                             "' needs every member on one host");
  }
  return chosen;
}

}  // namespace tidal::coll

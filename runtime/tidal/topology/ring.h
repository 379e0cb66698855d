// Ring order and host subgroups, computed from every rank's Placement (placement.h). Every rank
// computes them from the same exchanged placements, so they agree without further messages.
//
// Ring order: ranks sorted by
//   1. host, hosts ordered by their lowest rank (rank 0's host comes first);
//   2. NUMA node (ascending OS index; unknown, -1, last);
//   3. core (ascending; unknown last), then local rank (ascending; unknown last);
//   4. rank, so that equal placements keep rank order and the result is a total order.
// Hence each host's ranks are contiguous, and within a host each NUMA node's ranks are contiguous:
// a ring crosses each host boundary once each way, and each NUMA boundary as few times as it can.
// Like NCCL's rings.cc, ComputeRingOrder checks its own output (ValidateRing) and aborts on a bug.
//
// Subgroups for hierarchical algorithms: the local group of a host is its ranks in ring order;
// its leader is the first of them. Local rank and size come from the ring, not from the launcher,
// so they are consistent on every rank even when the launcher's local ranks are unknown.
//
// Thread safety: pure functions.
#pragma once

#include <span>
#include <vector>

#include "tidal/core/status.h"
#include "tidal/topology/placement.h"

namespace tidal {

// Returns the ring order: ring[i] is the rank at position i, a permutation of
// [0, placements.size()). placements[r] is rank r's placement. Empty input gives an empty ring.
std::vector<int> ComputeRingOrder(std::span<const Placement> placements);

// Checks that `order` is a permutation of [0, placements.size()) in which each host's ranks are
// contiguous and, within a host, each NUMA node's ranks are contiguous (unknown NUMA, any
// negative value, counts as one node). Returns kInvalidArgument naming the first violation and its
// ring position.
Status ValidateRing(std::span<const int> order, std::span<const Placement> placements);

// The ranks of each host, in ring order; hosts in the order the ring first visits them.
// REQUIRES: ring is a permutation of [0, placements.size()).
std::vector<std::vector<int>> LocalGroups(std::span<const int> ring,
                                          std::span<const Placement> placements);

// The first rank of each group. REQUIRES: no group is empty.
std::vector<int> HostLeaders(std::span<const std::vector<int>> local_groups);

// Everything hierarchical algorithms need, for every rank at once.
struct HostLayout {
  std::vector<int> ring;                       // ComputeRingOrder(placements)
  std::vector<std::vector<int>> local_groups;  // LocalGroups(ring, placements)
  std::vector<int> leaders;                    // HostLeaders(local_groups)
  std::vector<int> host_index;                 // per rank: its group's index in local_groups
  std::vector<int> local_rank;                 // per rank: its position in its group
  std::vector<int> local_size;                 // per rank: the size of its group
};
HostLayout ComputeHostLayout(std::span<const Placement> placements);

}  // namespace tidal

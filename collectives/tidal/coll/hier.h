// Hierarchical AllReduce (Algorithm::kHier) for communicators spread over several hosts with the
// same number of members on each: host-local reduce-scatter, a ring among the members of equal
// local index across hosts, the owner's local step, then the cross-host and host-local
// all-gathers. The pure schedules and their design note are in schedule/hier.h; this file maps
// them onto a communicator (ring positions -> world ranks) and into executor stages.
//
// Owned shards: ring position p = h * L + l ends the cross-host reduce-scatter holding
// OwnedRange(p, n, count), as every algorithm does (collectives.h), so AllReduceOwned supports it.
//
// Not here: selection (algorithm.h decides when hier runs, from HostShapeOf), and uneven hosts
// (SelectAlgorithm answers kNotSupported, so PlanHier never sees them).
//
// Thread safety: HostShapeOf reads the communicator's immutable placements; PlanHier builds
// values for one call.
#pragma once

#include <cstdint>
#include <vector>

#include "tidal/coll/algorithm.h"
#include "tidal/coll/executor.h"
#include "tidal/coll/launch.h"
#include "tidal/comm/communicator.h"

namespace tidal::coll {

// Hosts and members per host of `comm` (from its members' placements).
HostShape HostShapeOf(const Communicator& comm);

// Appends the hierarchical plan on the count-element buffer `work` (which holds this rank's
// input): local and cross reduce-scatter, `shard` (the owner's local step, on
// OwnedRange(ring_position, n, count)), cross and local all-gather.
// REQUIRES: call.hosts == HostShapeOf(call.comm) and call.hosts.even().
// Returns kInternal when the ring does not keep each host's members adjacent (a topology bug).
Status PlanHier(const internal::Call& call, uint8_t* work, Stage shard, std::vector<Stage>& stages);

}  // namespace tidal::coll

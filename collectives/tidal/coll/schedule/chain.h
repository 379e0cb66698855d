// Broadcast and Reduce over a ring as pipelined chains, as pure schedules.
//
// The chain visits the ring from the root: distance d = (position - root) mod n, d = 0 is the root.
// The buffer (all `count` elements, no owned shards) is cut into segments of at most segment_elems.
//
// Broadcast: the position at distance d receives (overwriting) segment k from distance d-1 and then
// forwards it to distance d+1. Every copy is the root's bytes. n-1 hops, pipelined over S segments:
// about (n - 1 + S) segment times; every non-root position receives count elements and every
// position but the last sends count elements, the bandwidth optimum for a single root.
//
// Reduce: the data flows the other way, towards the root. The position at distance d
// receive-reduces segment k from distance d+1 (unless it is the last, d = n-1) and then sends its
// partial result to distance d-1 (unless it is the root). The root ends with every contribution
// counted once; the buffers of the other positions hold partial reductions afterwards, so an
// executor that must preserve a non-root input reduces into a scratch buffer.
//
// All ops have step 0 and segment k; the tag stride is the number of segments (see schedule.h).
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>

#include "tidal/coll/schedule/schedule.h"

namespace tidal::coll {

// REQUIRES: n >= 1, 0 <= position, root_position < n, segment_elems >= 1.
Schedule ChainBroadcastSchedule(int position, int n, int root_position, size_t count,
                                size_t segment_elems);
Schedule ChainReduceSchedule(int position, int n, int root_position, size_t count,
                             size_t segment_elems);

}  // namespace tidal::coll

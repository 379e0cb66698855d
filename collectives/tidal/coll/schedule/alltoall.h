// Pairwise AllToAll (and AllToAllV) as a pure schedule.
//
// Position p holds one block for every position q: send_ranges[q] of its *input* buffer goes to q,
// and the block q sends to p lands in recv_ranges[q] of p's *output* buffer (a different buffer).
// Blocks may have any sizes, zero included, and lie anywhere in their buffers.
//
// Steps: n-1. At step s-1 (s = 1..n-1) position p sends send_ranges[(p+s) % n] to (p+s) % n and
// receives (kRecv, overwriting) recv_ranges[(p-s) % n] from (p-s) % n. Every position talks to one
// destination and one source per step, each to a different peer, so no position is the target of
// an incast when an executor paces the steps; an executor that does not pace them gets one round
// of latency. The self block (send_ranges[p] to recv_ranges[p]) is the executor's local copy: no
// op names it. No kCopy, no reduction; no op is emitted for an empty block.
//   Sent by p: sum over q != p of |send_ranges[q]|. Received by p: sum over q != p of
//   |recv_ranges[q]|. Messages per position: about (n-1) * segments per block, each way.
//
// Segments. Each block is cut into segments of at most segment_elems elements, on both ends alike:
// q's segments of its block for p match p's segments of recv_ranges[q] one for one because the two
// ranges have the same count (REQUIRES below).
//
// Tag convention. The receiver knows only the counts it receives, the sender only those it sends,
// so no position can compute "the most segments of any block": a stride derived from counts would
// differ between the ends. Instead every op of step s-1 has step s-1 and segment 0, and
// segments_per_step is 1 on every position, so TagStep(op, 1) = s-1: all segments of one block
// share one tag step. Each ordered pair (q, p) exchanges in exactly one step, so the tag (which
// carries the source) still tells blocks apart, and within a block the transport's matching rule
// (first-posted receive with first-arrived message, per source and tag) pairs the receiver's k-th
// segment with the sender's k-th, because both issue the block's segments in the same order. Live
// receives from one peer do share a tag here, deliberately; executors must post one peer's
// receives in op order (which they do for every schedule). Segment numbers are 0: no op of this
// schedule forwards or reduces, so there are no segment chains to pipeline.
//
// Deadlock freedom: a position's ops are ordered by (s, k), with the send of (s, k) before the
// receive of (s, k); the matching send of every receive comes no later in its sender's list, so an
// executor that blocks on each receive in op order finishes (checked by the simulator in
// tests/harness/schedule_sim.h).
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <span>

#include "tidal/coll/schedule/schedule.h"

namespace tidal::coll {

// REQUIRES: n = send_ranges.size() = recv_ranges.size() >= 1, 0 <= position < n,
// segment_elems >= 1; recv_ranges pairwise disjoint (CHECKed; send ranges may overlap, they are
// only read); and across positions, recv_ranges[q] on p has the same count as send_ranges[p] on q
// (not checkable here: a mismatch breaks segment matching, and the executor reports a truncated or
// short receive).
Schedule PairwiseAllToAllSchedule(int position, std::span<const ElementRange> send_ranges,
                                  std::span<const ElementRange> recv_ranges, size_t segment_elems);

}  // namespace tidal::coll

// Direct (latency-optimal) ReduceScatter, AllGather, Broadcast and Reduce as pure schedules.
//
// Every position talks to every peer it needs directly, instead of forwarding around a ring or a
// chain. For small messages the cost is latency, not bandwidth: a ring pays n-1 (or 2(n-1))
// message latencies, a direct schedule one, because no message waits on another (nothing is
// forwarded). AllReduce built as DirectReduceScatter then DirectAllGather pays two. The price is
// n-1 messages per position per phase and, for Broadcast and Reduce, a root that sends or
// receives n-1 copies of the buffer, so these schedules suit small counts or small n.
//
// Peers are named by position. Chunk c is chunks[c] (disjoint, in any order in the buffer, empty
// allowed); Broadcast and Reduce move the whole count-element buffer. Distance s = 1..n-1.
//
// ReduceScatter (in place). For s = 1..n-1 position p sends chunk (p+s) to its owner p+s and
// receive-reduces chunk p from p-s. Sends read only chunks p never writes (p writes chunk p only),
// so every send carries the sender's own input. The owner applies contributions in the fixed order
// p-1, p-2, ..., p-(n-1) (op order), so the result is deterministic from run to run.
//   Sent by p: total - |chunk p|. Received by p: (n-1) * |chunk p|.
// AllGather (in place on the output, which already holds the caller's chunk p; no kCopy). For s,
// p sends chunk p to p+s and receives (overwriting) chunk p-s from p-s. Every copy is the owner's
// bytes.   Sent by p: (n-1) * |chunk p|. Received by p: total - |chunk p|.
// Broadcast. The root sends every segment to every other position (segment-major: segment k goes
// to root+1, ..., root+n-1 before segment k+1); the others receive it from the root.
//   Root sends (n-1) * count; every other position receives count and sends nothing.
// Reduce. Non-roots send the whole buffer to the root; the root receive-reduces segment k from
// root-1, root-2, ..., root-(n-1) (the same order as ReduceScatter's owner), then segment k+1.
// Non-root buffers are left unchanged.   Root receives (n-1) * count; each other position sends
// count.
//
// Segments and tags. Every op range is cut into segments of at most segment_elems elements. Each
// ordered pair of positions exchanges one stream of segments, so step alone need not tell streams
// apart (the wire tag carries the source): every op has step 0 (num_steps = 1, or 0 when n = 1) and
// segment k, and the tag stride is the most segments of any chunk (of the buffer for Broadcast and
// Reduce), which every position computes alike.
//
// Deadlock freedom. An executor posts each peer's ops in op order and applies the reductions into
// one range in op order. Ops are ordered by (s, k) for ReduceScatter and AllGather, by k for
// Broadcast and Reduce, with a position's sends before its receives of the same (s, k): by
// induction on that order every receive's matching send comes no later in its sender's list and
// depends on no receive, so even an executor that blocks on each receive in turn finishes (the
// simulator in tests/harness/schedule_sim.h checks exactly that).
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <span>

#include "tidal/coll/schedule/schedule.h"

namespace tidal::coll {

// REQUIRES for the chunk schedules: n = chunks.size() >= 1, 0 <= position < n, segment_elems >= 1,
// chunks pairwise disjoint (CHECKed).

// In place; afterwards chunks[position] holds every position's contribution, reduced in the order
// position-1, position-2, ... into the caller's own.
Schedule DirectReduceScatterSchedule(int position, std::span<const ElementRange> chunks,
                                     size_t segment_elems);

// In place on the output buffer, which must already hold chunks[position] (the executor copies it
// there); afterwards chunks[c] holds position c's bytes for every c.
Schedule DirectAllGatherSchedule(int position, std::span<const ElementRange> chunks,
                                 size_t segment_elems);

// REQUIRES: n >= 1, 0 <= position, root_position < n, segment_elems >= 1.
// Afterwards every position's count-element buffer holds the root's bytes.
Schedule DirectBroadcastSchedule(int position, int n, int root_position, size_t count,
                                 size_t segment_elems);
// Afterwards the root's buffer holds every position's contribution; the others are unchanged.
Schedule DirectReduceSchedule(int position, int n, int root_position, size_t count,
                              size_t segment_elems);

}  // namespace tidal::coll

// Ring ReduceScatter, AllGather and AllReduce as pure schedules.
//
// Positions 0..n-1 form a ring; position p sends to p+1 and receives from p-1 (mod n). Chunk c is
// OwnedRange(c, n, count).
//
// ReduceScatter, n-1 steps. At step s position p sends chunk (p-s-1) and receive-reduces chunk
// (p-s-2), which its predecessor sent at the same step. The chunk p receives at step s is the one
// it sends at step s+1, now holding one more contribution; at the last step (s = n-2) p receives
// chunk p with the other n-1 contributions and adds its own: position p ends with the fully reduced
// OwnedRange(p), every contribution counted once.
//   Bytes sent per position: count - |chunk p| ~ (n-1)/n * count.
//
// AllGather, n-1 steps. At step s position p sends chunk (p-s) and receives (overwriting) chunk
// (p-s-1). Step 0 sends the owner's own chunk; every later send forwards the bytes just received,
// so every copy of chunk c anywhere is a copy of its owner's bytes.
//   Bytes sent per position: count - |chunk p+1| ~ (n-1)/n * count.
//
// AllReduce = ReduceScatter (steps 0..n-2) then AllGather (steps n-1..2n-3) on the same buffer.
// Because the all-gather only copies, every rank ends with the owner's reduced bytes: the result is
// bit-identical on all ranks whatever the reduction's rounding (ALGORITHMS.md §0).
//   Bytes sent per position: 2 * count - |chunk p| - |chunk p+1| ~ 2(n-1)/n * count, the bandwidth
//   lower bound for AllReduce; 2(n-1) latency terms, so small messages want another algorithm.
//
// Segments: each step sends and receives its chunk in segments of at most segment_elems elements
// (ops ordered send k, receive k, send k+1, ...). Segment k of a chunk is received at step s and
// forwarded, unchanged in range, at step s+1, so the chain of segment k never waits on segment k+1
// and an executor may keep several segments in flight. Chunks differ in size by at most one
// element, so the send and the receive of one step may have one segment more or less than the
// other. With count < n some chunks are empty: no op is emitted for an empty chunk, at either end.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>

#include "tidal/coll/schedule/schedule.h"

namespace tidal::coll {

// REQUIRES for all: n >= 1, 0 <= position < n, segment_elems >= 1.

// In place on a count-element buffer; afterwards OwnedRange(position) holds the reduction.
Schedule RingReduceScatterSchedule(int position, int n, size_t count, size_t segment_elems);

// On the count-element output buffer. Its first op is a kCopy of OwnedRange(position): the caller's
// shard into its place in the output (nothing to do in place); absent when the shard is empty.
Schedule RingAllGatherSchedule(int position, int n, size_t count, size_t segment_elems);

// In place on a count-element buffer: RingReduceScatterSchedule then the all-gather steps (without
// the copy), numbered n-1 .. 2n-3.
Schedule RingAllReduceSchedule(int position, int n, size_t count, size_t segment_elems);

}  // namespace tidal::coll

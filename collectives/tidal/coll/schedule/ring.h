// Ring ReduceScatter, AllGather and AllReduce as pure schedules.
//
// Positions 0..n-1 form a ring; position p sends to p+1 and receives from p-1 (mod n). Chunk c is
// the range ring position c owns: chunks[c] for the *Chunks schedules, OwnedRange(c, n, count) for
// the others (which are the *Chunks schedules on those chunks). Chunks may lie in any order in the
// buffer (a ring that visits ranks in another order than their shards), may be empty, and may
// differ in size (AllGatherV); the steps do not depend on where or how large they are.
//
// ReduceScatter, n-1 steps. At step s position p sends chunk (p-s-1) and receive-reduces chunk
// (p-s-2), which its predecessor sent at the same step. The chunk p receives at step s is the one
// it sends at step s+1, now holding one more contribution; at the last step (s = n-2) p receives
// chunk p with the other n-1 contributions and adds its own: position p ends with the fully reduced
// chunk p, every contribution counted once.
//   Bytes sent per position: total - |chunk p| (even chunks: ~ (n-1)/n * count).
//
// AllGather, n-1 steps. At step s position p sends chunk (p-s) and receives (overwriting) chunk
// (p-s-1). Step 0 sends the owner's own chunk; every later send forwards the bytes just received,
// so every copy of chunk c anywhere is a copy of its owner's bytes.
//   Bytes sent per position: total - |chunk p+1| (even chunks: ~ (n-1)/n * count).
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
// and an executor may keep several segments in flight. The send and the receive of one step may
// have different numbers of segments (chunks of different sizes). No op is emitted for an empty
// chunk, at either end. The tag stride (segments_per_step) is the most segments of any chunk, a
// function of the chunk list that every position shares, so sender and receiver agree on it.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <span>

#include "tidal/coll/schedule/schedule.h"

namespace tidal::coll {

// REQUIRES for all: n >= 1, 0 <= position < n, segment_elems >= 1. For the *Chunks schedules
// n = chunks.size(), and the chunks are pairwise disjoint ranges of the buffer (CHECKed).

// In place; afterwards chunks[position] holds the reduction of every position's input.
Schedule RingReduceScatterChunks(int position, std::span<const ElementRange> chunks,
                                 size_t segment_elems);

// In place on the output buffer, which must already hold the caller's chunks[position] (the
// executor copies it there): there is no kCopy op. Afterwards every chunk holds its owner's bytes.
Schedule RingAllGatherChunks(int position, std::span<const ElementRange> chunks,
                             size_t segment_elems);

// True when no two non-empty ranges overlap (empty ranges overlap nothing).
bool ChunksDisjoint(std::span<const ElementRange> chunks);

// The three below use the chunks OwnedRange(0..n-1, n, count).

// In place on a count-element buffer; afterwards OwnedRange(position) holds the reduction.
Schedule RingReduceScatterSchedule(int position, int n, size_t count, size_t segment_elems);

// On the count-element output buffer. Its first op is a kCopy of OwnedRange(position): the caller's
// shard into its place in the output (nothing to do in place); absent when the shard is empty.
Schedule RingAllGatherSchedule(int position, int n, size_t count, size_t segment_elems);

// In place on a count-element buffer: RingReduceScatterSchedule then the all-gather steps (without
// the copy), numbered n-1 .. 2n-3.
Schedule RingAllReduceSchedule(int position, int n, size_t count, size_t segment_elems);

}  // namespace tidal::coll

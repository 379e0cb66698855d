// Schedules: the pure description of a collective that one executor walks.
//
// A schedule is, for one ring position, the ordered list of operations that position performs:
// send a range of the buffer to a peer, receive a range (overwriting, or reducing into what is
// there), or copy a range locally. Ranges are element ranges of the caller's `count`-element
// buffer; the executor scales them by DataTypeSize. A schedule names peers by ring position, never
// by rank, so the same schedule serves every ring the topology builds.
//
// Owned shards. OwnedRange(p, n, count) cuts [0, count) into n contiguous ranges in ring order:
// position p gets count / n elements, plus one when p < count % n (earlier positions take the
// extra elements). The cut depends only on (p, n, count): never on the segment size or on which
// algorithm was selected, so every algorithm that leaves a shard at its owner leaves the same one,
// and state replicated from the owner (ALGORITHMS.md §0) matches bit for bit.
//
// Segments. Each step's range is cut into segments of at most `segment_elems` elements; an op
// carries (step, segment) and the ops of one segment form a chain that does not depend on the other
// segments, so the executor may keep several segments in flight (the next segment's send overlaps
// this segment's reduction).
//
// Tag mapping. The wire tag has 16 bits of step (runtime/tidal/transport/tag.h). An op's tag step
// is TagStep(op, segments_per_step) = (step * segments_per_step + segment) mod 2^16, where
// segments_per_step is the schedule's stride (the most segments any step of the operation has) and
// is a function of (n, count, segment_elems) alone, so sender and receiver agree on it. Distinct
// (step, segment) pairs map to distinct tag steps until 2^16 of them; beyond that the tag wraps and
// matching stays correct because matching is FIFO per (source, tag) and both ends issue a given
// (peer, tag) in schedule order. REQUIRES of the executor: fewer than 2^16 receives in flight per
// peer, so two live receives never share a tag.
//
// Thread safety: pure values and functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <vector>

namespace tidal::coll {

// A contiguous range of elements, [begin, begin + count).
struct ElementRange {
  size_t begin = 0;
  size_t count = 0;

  size_t end() const { return begin + count; }
  bool empty() const { return count == 0; }
  friend bool operator==(const ElementRange&, const ElementRange&) = default;
};

std::ostream& operator<<(std::ostream& os, const ElementRange& range);

// The fixed shard of `ring_position` among `n` positions for a `count`-element buffer (see the note
// above: contiguous, in ring order, sizes differ by at most one, earlier positions larger).
// REQUIRES: n >= 1, 0 <= ring_position < n.
ElementRange OwnedRange(int ring_position, int n, size_t count);

// Cuts `range` into segments of at most `segment_elems` elements; segment k is
// [begin + k * segment_elems, ...). An empty range has no segments. REQUIRES: segment_elems >= 1.
size_t NumSegments(size_t range_count, size_t segment_elems);
ElementRange SegmentOf(const ElementRange& range, size_t segment_elems, size_t segment);

struct Op {
  enum Kind : uint8_t {
    kSend,        // send `range` of the buffer to `peer_position`
    kRecv,        // receive `range` from `peer_position`, overwriting it (a copy of the sender's)
    kRecvReduce,  // receive `range` from `peer_position` and reduce it into the buffer
    kCopy,        // copy `range` from the input to the output buffer (peer_position is self)
  };
  Kind kind = kSend;
  int peer_position = 0;
  ElementRange range;
  uint32_t step = 0;
  uint32_t segment = 0;

  friend bool operator==(const Op&, const Op&) = default;
};

std::ostream& operator<<(std::ostream& os, const Op& op);

// One position's part of a collective, in issue order. Executing the ops in this order, with sends
// that complete without waiting for the receiver, never deadlocks (the simulator in
// tests/harness/schedule_sim.h checks this for every schedule).
struct Schedule {
  std::vector<Op> ops;
  // Number of steps (op.step < num_steps) and the tag stride (op.segment < segments_per_step).
  uint32_t num_steps = 0;
  uint32_t segments_per_step = 0;
};

// The 16-bit tag step of `op` in a schedule with stride `segments_per_step` (see the note above).
uint32_t TagStep(const Op& op, uint32_t segments_per_step);

}  // namespace tidal::coll

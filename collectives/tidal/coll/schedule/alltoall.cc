// Pairwise AllToAll schedule (design note and tag convention in alltoall.h).
//
// Thread safety: pure functions.
#include "tidal/coll/schedule/alltoall.h"

#include <algorithm>

#include "tidal/coll/schedule/ring.h"
#include "tidal/core/check.h"

namespace tidal::coll {

Schedule PairwiseAllToAllSchedule(int position, std::span<const ElementRange> send_ranges,
                                  std::span<const ElementRange> recv_ranges, size_t segment_elems) {
  const int n = static_cast<int>(send_ranges.size());
  TIDAL_CHECK_GE(n, 1);
  TIDAL_CHECK_EQ(recv_ranges.size(), send_ranges.size());
  TIDAL_CHECK(position >= 0 && position < n) << "position " << position << " of " << n;
  TIDAL_CHECK_GE(segment_elems, size_t{1});
  TIDAL_CHECK(ChunksDisjoint(recv_ranges)) << "alltoall receive ranges overlap";
  Schedule schedule;
  schedule.num_steps = static_cast<uint32_t>(n - 1);
  schedule.segments_per_step = 1;  // every op has segment 0: see the tag convention
  for (int s = 1; s < n; ++s) {
    const uint32_t step = static_cast<uint32_t>(s - 1);
    const int to = (position + s) % n;
    const int from = (position - s + n) % n;
    const ElementRange send_range = send_ranges[static_cast<size_t>(to)];
    const ElementRange recv_range = recv_ranges[static_cast<size_t>(from)];
    const size_t send_segments = NumSegments(send_range.count, segment_elems);
    const size_t recv_segments = NumSegments(recv_range.count, segment_elems);
    for (size_t k = 0; k < std::max(send_segments, recv_segments); ++k) {
      if (k < send_segments) {
        schedule.ops.push_back(
            Op{Op::kSend, to, SegmentOf(send_range, segment_elems, k), step, /*segment=*/0});
      }
      if (k < recv_segments) {
        schedule.ops.push_back(
            Op{Op::kRecv, from, SegmentOf(recv_range, segment_elems, k), step, /*segment=*/0});
      }
    }
  }
  return schedule;
}

}  // namespace tidal::coll

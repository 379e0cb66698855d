// Ring ReduceScatter, AllGather and AllReduce schedules (design note in ring.h).
//
// Thread safety: pure functions.
#include "tidal/coll/schedule/ring.h"

#include <algorithm>

#include "tidal/core/check.h"

namespace tidal::coll {
namespace {

int Mod(int a, int n) { return ((a % n) + n) % n; }

void CheckArgs(int position, int n, size_t segment_elems) {
  TIDAL_CHECK_GE(n, 1);
  TIDAL_CHECK(position >= 0 && position < n) << "ring position " << position << " of " << n;
  TIDAL_CHECK_GE(segment_elems, size_t{1});
}

// The tag stride: the most segments any chunk has (chunk 0 is the largest).
uint32_t RingStride(int n, size_t count, size_t segment_elems) {
  return static_cast<uint32_t>(NumSegments(OwnedRange(0, n, count).count, segment_elems));
}

// Appends one ring step: send chunk `send_chunk` to the successor and receive chunk `recv_chunk`
// from the predecessor, segment by segment.
void AppendRingStep(int position, int n, size_t count, size_t segment_elems, uint32_t step,
                    int send_chunk, int recv_chunk, Op::Kind recv_kind, Schedule& schedule) {
  const ElementRange send_range = OwnedRange(send_chunk, n, count);
  const ElementRange recv_range = OwnedRange(recv_chunk, n, count);
  const size_t send_segments = NumSegments(send_range.count, segment_elems);
  const size_t recv_segments = NumSegments(recv_range.count, segment_elems);
  const int next = Mod(position + 1, n);
  const int prev = Mod(position - 1, n);
  for (size_t k = 0; k < std::max(send_segments, recv_segments); ++k) {
    const uint32_t segment = static_cast<uint32_t>(k);
    if (k < send_segments) {
      schedule.ops.push_back(
          Op{Op::kSend, next, SegmentOf(send_range, segment_elems, k), step, segment});
    }
    if (k < recv_segments) {
      schedule.ops.push_back(
          Op{recv_kind, prev, SegmentOf(recv_range, segment_elems, k), step, segment});
    }
  }
}

void AppendReduceScatter(int position, int n, size_t count, size_t segment_elems,
                         Schedule& schedule) {
  for (int s = 0; s + 1 < n; ++s) {
    AppendRingStep(position, n, count, segment_elems, static_cast<uint32_t>(s),
                   Mod(position - s - 1, n), Mod(position - s - 2, n), Op::kRecvReduce, schedule);
  }
}

void AppendAllGather(int position, int n, size_t count, size_t segment_elems, uint32_t first_step,
                     Schedule& schedule) {
  for (int s = 0; s + 1 < n; ++s) {
    AppendRingStep(position, n, count, segment_elems, first_step + static_cast<uint32_t>(s),
                   Mod(position - s, n), Mod(position - s - 1, n), Op::kRecv, schedule);
  }
}

}  // namespace

Schedule RingReduceScatterSchedule(int position, int n, size_t count, size_t segment_elems) {
  CheckArgs(position, n, segment_elems);
  Schedule schedule;
  schedule.num_steps = static_cast<uint32_t>(n - 1);
  schedule.segments_per_step = RingStride(n, count, segment_elems);
  AppendReduceScatter(position, n, count, segment_elems, schedule);
  return schedule;
}

Schedule RingAllGatherSchedule(int position, int n, size_t count, size_t segment_elems) {
  CheckArgs(position, n, segment_elems);
  Schedule schedule;
  schedule.num_steps = static_cast<uint32_t>(n - 1);
  schedule.segments_per_step = RingStride(n, count, segment_elems);
  const ElementRange owned = OwnedRange(position, n, count);
  if (!owned.empty()) schedule.ops.push_back(Op{Op::kCopy, position, owned, 0, 0});
  AppendAllGather(position, n, count, segment_elems, /*first_step=*/0, schedule);
  return schedule;
}

Schedule RingAllReduceSchedule(int position, int n, size_t count, size_t segment_elems) {
  CheckArgs(position, n, segment_elems);
  Schedule schedule;
  schedule.num_steps = static_cast<uint32_t>(2 * (n - 1));
  schedule.segments_per_step = RingStride(n, count, segment_elems);
  AppendReduceScatter(position, n, count, segment_elems, schedule);
  AppendAllGather(position, n, count, segment_elems, static_cast<uint32_t>(n - 1), schedule);
  return schedule;
}

}  // namespace tidal::coll

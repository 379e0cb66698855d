// Ring ReduceScatter, AllGather and AllReduce schedules (design note in ring.h).
//
// Thread safety: pure functions.
#include "tidal/coll/schedule/ring.h"

#include <algorithm>
#include <vector>

#include "tidal/core/check.h"

namespace tidal::coll {
namespace {

int Mod(int a, int n) { return ((a % n) + n) % n; }

// CHECKs the shared REQUIRES of the *Chunks schedules and returns n.
int CheckChunkArgs(int position, std::span<const ElementRange> chunks, size_t segment_elems) {
  const int n = static_cast<int>(chunks.size());
  TIDAL_CHECK_GE(n, 1);
  TIDAL_CHECK(position >= 0 && position < n) << "ring position " << position << " of " << n;
  TIDAL_CHECK_GE(segment_elems, size_t{1});
  TIDAL_CHECK(ChunksDisjoint(chunks)) << "ring chunks overlap";
  return n;
}

// The tag stride: the most segments any chunk has. Every position computes it from the same chunk
// list, so sender and receiver agree.
uint32_t MaxSegments(std::span<const ElementRange> chunks, size_t segment_elems) {
  size_t most = 0;
  for (const ElementRange& chunk : chunks) {
    most = std::max(most, NumSegments(chunk.count, segment_elems));
  }
  return static_cast<uint32_t>(most);
}

// Appends one ring step: send chunk `send_chunk` to the successor and receive chunk `recv_chunk`
// from the predecessor, segment by segment.
void AppendRingStep(int position, std::span<const ElementRange> chunks, size_t segment_elems,
                    uint32_t step, int send_chunk, int recv_chunk, Op::Kind recv_kind,
                    Schedule& schedule) {
  const int n = static_cast<int>(chunks.size());
  const ElementRange send_range = chunks[static_cast<size_t>(send_chunk)];
  const ElementRange recv_range = chunks[static_cast<size_t>(recv_chunk)];
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

std::vector<ElementRange> EvenChunks(int n, size_t count) {
  TIDAL_CHECK_GE(n, 1);
  std::vector<ElementRange> chunks;
  chunks.reserve(static_cast<size_t>(n));
  for (int c = 0; c < n; ++c) chunks.push_back(OwnedRange(c, n, count));
  return chunks;
}

}  // namespace

bool ChunksDisjoint(std::span<const ElementRange> chunks) {
  std::vector<ElementRange> sorted;
  for (const ElementRange& chunk : chunks) {
    if (!chunk.empty()) sorted.push_back(chunk);
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const ElementRange& a, const ElementRange& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i].begin < sorted[i - 1].end()) return false;
  }
  return true;
}

Schedule RingReduceScatterChunks(int position, std::span<const ElementRange> chunks,
                                 size_t segment_elems) {
  const int n = CheckChunkArgs(position, chunks, segment_elems);
  Schedule schedule;
  schedule.num_steps = static_cast<uint32_t>(n - 1);
  schedule.segments_per_step = MaxSegments(chunks, segment_elems);
  for (int s = 0; s + 1 < n; ++s) {
    AppendRingStep(position, chunks, segment_elems, static_cast<uint32_t>(s),
                   Mod(position - s - 1, n), Mod(position - s - 2, n), Op::kRecvReduce, schedule);
  }
  return schedule;
}

Schedule RingAllGatherChunks(int position, std::span<const ElementRange> chunks,
                             size_t segment_elems) {
  const int n = CheckChunkArgs(position, chunks, segment_elems);
  Schedule schedule;
  schedule.num_steps = static_cast<uint32_t>(n - 1);
  schedule.segments_per_step = MaxSegments(chunks, segment_elems);
  for (int s = 0; s + 1 < n; ++s) {
    AppendRingStep(position, chunks, segment_elems, static_cast<uint32_t>(s), Mod(position - s, n),
                   Mod(position - s - 1, n), Op::kRecv, schedule);
  }
  return schedule;
}

Schedule RingReduceScatterSchedule(int position, int n, size_t count, size_t segment_elems) {
  return RingReduceScatterChunks(position, EvenChunks(n, count), segment_elems);
}

Schedule RingAllGatherSchedule(int position, int n, size_t count, size_t segment_elems) {
  const Schedule gather = RingAllGatherChunks(position, EvenChunks(n, count), segment_elems);
  const ElementRange owned = OwnedRange(position, n, count);
  if (owned.empty()) return gather;
  Schedule schedule;
  schedule.num_steps = gather.num_steps;
  schedule.segments_per_step = gather.segments_per_step;
  schedule.ops.reserve(gather.ops.size() + 1);
  schedule.ops.push_back(Op{Op::kCopy, position, owned, 0, 0});
  for (const Op& op : gather.ops) schedule.ops.push_back(op);
  return schedule;
}

Schedule RingAllReduceSchedule(int position, int n, size_t count, size_t segment_elems) {
  const std::vector<ElementRange> chunks = EvenChunks(n, count);
  Schedule schedule = RingReduceScatterChunks(position, chunks, segment_elems);
  const Schedule gather = RingAllGatherChunks(position, chunks, segment_elems);
  schedule.ops.reserve(schedule.ops.size() + gather.ops.size());
  for (Op op : gather.ops) {
    op.step += schedule.num_steps;
    schedule.ops.push_back(op);
  }
  schedule.num_steps += gather.num_steps;
  return schedule;
}

}  // namespace tidal::coll

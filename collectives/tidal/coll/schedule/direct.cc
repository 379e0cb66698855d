// Direct ReduceScatter, AllGather, Broadcast and Reduce schedules (design note in direct.h).
//
// Thread safety: pure functions.
#include "tidal/coll/schedule/direct.h"

#include <algorithm>

#include "tidal/coll/schedule/ring.h"
#include "tidal/core/check.h"

namespace tidal::coll {
namespace {

int Mod(int a, int n) { return ((a % n) + n) % n; }

void CheckPosition(int position, int n) {
  TIDAL_CHECK_GE(n, 1);
  TIDAL_CHECK(position >= 0 && position < n) << "position " << position << " of " << n;
}

// CHECKs the REQUIRES of the chunk schedules; returns a schedule with num_steps and the tag stride
// (the most segments of any chunk) set.
Schedule StartChunked(int position, std::span<const ElementRange> chunks, size_t segment_elems) {
  const int n = static_cast<int>(chunks.size());
  CheckPosition(position, n);
  TIDAL_CHECK_GE(segment_elems, size_t{1});
  TIDAL_CHECK(ChunksDisjoint(chunks)) << "direct schedule chunks overlap";
  size_t most = 0;
  for (const ElementRange& chunk : chunks) {
    most = std::max(most, NumSegments(chunk.count, segment_elems));
  }
  Schedule schedule;
  schedule.num_steps = n > 1 ? 1 : 0;
  schedule.segments_per_step = static_cast<uint32_t>(most);
  return schedule;
}

// As StartChunked for Broadcast and Reduce, whose one range is the whole buffer.
Schedule StartRooted(int position, int n, int root_position, size_t count, size_t segment_elems) {
  CheckPosition(position, n);
  CheckPosition(root_position, n);
  Schedule schedule;
  schedule.num_steps = n > 1 ? 1 : 0;
  schedule.segments_per_step = static_cast<uint32_t>(NumSegments(count, segment_elems));
  return schedule;
}

// For s = 1..n-1 and each segment k: send chunk send_chunk(s) to send_peer(s), then receive
// (recv_kind) chunk recv_chunk(s) from recv_peer(s). All ops have step 0.
template <typename SendChunk, typename RecvChunk>
void AppendExchange(int position, std::span<const ElementRange> chunks, size_t segment_elems,
                    Op::Kind recv_kind, SendChunk send_chunk, RecvChunk recv_chunk,
                    Schedule& schedule) {
  const int n = static_cast<int>(chunks.size());
  for (int s = 1; s < n; ++s) {
    const int send_peer = Mod(position + s, n);
    const int recv_peer = Mod(position - s, n);
    const ElementRange send_range = chunks[static_cast<size_t>(send_chunk(send_peer))];
    const ElementRange recv_range = chunks[static_cast<size_t>(recv_chunk(recv_peer))];
    const size_t send_segments = NumSegments(send_range.count, segment_elems);
    const size_t recv_segments = NumSegments(recv_range.count, segment_elems);
    for (size_t k = 0; k < std::max(send_segments, recv_segments); ++k) {
      const uint32_t segment = static_cast<uint32_t>(k);
      if (k < send_segments) {
        schedule.ops.push_back(
            Op{Op::kSend, send_peer, SegmentOf(send_range, segment_elems, k), 0, segment});
      }
      if (k < recv_segments) {
        schedule.ops.push_back(
            Op{recv_kind, recv_peer, SegmentOf(recv_range, segment_elems, k), 0, segment});
      }
    }
  }
}

}  // namespace

Schedule DirectReduceScatterSchedule(int position, std::span<const ElementRange> chunks,
                                     size_t segment_elems) {
  Schedule schedule = StartChunked(position, chunks, segment_elems);
  // To peer q its own chunk q; from every peer my chunk.
  AppendExchange(
      position, chunks, segment_elems, Op::kRecvReduce, [](int peer) { return peer; },
      [position](int /*peer*/) { return position; }, schedule);
  return schedule;
}

Schedule DirectAllGatherSchedule(int position, std::span<const ElementRange> chunks,
                                 size_t segment_elems) {
  Schedule schedule = StartChunked(position, chunks, segment_elems);
  // To every peer my chunk; from peer q its chunk q.
  AppendExchange(
      position, chunks, segment_elems, Op::kRecv, [position](int /*peer*/) { return position; },
      [](int peer) { return peer; }, schedule);
  return schedule;
}

Schedule DirectBroadcastSchedule(int position, int n, int root_position, size_t count,
                                 size_t segment_elems) {
  Schedule schedule = StartRooted(position, n, root_position, count, segment_elems);
  const ElementRange all{0, count};
  for (uint32_t k = 0; k < schedule.segments_per_step; ++k) {
    const ElementRange range = SegmentOf(all, segment_elems, k);
    if (position != root_position) {
      schedule.ops.push_back(Op{Op::kRecv, root_position, range, 0, k});
      continue;
    }
    for (int s = 1; s < n; ++s) {
      schedule.ops.push_back(Op{Op::kSend, Mod(root_position + s, n), range, 0, k});
    }
  }
  return schedule;
}

Schedule DirectReduceSchedule(int position, int n, int root_position, size_t count,
                              size_t segment_elems) {
  Schedule schedule = StartRooted(position, n, root_position, count, segment_elems);
  const ElementRange all{0, count};
  for (uint32_t k = 0; k < schedule.segments_per_step; ++k) {
    const ElementRange range = SegmentOf(all, segment_elems, k);
    if (position != root_position) {
      schedule.ops.push_back(Op{Op::kSend, root_position, range, 0, k});
      continue;
    }
    for (int s = 1; s < n; ++s) {
      schedule.ops.push_back(Op{Op::kRecvReduce, Mod(root_position - s, n), range, 0, k});
    }
  }
  return schedule;
}

}  // namespace tidal::coll

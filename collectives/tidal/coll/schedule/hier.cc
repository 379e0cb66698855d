// Hierarchical AllReduce schedules (design note in hier.h).
//
// Thread safety: pure functions.
#include "tidal/coll/schedule/hier.h"

#include <algorithm>

#include "tidal/coll/schedule/ring.h"
#include "tidal/core/check.h"

namespace tidal::coll {
namespace {

// Phase 1 or 4 of `local` on host `host`: every block's ring over its L pieces, interleaved.
HierPhase LocalPhase(int host, int local, int hosts, int per_host, size_t count,
                     size_t segment_elems, bool reduce) {
  std::vector<Schedule> blocks;
  for (int b = 0; b < hosts; ++b) {
    const std::vector<ElementRange> chunks = HierBlockChunks(b, hosts, per_host, count);
    blocks.push_back(reduce ? RingReduceScatterChunks(local, chunks, segment_elems)
                            : RingAllGatherChunks(local, chunks, segment_elems));
  }
  HierPhase phase{InterleaveSchedules(blocks), {}};
  for (int l = 0; l < per_host; ++l) phase.group.push_back(host * per_host + l);
  return phase;
}

// Phase 2 or 3 of (host, local): the ring over the hosts' pieces of local index `local`.
HierPhase CrossPhase(int host, int local, int hosts, int per_host, size_t count,
                     size_t segment_elems, bool reduce) {
  const std::vector<ElementRange> chunks = HierCrossChunks(local, hosts, per_host, count);
  HierPhase phase{reduce ? RingReduceScatterChunks(host, chunks, segment_elems)
                         : RingAllGatherChunks(host, chunks, segment_elems),
                  {}};
  // Every local index uses the same stride, that of the largest piece (P_0): the executor's tag
  // base of the later stages is the sum of steps x strides, and the local all-gather's peers have
  // other local indices, so they must have counted the same.
  phase.schedule.segments_per_step = static_cast<uint32_t>(
      NumSegments(OwnedRange(0, hosts * per_host, count).count, segment_elems));
  for (int h = 0; h < hosts; ++h) phase.group.push_back(h * per_host + local);
  return phase;
}

}  // namespace

std::vector<ElementRange> HierCrossChunks(int local, int hosts, int per_host, size_t count) {
  TIDAL_CHECK(hosts >= 1 && per_host >= 1) << hosts << " hosts x " << per_host;
  TIDAL_CHECK(local >= 0 && local < per_host) << "local index " << local << " of " << per_host;
  std::vector<ElementRange> chunks;
  for (int h = 0; h < hosts; ++h) {
    chunks.push_back(OwnedRange(h * per_host + local, hosts * per_host, count));
  }
  return chunks;
}

std::vector<ElementRange> HierBlockChunks(int host, int hosts, int per_host, size_t count) {
  TIDAL_CHECK(hosts >= 1 && per_host >= 1) << hosts << " hosts x " << per_host;
  TIDAL_CHECK(host >= 0 && host < hosts) << "host " << host << " of " << hosts;
  std::vector<ElementRange> chunks;
  for (int l = 0; l < per_host; ++l) {
    chunks.push_back(OwnedRange(host * per_host + l, hosts * per_host, count));
  }
  return chunks;
}

Schedule InterleaveSchedules(std::span<const Schedule> parts) {
  Schedule merged;
  uint32_t stride = 0;
  for (const Schedule& part : parts) {
    merged.num_steps = std::max(merged.num_steps, part.num_steps);
    stride = std::max(stride, part.segments_per_step);
  }
  merged.segments_per_step = stride * static_cast<uint32_t>(parts.size());
  std::vector<size_t> next(parts.size(), 0);
  for (uint32_t step = 0; step < merged.num_steps; ++step) {
    for (size_t i = 0; i < parts.size(); ++i) {
      const std::vector<Op>& ops = parts[i].ops;
      for (; next[i] < ops.size() && ops[next[i]].step == step; ++next[i]) {
        Op op = ops[next[i]];
        op.segment += static_cast<uint32_t>(i) * stride;
        merged.ops.push_back(op);
      }
    }
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    TIDAL_CHECK_EQ(next[i], parts[i].ops.size()) << "part " << i << " is not in step order";
  }
  return merged;
}

HierPlan HierAllReducePlan(int position, int hosts, int per_host, size_t count,
                           size_t segment_elems) {
  TIDAL_CHECK(hosts >= 1 && per_host >= 1) << hosts << " hosts x " << per_host;
  TIDAL_CHECK(position >= 0 && position < hosts * per_host)
      << "ring position " << position << " of " << hosts << " x " << per_host;
  const int host = position / per_host;
  const int local = position % per_host;
  return HierPlan{
      LocalPhase(host, local, hosts, per_host, count, segment_elems, /*reduce=*/true),
      CrossPhase(host, local, hosts, per_host, count, segment_elems, /*reduce=*/true),
      CrossPhase(host, local, hosts, per_host, count, segment_elems, /*reduce=*/false),
      LocalPhase(host, local, hosts, per_host, count, segment_elems, /*reduce=*/false),
  };
}

}  // namespace tidal::coll

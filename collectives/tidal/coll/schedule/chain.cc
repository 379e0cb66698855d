// Chain Broadcast and Reduce schedules (design note in chain.h).
//
// Thread safety: pure functions.
#include "tidal/coll/schedule/chain.h"

#include "tidal/core/check.h"

namespace tidal::coll {
namespace {

struct Chain {
  int distance;  // from the root
  int toward_root;
  int away_from_root;
  size_t segments;
};

Chain MakeChain(int position, int n, int root_position, size_t count, size_t segment_elems) {
  TIDAL_CHECK_GE(n, 1);
  TIDAL_CHECK(position >= 0 && position < n) << "ring position " << position << " of " << n;
  TIDAL_CHECK(root_position >= 0 && root_position < n) << "root " << root_position << " of " << n;
  return Chain{(position - root_position + n) % n, (position - 1 + n) % n, (position + 1) % n,
               NumSegments(count, segment_elems)};
}

}  // namespace

Schedule ChainBroadcastSchedule(int position, int n, int root_position, size_t count,
                                size_t segment_elems) {
  const Chain chain = MakeChain(position, n, root_position, count, segment_elems);
  Schedule schedule;
  schedule.num_steps = n > 1 ? 1 : 0;
  schedule.segments_per_step = static_cast<uint32_t>(chain.segments);
  const ElementRange all{0, count};
  for (size_t k = 0; k < chain.segments; ++k) {
    const ElementRange range = SegmentOf(all, segment_elems, k);
    const uint32_t segment = static_cast<uint32_t>(k);
    if (chain.distance > 0) {
      schedule.ops.push_back(Op{Op::kRecv, chain.toward_root, range, 0, segment});
    }
    if (chain.distance < n - 1) {
      schedule.ops.push_back(Op{Op::kSend, chain.away_from_root, range, 0, segment});
    }
  }
  return schedule;
}

Schedule ChainReduceSchedule(int position, int n, int root_position, size_t count,
                             size_t segment_elems) {
  const Chain chain = MakeChain(position, n, root_position, count, segment_elems);
  Schedule schedule;
  schedule.num_steps = n > 1 ? 1 : 0;
  schedule.segments_per_step = static_cast<uint32_t>(chain.segments);
  const ElementRange all{0, count};
  for (size_t k = 0; k < chain.segments; ++k) {
    const ElementRange range = SegmentOf(all, segment_elems, k);
    const uint32_t segment = static_cast<uint32_t>(k);
    if (chain.distance < n - 1) {
      schedule.ops.push_back(Op{Op::kRecvReduce, chain.away_from_root, range, 0, segment});
    }
    if (chain.distance > 0) {
      schedule.ops.push_back(Op{Op::kSend, chain.toward_root, range, 0, segment});
    }
  }
  return schedule;
}

}  // namespace tidal::coll

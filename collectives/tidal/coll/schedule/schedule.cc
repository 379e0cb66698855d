// Owned shards, segments and the tag mapping of schedules (see schedule.h).
//
// Thread safety: pure functions.
#include "tidal/coll/schedule/schedule.h"

#include <algorithm>

#include "tidal/core/check.h"
#include "tidal/transport/tag.h"

namespace tidal::coll {

std::ostream& operator<<(std::ostream& os, const ElementRange& range) {
  return os << "[" << range.begin << ", " << range.end() << ")";
}

ElementRange OwnedRange(int ring_position, int n, size_t count) {
  TIDAL_CHECK_GE(n, 1);
  TIDAL_CHECK(ring_position >= 0 && ring_position < n)
      << "ring position " << ring_position << " of " << n;
  const size_t un = static_cast<size_t>(n);
  const size_t p = static_cast<size_t>(ring_position);
  const size_t base = count / un;
  const size_t extra = count % un;
  // Positions [0, extra) hold base + 1 elements, the rest base.
  return ElementRange{p * base + std::min(p, extra), base + (p < extra ? 1 : 0)};
}

size_t NumSegments(size_t range_count, size_t segment_elems) {
  TIDAL_CHECK_GE(segment_elems, size_t{1});
  return (range_count + segment_elems - 1) / segment_elems;
}

ElementRange SegmentOf(const ElementRange& range, size_t segment_elems, size_t segment) {
  TIDAL_CHECK_LT(segment, NumSegments(range.count, segment_elems));
  const size_t offset = segment * segment_elems;
  return ElementRange{range.begin + offset, std::min(segment_elems, range.count - offset)};
}

std::ostream& operator<<(std::ostream& os, const Op& op) {
  static constexpr const char* kNames[] = {"send", "recv", "recv_reduce", "copy"};
  return os << kNames[op.kind] << "(peer " << op.peer_position << " " << op.range << " step "
            << op.step << " seg " << op.segment << ")";
}

uint32_t TagStep(const Op& op, uint32_t segments_per_step) {
  const uint64_t linear = uint64_t{op.step} * segments_per_step + op.segment;
  return static_cast<uint32_t>(linear & TagLayout::kStepMask);
}

}  // namespace tidal::coll

// Hierarchical (two-level) AllReduce as pure schedules: the plan of Algorithm::kHier (coll/hier.h).
//
// Layout. n = H * L positions in ring order, host-major: the ring keeps each host's members
// adjacent (topology/ring.h), so with L members on every host ring position p = h * L + l for host
// h (hosts in ring order) and local index l. The buffer is cut into n pieces
// P_q = OwnedRange(q, n, count); block h' is P_{h'L} .. P_{h'L+L-1}, contiguous.
//
// Four phases, each a ring schedule (schedule/ring.h) over a group of positions:
//   1. local reduce-scatter, among the L positions of host h (ring over l): for every block h', a
//      ring reduce-scatter over its L pieces, the H blocks stepping together. Afterwards (h, l)
//      holds host h's partial reduction of P_{h'L+l} for every h'.
//   2. cross reduce-scatter, among the H positions of local index l (ring over h): a ring
//      reduce-scatter over the chunks P_{h'L+l}, h' = 0..H-1. Afterwards (h, l) holds the full
//      reduction of P_{hL+l} = OwnedRange(p, n, count): its owned range, as for every algorithm.
//   (the owner's local step runs here: kAvg's division, the owned-shard callback)
//   3. cross all-gather, the same group and chunks: (h, l) then holds P_{h'L+l} for every h'.
//   4. local all-gather, the groups and blocks of phase 1.
// Every reduction happens once, at one position, in the op order of one schedule (phase 1 at the
// local ring's positions, phase 2 at the cross ring's), so its order is fixed whatever the timing;
// every later copy of a piece is a copy of its owner's bytes: the result is bit-identical on all
// positions.
//   Steps: 2(L-1) local + 2(H-1) cross (a flat ring: 2(HL-1)).
//   Bytes sent per position: ~ 2(L-1)/L * count on the host, ~ 2(H-1)/(HL) * count across hosts:
//   each host's L members carry its share of cross-host traffic in parallel, L streams per host.
// With H = 1 or L = 1 the plan is a plain ring (the other level's phases are empty).
//
// Steps and tags of phases 1 and 4: step s of the merged schedule is step s of every block's ring;
// block b's segment k becomes segment b * S + k, S the blocks' common stride, so the merged stride
// is H * S and (step, segment) pairs stay distinct (InterleaveSchedules). Phases 2 and 3 take the
// stride of the largest piece on every local index, so every position of the communicator agrees
// on each phase's steps x stride (the executor's tag base of the stages after it).
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "tidal/coll/schedule/schedule.h"

namespace tidal::coll {

// One phase: the schedule of this position in its group, and the group (schedule position ->
// ring position).
struct HierPhase {
  Schedule schedule;
  std::vector<int> group;
};

struct HierPlan {
  HierPhase local_reduce_scatter;
  HierPhase cross_reduce_scatter;
  HierPhase cross_all_gather;
  HierPhase local_all_gather;
};

// The four phases of ring position `position`, in place on a count-element buffer.
// REQUIRES: hosts >= 1, per_host >= 1, 0 <= position < hosts * per_host, segment_elems >= 1.
HierPlan HierAllReducePlan(int position, int hosts, int per_host, size_t count,
                           size_t segment_elems);

// The chunks of the cross-host ring of local index `local`: P_{h*L+local}, h = 0..hosts-1.
std::vector<ElementRange> HierCrossChunks(int local, int hosts, int per_host, size_t count);
// The chunks of block `host` for the local rings: P_{host*L+l}, l = 0..per_host-1.
std::vector<ElementRange> HierBlockChunks(int host, int hosts, int per_host, size_t count);

// Runs `parts` side by side: step s of the result is step s of every part in turn (parts in order),
// part i's segments shifted by i * S, S the largest stride among the parts. REQUIRES: each part's
// ops are in non-decreasing step order, and the parts among them touch disjoint ranges.
Schedule InterleaveSchedules(std::span<const Schedule> parts);

}  // namespace tidal::coll

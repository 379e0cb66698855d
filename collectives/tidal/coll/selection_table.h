// The selection table: which algorithm kAuto picks for each collective and message size, for a
// given world and host shape, and which knobs force another. tidal-info --selection prints it.
//
// Every cell is SelectAlgorithm(kind, kAuto, bytes, n, shape) (algorithm.h), knobs included as they
// are set when it is called, so the table never disagrees with what a call would run. Sizes are the
// bytes each collective selects on: the whole buffer for allreduce, broadcast and reduce, one
// rank's block for reduce_scatter and allgather, a rank's whole send buffer for alltoall.
//
// Thread safety: reads the environment (knobs); otherwise pure.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "tidal/coll/algorithm.h"

namespace tidal::coll {

// The collectives the table has columns for: allreduce, reduce_scatter, allgather, broadcast,
// reduce, alltoall (the V variants select as their plain forms).
std::vector<CollKind> SelectionKinds();

// 4 B, 16 B, ... 1 GiB (powers of 4).
std::vector<size_t> SelectionSizes();

// What kAuto picks for `kind` at `bytes`: the algorithm's name, or "error: ..." when a knob is
// malformed.
std::string SelectedName(CollKind kind, size_t bytes, int n, const HostShape& shape);

// The whole table as text: a header naming the world, one row per size, then per collective its
// knob and algorithms, and the knobs set now. REQUIRES: n >= 1.
std::string SelectionTable(int n, const HostShape& shape);

}  // namespace tidal::coll

// Buckets: how a flat parameter (or gradient) buffer is cut into element ranges that are
// communicated and updated one at a time (one AllReduce per bucket, so the first bucket's
// communication overlaps the rest's computation). Pure functions over element counts; they know
// nothing of transports, tensors' shapes or devices.
//
// Invariants of a bucket list for a buffer of `count` fp32 elements: the buckets tile [0, count)
// in order, without gaps or overlaps, and no bucket is empty. Hence a buffer of 0 elements has no
// buckets, and every bucket list MakeBuckets/SingleBucket return passes CheckBuckets.
//
// Thread safety: pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "tidal/core/status.h"

namespace tidal::optim {

// An element range [begin, begin + count) of a flat buffer.
struct Bucket {
  size_t begin = 0;
  size_t count = 0;
};

// Consecutive whole tensors (element counts, in order) grouped greedily into buckets of at most
// `max_bytes` of fp32 (4 bytes per element): a tensor joins the current bucket when it still fits,
// else it opens a new one. A tensor larger than max_bytes gets a bucket of its own (so max_bytes 0
// gives one bucket per non-empty tensor). Empty tensors add no elements and open no bucket; an
// empty list, or one of empty tensors only, gives no buckets.
// REQUIRES: the sum of tensor_counts times 4 fits in size_t.
std::vector<Bucket> MakeBuckets(std::span<const size_t> tensor_counts, size_t max_bytes);

// The whole buffer as one bucket {0, count}; no buckets when count == 0 (no bucket is empty).
std::vector<Bucket> SingleBucket(size_t count);

// OK when `buckets` tile [0, count) in order without gaps or overlaps and none is empty;
// kInvalidArgument naming the first offending bucket otherwise.
Status CheckBuckets(std::span<const Bucket> buckets, size_t count);

}  // namespace tidal::optim

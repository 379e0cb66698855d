// Bucket construction and validation (buckets.h).
//
// Design note: MakeBuckets is one greedy pass in element units (max_bytes / 4 elements per
// bucket); greedy is what DDP-style bucketing does and keeps tensors whole and in order, so a
// bucket's elements are one contiguous range of the flat buffer.
//
// Thread safety: pure functions.
#include "tidal/optim/buckets.h"

namespace tidal::optim {

std::vector<Bucket> MakeBuckets(std::span<const size_t> tensor_counts, size_t max_bytes) {
  const size_t max_elems = max_bytes / sizeof(float);
  std::vector<Bucket> buckets;
  Bucket current;
  for (const size_t t : tensor_counts) {
    // Close the current bucket when it is full (a big tensor) or this tensor would overflow it.
    if (current.count > 0 && (current.count > max_elems || t > max_elems - current.count)) {
      buckets.push_back(current);
      current = Bucket{current.begin + current.count, 0};
    }
    current.count += t;
  }
  if (current.count > 0) buckets.push_back(current);
  return buckets;
}

std::vector<Bucket> SingleBucket(size_t count) {
  if (count == 0) return {};
  return {Bucket{0, count}};
}

Status CheckBuckets(std::span<const Bucket> buckets, size_t count) {
  size_t next = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    const Bucket& b = buckets[i];
    if (b.begin != next) {
      return InvalidArgumentError("CheckBuckets: bucket ", i, " begins at ", b.begin, ", expected ",
                                  next, " (gap or overlap)");
    }
    if (b.count == 0) return InvalidArgumentError("CheckBuckets: bucket ", i, " is empty");
    if (b.count > count - next) {
      return InvalidArgumentError("CheckBuckets: bucket ", i, " [", b.begin, ", +", b.count,
                                  ") runs past the buffer's ", count, " elements");
    }
    next += b.count;
  }
  if (next != count) {
    return InvalidArgumentError("CheckBuckets: buckets cover ", next, " of ", count, " elements");
  }
  return Status::Ok();
}

}  // namespace tidal::optim

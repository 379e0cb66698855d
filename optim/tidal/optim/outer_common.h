// Helpers shared by the outer-step algorithms (slowmo.h, local_sgd.h, overlap_local_sgd.h):
// argument checks that name the rank and the operation, bucket resolution, the identical start
// (x_{0,0} broadcast from rank 0) and waiting for a round's Works under one deadline.
// Not a public API: the algorithms' headers are.
//
// Thread safety: pure functions of their arguments, except the collectives they issue (one thread
// at a time per communicator, as collectives.h).
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "tidal/coll/collectives.h"
#include "tidal/comm/communicator.h"
#include "tidal/comm/work.h"
#include "tidal/core/status.h"
#include "tidal/core/time.h"
#include "tidal/optim/buckets.h"
#include "tidal/progress/task.h"

namespace tidal::optim::internal {

// kInvalidArgument "rank R: <op>: gamma ..." unless gamma > 0 and finite.
Status CheckGamma(const Communicator& comm, std::string_view op, float gamma);
// kInvalidArgument unless tau >= 1.
Status CheckTau(const Communicator& comm, std::string_view op, int tau);
// kInvalidArgument unless `value` is finite.
Status CheckFinite(const Communicator& comm, std::string_view op, std::string_view name,
                   float value);
// kInvalidArgument when x is null with count > 0.
Status CheckVector(const Communicator& comm, std::string_view op, const float* x, size_t count);

// `buckets`, or one bucket over [0, count) when empty; kInvalidArgument naming the rank when they
// do not tile [0, count) (CheckBuckets).
Result<std::vector<Bucket>> ResolveBuckets(const Communicator& comm, std::string_view op,
                                           std::vector<Bucket> buckets, size_t count);

// x + bucket.begin, without forming an offset from a null pointer (x may be null when count 0).
inline float* Slice(float* x, const Bucket& bucket) {
  return bucket.count == 0 ? x : x + bucket.begin;
}

// Broadcasts x from rank 0 (blocking; options.algorithm is left to selection, since the
// AllReduce algorithm in `options` need not exist for Broadcast).
Status BroadcastStart(Communicator& comm, std::string_view op, float* x, size_t count,
                      const coll::CollOptions& options);

// The deadline of a blocking call: options.deadline, else now + comm.timeout().
Deadline BlockingDeadline(const Communicator& comm, const coll::CollOptions& options);

// Waits for every Work in order (all of them, even after a failure, so that none is left
// running on our buffers while the deadline allows); returns the first error with `op` as context.
Status WaitAll(const Communicator& comm, std::string_view op, std::span<Work> works,
               Deadline deadline);

// The Works of the last round, kept to refuse a new round while one is in flight (and, for an
// owner that must not die under them, to wait for them).
class RoundTracker {
 public:
  // kInvalidArgument naming the rank and `op` when a Work of the last round has not finished.
  Status CheckIdle(const Communicator& comm, std::string_view op) const;
  void Track(std::span<const Work> works);
  // Waits for every Work of the last round that has not finished (each within its communicator's
  // timeout; a stopped one finishes soon). Their errors went to the caller's copies.
  void WaitAll();

 private:
  std::vector<Work> works_;
};

}  // namespace tidal::optim::internal

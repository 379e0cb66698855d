// Local SGD: periodic exact averaging of the parameters every tau inner steps (SlowMo with α=1,
// β=0, without the slow state; ALGORITHMS.md §1). Not the base optimizer: the trainer runs its
// own inner steps on x and calls AfterInnerStep() after each.
//
// Design note. Per bucket one in-place AllReduceAsync(x, avg): 2(n−1)/n·4d bytes per average and
// no state at all. Unlike SlowMo(α=1, β=0), whose x0 − γ·((x0 − x̄)/γ) is only within a few ulps
// of x̄, the result is x̄ itself, bit-identical on every rank (collectives.h). Create broadcasts x
// from rank 0, so that every rank starts from the same x_{0,0}. Any AllReduce algorithm may run
// (no state lives on owned shards).
//
// Thread safety: one thread at a time calls a LocalSgd (the thread that issues on `comm`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "tidal/coll/collectives.h"
#include "tidal/comm/communicator.h"
#include "tidal/comm/work.h"
#include "tidal/core/status.h"
#include "tidal/optim/buckets.h"
#include "tidal/optim/outer_common.h"

namespace tidal::optim {

struct LocalSgdOptions {
  int tau = 12;                 // inner steps per average (AfterInnerStep)
  std::vector<Bucket> buckets;  // empty: one bucket over the whole vector
  coll::CollOptions coll;       // algorithm / delay passed to every collective
};

class LocalSgd {
 public:
  // Collective over `comm`: broadcasts x from rank 0 (blocking; options.coll.deadline, else
  // comm's timeout).
  // REQUIRES: comm and x (count floats) outlive the LocalSgd; every rank passes the same count,
  // buckets and options.
  // Errors: kInvalidArgument naming the rank and the argument (x null with count > 0, tau < 1,
  // buckets that do not tile [0, count)); the broadcast's errors.
  static Result<std::unique_ptr<LocalSgd>> Create(Communicator& comm, float* x, size_t count,
                                                  LocalSgdOptions options);

  // After each inner step; every tau-th call runs Average() (blocking) and returns true.
  Result<bool> AfterInnerStep();
  // x ← (1/n) Σ_i x_i: AverageAsync, then waits for every Work (options.coll.deadline, else comm's
  // timeout); the first error names the rank and the bucket.
  Status Average();
  // One Work per bucket, in bucket order; x belongs to tidal until each finished. Does not block.
  // Errors: kInvalidArgument while a Work of the previous average has not finished; the
  // collective's errors (then the Works of earlier buckets are still running).
  Result<std::vector<Work>> AverageAsync();

  int64_t inner_steps() const { return inner_steps_; }
  size_t count() const { return count_; }
  const LocalSgdOptions& options() const { return options_; }

 private:
  LocalSgd(Communicator& comm, float* x, size_t count, LocalSgdOptions options);

  Communicator& comm_;
  float* x_;
  size_t count_;
  LocalSgdOptions options_;
  int64_t inner_steps_ = 0;
  internal::RoundTracker round_;
};

}  // namespace tidal::optim

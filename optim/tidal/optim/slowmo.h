// SlowMo (ALGORITHMS.md §1): the outer step of slow momentum, fused into the owned-shard
// AllReduce. Not the base optimizer: the trainer runs its own inner steps on x and calls
// AfterInnerStep(gamma) after each.
//
// Design note. Per bucket one AllReduceOwnedAsync(x, avg) (collectives.h): the reduce-scatter
// leaves this rank the average x̄ of its owned range OwnedRange(ring_position, n, count_b); the
// owner callback applies SlowMoShardUpdate there
//     u ← β·u + (x0 − x̄)/γ;   x0 ← x0 − α·γ·u;   shard ← x0
// and the all-gather copies every owner's x_{t+1,0} to every rank. Bytes: those of one AllReduce,
// 2(n−1)/n·4d per outer step, nothing extra. State: x0 and u (fp32, even for narrower parameters)
// for the owned ranges only: 2·Σ_b |OwnedRange(p, n, count_b)| ≤ 2·Σ_b ⌈count_b/n⌉ floats.
// Pitfalls handled here:
// - One γ per outer step, used for the divide and the multiply (captured once by the call).
// - Fixed shard ownership: (x0, u) persist across rounds, so the owned range must not move.
//   OwnedRange is a pure function of (ring position, size, count) and every algorithm with owned
//   shards (ring, direct, shm) leaves the same range at the same owner, so selection may differ
//   between buckets and rounds. Chain has no owned shards: Create refuses it (and an AllReduce knob
//   naming chain falls back to ring inside AllReduceOwned). A different communicator or world size
//   needs a new SlowMo (rebuilt from a full copy of x).
// - Identical x_{0,0}: Create broadcasts x from rank 0.
// - α=1, β=0 is periodic averaging but not bit-exact in fp32 (x0 − γ·((x0 − x̄)/γ) is within a few
//   ulps of max(|x0|, |x̄|) of x̄); LocalSgd (local_sgd.h) is the exact form.
// Every rank ends each outer step with bit-identical x: the all-gather copies the owner's bytes.
//
// Thread safety: one thread at a time calls a SlowMo (the thread that issues on `comm`). The owner
// callbacks of asynchronous outer steps run on whichever thread drives the engine (the progress
// thread, or a waiting caller); they touch only this rank's owned range of x and the slow state,
// which no method reads while a round is in flight.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "tidal/coll/collectives.h"
#include "tidal/comm/communicator.h"
#include "tidal/comm/work.h"
#include "tidal/core/status.h"
#include "tidal/optim/buckets.h"
#include "tidal/optim/outer_common.h"

namespace tidal::optim {

struct SlowMoOptions {
  float alpha = 1.0f;  // slow learning rate
  float beta = 0.5f;   // slow momentum (0: periodic averaging; Local SGD base + beta>0 = BMUF)
  int tau = 12;        // inner steps per outer step (AfterInnerStep)
  std::vector<Bucket> buckets;  // empty: one bucket over the whole vector
  coll::CollOptions coll;       // algorithm / delay passed to every collective
};

class SlowMo {
 public:
  // Collective over `comm`. Broadcasts x from rank 0 (identical x_{0,0}) and keeps x0 and u (fp32)
  // for this rank's owned range of each bucket only. Blocks until the broadcast finished
  // (options.coll.deadline, else comm's timeout).
  // REQUIRES: comm and x (count floats) outlive the SlowMo; every rank passes the same count,
  // buckets and options.
  // Errors: kInvalidArgument naming the rank and the argument (x null with count > 0, tau < 1,
  // alpha or beta not finite, buckets that do not tile [0, count), coll.algorithm chain); the
  // broadcast's errors (communicator.h).
  static Result<std::unique_ptr<SlowMo>> Create(Communicator& comm, float* x, size_t count,
                                                SlowMoOptions options);

  // After each base-optimizer step, with that step's learning rate gamma; every tau-th call runs
  // OuterStep(gamma) (blocking) and returns true, the others return false.
  // Errors: kInvalidArgument when gamma is not > 0 and finite (checked on every call); OuterStep's.
  Result<bool> AfterInnerStep(float gamma);

  // The fused outer step: per bucket one AllReduceOwnedAsync(avg) whose owner callback applies
  // SlowMoShardUpdate(alpha, beta, gamma) to the owned range; the all-gather distributes
  // x_{t+1,0}. Returns one Work per bucket, in bucket order (bucket k finishes before k + 1).
  // x belongs to tidal until each Work finished; so does the SlowMo itself (it must outlive them).
  // Does not block.
  // Errors: kInvalidArgument for a bad gamma, or while a Work of the previous outer step has not
  // finished; the collective's errors (then the Works of earlier buckets are still running).
  Result<std::vector<Work>> OuterStepAsync(float gamma);
  // OuterStepAsync, then waits for every Work (options.coll.deadline, else comm's timeout);
  // returns the first error, naming the rank and the bucket.
  Status OuterStep(float gamma);

  // Floats of slow state this rank keeps: 2 * sum over buckets of its owned-range size.
  size_t slow_state_floats() const { return x0_.size() + u_.size(); }
  // Inner steps counted by AfterInnerStep, and outer steps issued.
  int64_t inner_steps() const { return inner_steps_; }
  int64_t outer_steps() const { return outer_steps_; }
  const SlowMoOptions& options() const { return options_; }
  size_t count() const { return count_; }

 private:
  struct Shard {
    Bucket bucket;             // the bucket in x
    coll::ElementRange owned;  // this rank's range within the bucket
    size_t state_offset = 0;   // where its x0 and u start in x0_ and u_
  };

  SlowMo(Communicator& comm, float* x, size_t count, SlowMoOptions options);
  // Called by the owner stage of bucket k's AllReduce with this round's gamma.
  Status UpdateShard(size_t k, float gamma, coll::ElementRange range, float* shard);

  Communicator& comm_;
  float* x_;
  size_t count_;
  SlowMoOptions options_;
  std::vector<Shard> shards_;
  std::vector<float> x0_;  // x_{t,0} on the owned ranges, shard after shard
  std::vector<float> u_;   // slow momentum, same layout
  int64_t inner_steps_ = 0;
  int64_t outer_steps_ = 0;
  internal::RoundTracker round_;
};

namespace internal {

// SlowMo::Create's argument checks, shared with DeviceSlowMo: kInvalidArgument naming the rank
// and `op` (see Create); on success `options.buckets` tiles [0, count).
Status CheckSlowMoOptions(const Communicator& comm, std::string_view op, const float* x,
                          size_t count, SlowMoOptions& options);
// kInternal naming the rank and bucket k when the owner stage delivered another range than the
// one the slow state holds (shard ownership moved).
Status CheckOwnedRange(const Communicator& comm, std::string_view op, size_t k,
                       coll::ElementRange delivered, coll::ElementRange held);

}  // namespace internal
}  // namespace tidal::optim

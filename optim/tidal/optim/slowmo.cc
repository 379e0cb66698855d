// SlowMo's fused outer step (slowmo.h has the design note).
#include "tidal/optim/slowmo.h"

#include <algorithm>
#include <utility>

#include "tidal/coll/schedule/schedule.h"
#include "tidal/optim/kernels.h"

namespace tidal::optim {

SlowMo::SlowMo(Communicator& comm, float* x, size_t count, SlowMoOptions options)
    : comm_(comm), x_(x), count_(count), options_(std::move(options)) {}

Result<std::unique_ptr<SlowMo>> SlowMo::Create(Communicator& comm, float* x, size_t count,
                                               SlowMoOptions options) {
  constexpr std::string_view kOp = "SlowMo::Create";
  TIDAL_RETURN_IF_ERROR(internal::CheckSlowMoOptions(comm, kOp, x, count, options));
  TIDAL_RETURN_IF_ERROR(internal::BroadcastStart(comm, kOp, x, count, options.coll));

  std::unique_ptr<SlowMo> slowmo(new SlowMo(comm, x, count, std::move(options)));
  size_t state = 0;
  for (const Bucket& bucket : slowmo->options_.buckets) {
    Shard shard;
    shard.bucket = bucket;
    shard.owned = coll::OwnedRange(comm.ring_position(), comm.size(), bucket.count);
    shard.state_offset = state;
    state += shard.owned.count;
    slowmo->shards_.push_back(shard);
  }
  // x0 = x_{0,0} on the owned ranges; u = 0.
  slowmo->x0_.resize(state);
  slowmo->u_.assign(state, 0.0f);
  for (const Shard& shard : slowmo->shards_) {
    const float* owned = x + shard.bucket.begin + shard.owned.begin;
    std::copy(owned, owned + shard.owned.count, slowmo->x0_.begin() + shard.state_offset);
  }
  return slowmo;
}

Result<bool> SlowMo::AfterInnerStep(float gamma) {
  TIDAL_RETURN_IF_ERROR(internal::CheckGamma(comm_, "SlowMo::AfterInnerStep", gamma));
  ++inner_steps_;
  if (inner_steps_ % options_.tau != 0) return false;
  TIDAL_RETURN_IF_ERROR(OuterStep(gamma));
  return true;
}

Result<std::vector<Work>> SlowMo::OuterStepAsync(float gamma) {
  constexpr std::string_view kOp = "SlowMo::OuterStepAsync";
  TIDAL_RETURN_IF_ERROR(internal::CheckGamma(comm_, kOp, gamma));
  TIDAL_RETURN_IF_ERROR(round_.CheckIdle(comm_, kOp));
  std::vector<Work> works;
  works.reserve(shards_.size());
  for (size_t k = 0; k < shards_.size(); ++k) {
    float* slice = internal::Slice(x_, shards_[k].bucket);
    // One gamma for the divide and the multiply: captured here, once per outer step.
    coll::ShardFn on_shard = [this, k, gamma](coll::ElementRange range, void* shard) {
      return UpdateShard(k, gamma, range, static_cast<float*>(shard));
    };
    Result<Work> work = coll::AllReduceOwnedAsync(comm_, slice, slice, shards_[k].bucket.count,
                                                  coll::DataType::kFloat32, coll::ReduceOp::kAvg,
                                                  std::move(on_shard), options_.coll);
    if (!work.ok()) {
      round_.Track(works);
      return work.status().WithContext(
          StrCat("rank ", comm_.rank(), ": ", kOp, ": bucket ", k, " of ", shards_.size()));
    }
    works.push_back(std::move(work).value());
  }
  round_.Track(works);
  ++outer_steps_;
  return works;
}

Status SlowMo::OuterStep(float gamma) {
  const Deadline deadline = internal::BlockingDeadline(comm_, options_.coll);
  TIDAL_ASSIGN_OR_RETURN(std::vector<Work> works, OuterStepAsync(gamma));
  return internal::WaitAll(comm_, "SlowMo::OuterStep", works, deadline);
}

Status SlowMo::UpdateShard(size_t k, float gamma, coll::ElementRange range, float* shard) {
  const Shard& s = shards_[k];
  TIDAL_RETURN_IF_ERROR(internal::CheckOwnedRange(comm_, "SlowMo outer step", k, range, s.owned));
  if (range.count == 0) return Status::Ok();
  SlowMoShardUpdate(options_.alpha, options_.beta, gamma, shard, x0_.data() + s.state_offset,
                    u_.data() + s.state_offset, range.count);
  return Status::Ok();
}

namespace internal {

Status CheckSlowMoOptions(const Communicator& comm, std::string_view op, const float* x,
                          size_t count, SlowMoOptions& options) {
  TIDAL_RETURN_IF_ERROR(CheckVector(comm, op, x, count));
  TIDAL_RETURN_IF_ERROR(CheckTau(comm, op, options.tau));
  TIDAL_RETURN_IF_ERROR(CheckFinite(comm, op, "alpha", options.alpha));
  TIDAL_RETURN_IF_ERROR(CheckFinite(comm, op, "beta", options.beta));
  if (options.coll.algorithm == coll::Algorithm::kChain) {
    return InvalidArgumentError("rank ", comm.rank(), ": ", op,
                                ": coll.algorithm chain keeps no owned shards, and SlowMo's slow "
                                "state lives on them (use auto, ring, direct or shm)");
  }
  TIDAL_ASSIGN_OR_RETURN(options.buckets,
                         ResolveBuckets(comm, op, std::move(options.buckets), count));
  return Status::Ok();
}

Status CheckOwnedRange(const Communicator& comm, std::string_view op, size_t k,
                       coll::ElementRange delivered, coll::ElementRange held) {
  if (delivered == held) return Status::Ok();
  return InternalError("rank ", comm.rank(), ": ", op, ": bucket ", k, " delivered owned range [",
                       delivered.begin, ", ", delivered.end(), ") but the slow state holds [",
                       held.begin, ", ", held.end(), ") (shard ownership moved)");
}

}  // namespace internal
}  // namespace tidal::optim

#include "tidal/optim/outer_common.h"

#include <cmath>
#include <utility>

namespace tidal::optim::internal {

Status CheckGamma(const Communicator& comm, std::string_view op, float gamma) {
  if (std::isfinite(gamma) && gamma > 0.0f) return Status::Ok();
  return InvalidArgumentError("rank ", comm.rank(), ": ", op,
                              ": gamma (the base learning rate) must be > 0 and finite, got ",
                              gamma);
}

Status CheckTau(const Communicator& comm, std::string_view op, int tau) {
  if (tau >= 1) return Status::Ok();
  return InvalidArgumentError("rank ", comm.rank(), ": ", op, ": tau must be >= 1, got ", tau);
}

Status CheckFinite(const Communicator& comm, std::string_view op, std::string_view name,
                   float value) {
  if (std::isfinite(value)) return Status::Ok();
  return InvalidArgumentError("rank ", comm.rank(), ": ", op, ": ", name, " must be finite, got ",
                              value);
}

Status CheckVector(const Communicator& comm, std::string_view op, const float* x, size_t count) {
  if (x != nullptr || count == 0) return Status::Ok();
  return InvalidArgumentError("rank ", comm.rank(), ": ", op, ": x is null with count ", count);
}

Result<std::vector<Bucket>> ResolveBuckets(const Communicator& comm, std::string_view op,
                                           std::vector<Bucket> buckets, size_t count) {
  if (buckets.empty()) return SingleBucket(count);
  Status st = CheckBuckets(buckets, count);
  if (!st.ok()) {
    return InvalidArgumentError("rank ", comm.rank(), ": ", op, ": buckets: ", st.message());
  }
  return buckets;
}

Status BroadcastStart(Communicator& comm, std::string_view op, float* x, size_t count,
                      const coll::CollOptions& options) {
  coll::CollOptions bcast = options;
  bcast.algorithm = coll::Algorithm::kAuto;
  return coll::Broadcast(comm, x, x, count, coll::DataType::kFloat32, 0, bcast)
      .WithContext(StrCat("rank ", comm.rank(), ": ", op, ": broadcast of x_{0,0} from rank 0"));
}

Deadline BlockingDeadline(const Communicator& comm, const coll::CollOptions& options) {
  return options.deadline ? *options.deadline : comm.NextDeadline();
}

Status WaitAll(const Communicator& comm, std::string_view op, std::span<Work> works,
               Deadline deadline) {
  Status first;
  for (size_t k = 0; k < works.size(); ++k) {
    Status st = works[k].Wait(deadline);
    if (!st.ok() && first.ok()) {
      first = st.WithContext(StrCat("rank ", comm.rank(), ": ", op, ": bucket ", k));
    }
  }
  return first;
}

Status RoundTracker::CheckIdle(const Communicator& comm, std::string_view op) const {
  for (size_t k = 0; k < works_.size(); ++k) {
    const Task& task = *works_[k].task();
    if (task.finished() || task.failed()) continue;
    return InvalidArgumentError("rank ", comm.rank(), ": ", op, ": bucket ", k,
                                " of the previous round is still in flight (wait for every Work "
                                "of a round before starting the next)");
  }
  return Status::Ok();
}

void RoundTracker::Track(std::span<const Work> works) {
  works_.clear();
  for (const Work& work : works) {
    if (work.valid()) works_.push_back(work);
  }
}

void RoundTracker::WaitAll() {
  for (Work& work : works_) {
    Status st = work.Wait();
    (void)st;  // reported through the caller's Work
  }
}

}  // namespace tidal::optim::internal

// Local SGD's periodic exact averaging (local_sgd.h has the design note).
#include "tidal/optim/local_sgd.h"

#include <utility>

namespace tidal::optim {

LocalSgd::LocalSgd(Communicator& comm, float* x, size_t count, LocalSgdOptions options)
    : comm_(comm), x_(x), count_(count), options_(std::move(options)) {}

Result<std::unique_ptr<LocalSgd>> LocalSgd::Create(Communicator& comm, float* x, size_t count,
                                                   LocalSgdOptions options) {
  constexpr std::string_view kOp = "LocalSgd::Create";
  TIDAL_RETURN_IF_ERROR(internal::CheckVector(comm, kOp, x, count));
  TIDAL_RETURN_IF_ERROR(internal::CheckTau(comm, kOp, options.tau));
  TIDAL_ASSIGN_OR_RETURN(options.buckets,
                         internal::ResolveBuckets(comm, kOp, std::move(options.buckets), count));
  TIDAL_RETURN_IF_ERROR(internal::BroadcastStart(comm, kOp, x, count, options.coll));
  return std::unique_ptr<LocalSgd>(new LocalSgd(comm, x, count, std::move(options)));
}

Result<bool> LocalSgd::AfterInnerStep() {
  ++inner_steps_;
  if (inner_steps_ % options_.tau != 0) return false;
  TIDAL_RETURN_IF_ERROR(Average());
  return true;
}

Result<std::vector<Work>> LocalSgd::AverageAsync() {
  constexpr std::string_view kOp = "LocalSgd::AverageAsync";
  TIDAL_RETURN_IF_ERROR(round_.CheckIdle(comm_, kOp));
  std::vector<Work> works;
  works.reserve(options_.buckets.size());
  for (size_t k = 0; k < options_.buckets.size(); ++k) {
    const Bucket& bucket = options_.buckets[k];
    float* slice = internal::Slice(x_, bucket);
    Result<Work> work =
        coll::AllReduceAsync(comm_, slice, slice, bucket.count, coll::DataType::kFloat32,
                             coll::ReduceOp::kAvg, options_.coll);
    if (!work.ok()) {
      round_.Track(works);
      return work.status().WithContext(StrCat("rank ", comm_.rank(), ": ", kOp, ": bucket ", k,
                                              " of ", options_.buckets.size()));
    }
    works.push_back(std::move(work).value());
  }
  round_.Track(works);
  return works;
}

Status LocalSgd::Average() {
  const Deadline deadline = internal::BlockingDeadline(comm_, options_.coll);
  TIDAL_ASSIGN_OR_RETURN(std::vector<Work> works, AverageAsync());
  return internal::WaitAll(comm_, "LocalSgd::Average", works, deadline);
}

}  // namespace tidal::optim

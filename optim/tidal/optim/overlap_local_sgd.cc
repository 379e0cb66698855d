// Overlap Local-SGD (overlap_local_sgd.h has the design note).
#include "tidal/optim/overlap_local_sgd.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <utility>

#include "tidal/core/knobs.h"
#include "tidal/optim/kernels.h"
#include "tidal/optim/outer_common.h"
#include "tidal/progress/task.h"

namespace tidal::optim {

namespace {

// options.cpu_yield resolved: kAuto reads TIDAL_OVERLAP_YIELD, whose auto compares the host's
// ranks with its online CPUs.
Result<bool> ResolveCpuYield(const Communicator& comm, std::string_view op,
                             OverlapLocalSgdOptions::CpuYield policy) {
  using CpuYield = OverlapLocalSgdOptions::CpuYield;
  if (policy != CpuYield::kAuto) return policy == CpuYield::kOn;
  const std::string knob = KnobString(Knob::kOverlapYield);
  if (knob == "on" || knob == "off") return knob == "on";
  if (knob.empty() || knob == "auto") {
    return static_cast<long>(comm.local_size()) > std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN));
  }
  return InvalidArgumentError("rank ", comm.rank(), ": ", op, ": TIDAL_OVERLAP_YIELD=", knob,
                              ": expected auto, on or off");
}

}  // namespace

OverlapLocalSgd::OverlapLocalSgd(Communicator& comm, float* x, size_t count,
                                 OverlapLocalSgdOptions options)
    : comm_(comm), x_(x), count_(count), options_(std::move(options)) {}

Result<std::unique_ptr<OverlapLocalSgd>> OverlapLocalSgd::Create(Communicator& comm, float* x,
                                                                 size_t count,
                                                                 OverlapLocalSgdOptions options) {
  constexpr std::string_view kOp = "OverlapLocalSgd::Create";
  TIDAL_RETURN_IF_ERROR(internal::CheckVector(comm, kOp, x, count));
  TIDAL_RETURN_IF_ERROR(internal::CheckTau(comm, kOp, options.tau));
  TIDAL_RETURN_IF_ERROR(internal::CheckFinite(comm, kOp, "alpha", options.alpha));
  TIDAL_RETURN_IF_ERROR(internal::CheckFinite(comm, kOp, "gmf", options.gmf));
  if (options.gmf < 0.0f) {
    return InvalidArgumentError("rank ", comm.rank(), ": ", kOp, ": gmf must be >= 0, got ",
                                options.gmf);
  }
  if (options.wait_timeout.count() < 0) {
    return InvalidArgumentError("rank ", comm.rank(), ": ", kOp,
                                ": wait_timeout must be >= 0 ms, got ",
                                options.wait_timeout.count());
  }
  TIDAL_ASSIGN_OR_RETURN(const bool yield, ResolveCpuYield(comm, kOp, options.cpu_yield));
  TIDAL_RETURN_IF_ERROR(internal::BroadcastStart(comm, kOp, x, count, options.coll));
  std::unique_ptr<OverlapLocalSgd> o(new OverlapLocalSgd(comm, x, count, std::move(options)));
  o->yield_ = yield;
  o->z_.assign(x, x + count);  // z ← x_0
  if (o->options_.gmf > 0.0f) o->b_.assign(count, 0.0f);
  return o;
}

OverlapLocalSgd::~OverlapLocalSgd() {
  // z is the AllReduce's buffer: it must not be freed under it.
  if (in_flight()) Drain("OverlapLocalSgd::~OverlapLocalSgd").IgnoreError();
}

Status OverlapLocalSgd::AfterLocalStep(float gamma) {
  TIDAL_RETURN_IF_ERROR(internal::CheckGamma(comm_, "OverlapLocalSgd::AfterLocalStep", gamma));
  const bool sync = itr_ != 0 && itr_ % options_.tau == 0;
  ++itr_;
  if (sync) return Sync(gamma);
  if (in_flight()) YieldCpu();  // a turn for the progress threads once per step
  return Status::Ok();
}

void OverlapLocalSgd::YieldCpu() {
  if (!yield_) return;
  ::sched_yield();
  ++yields_;
}

Status OverlapLocalSgd::Sync(float gamma) {
  // z = Σ_i z_i of the previous round (or x_0 at the first sync).
  TIDAL_RETURN_IF_ERROR(Drain("OverlapLocalSgd::AfterLocalStep"));
  const size_t d = count_;
  if (d > 0) {
    const float inv_n = 1.0f / static_cast<float>(comm_.size());
    PullBack(options_.alpha, x_, z_.data(), d);
    if (options_.gmf == 0.0f) {
      AnchorReset(inv_n, x_, z_.data(), d);
    } else {
      AnchorMomentum(options_.gmf, gamma, inv_n, x_, z_.data(), b_.data(), d);
    }
  }
  Result<Work> h = coll::AllReduceAsync(comm_, z_.data(), z_.data(), d, coll::DataType::kFloat32,
                                        coll::ReduceOp::kSum, options_.coll);
  if (!h.ok()) {
    return h.status().WithContext(StrCat("rank ", comm_.rank(),
                                         ": OverlapLocalSgd::AfterLocalStep: anchor AllReduce of "
                                         "round ",
                                         round_));
  }
  h_ = std::move(h).value();
  ++round_;
  YieldCpu();  // our progress thread posts the round's first sends now, not a slice later
  return Status::Ok();
}

Status OverlapLocalSgd::Drain(std::string_view op) {
  if (!h_.valid()) return Status::Ok();
  const auto timeout = options_.wait_timeout.count() > 0 ? options_.wait_timeout : comm_.timeout();
  Status st = h_.Wait(Deadline::After(timeout));
  if (!st.ok()) {
    return st.WithContext(StrCat("rank ", comm_.rank(), ": ", op,
                                 ": waiting for the anchor "
                                 "AllReduce of round ",
                                 round_ - 1));
  }
  h_ = Work();
  return Status::Ok();
}

Status OverlapLocalSgd::Finish() {
  TIDAL_RETURN_IF_ERROR(Drain("OverlapLocalSgd::Finish"));
  coll::CollOptions avg = options_.coll;
  avg.deadline = internal::BlockingDeadline(comm_, options_.coll);
  return coll::AllReduce(comm_, x_, x_, count_, coll::DataType::kFloat32, coll::ReduceOp::kAvg, avg)
      .WithContext(StrCat("rank ", comm_.rank(), ": OverlapLocalSgd::Finish: average of x"));
}

bool OverlapLocalSgd::in_flight() const { return h_.valid() && !h_.task()->finished(); }

Result<std::span<const float>> OverlapLocalSgd::anchor() const {
  if (h_.valid()) {
    const Task& task = *h_.task();
    if (task.failed() || (task.finished() && !task.status().ok())) {
      return task.status().WithContext(StrCat("rank ", comm_.rank(),
                                              ": OverlapLocalSgd::anchor: the anchor AllReduce of "
                                              "round ",
                                              round_ - 1, " failed"));
    }
    if (!task.finished()) {
      return InvalidArgumentError("rank ", comm_.rank(),
                                  ": OverlapLocalSgd::anchor: the anchor AllReduce of round ",
                                  round_ - 1,
                                  " is in flight (z belongs to tidal until the next "
                                  "sync or Finish waits for it)");
    }
  }
  return std::span<const float>(z_.data(), z_.size());
}

}  // namespace tidal::optim

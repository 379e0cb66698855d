// SlowMo for parameters in GPU memory (slowmo_device.h has the design note).
#include "tidal/optim/slowmo_device.h"

#include <algorithm>
#include <utility>

#include "tidal/coll/schedule/schedule.h"

namespace tidal::optim {

DeviceSlowMo::DeviceSlowMo(Communicator& comm, Device& device, float* x, size_t count,
                           SlowMoOptions options)
    : comm_(comm), device_(device), x_(x), count_(count), options_(std::move(options)) {}

Result<std::unique_ptr<DeviceSlowMo>> DeviceSlowMo::Create(Communicator& comm, Device& device,
                                                           float* x, size_t count,
                                                           SlowMoOptions options) {
  constexpr std::string_view kOp = "DeviceSlowMo::Create";
  TIDAL_RETURN_IF_ERROR(internal::CheckSlowMoOptions(comm, kOp, x, count, options));
  std::unique_ptr<DeviceSlowMo> slowmo(
      new DeviceSlowMo(comm, device, x, count, std::move(options)));
  Status st = slowmo->Init();
  if (!st.ok()) {
    return slowmo->Fail(kOp, st);
  }
  return slowmo;
}

Status DeviceSlowMo::Init() {
  TIDAL_ASSIGN_OR_RETURN(ordinal_, device_.CurrentOrdinal());
  for (const Bucket& bucket : options_.buckets) {
    Shard shard;
    shard.bucket = bucket;
    shard.owned = coll::OwnedRange(comm_.ring_position(), comm_.size(), bucket.count);
    shard.state_offset = state_floats_;
    state_floats_ += shard.owned.count;
    max_owned_ = std::max(max_owned_, shard.owned.count);
    shards_.push_back(shard);
  }
  TIDAL_ASSIGN_OR_RETURN(in_, device_.CreateStream());
  TIDAL_ASSIGN_OR_RETURN(update_, device_.CreateStream());
  TIDAL_ASSIGN_OR_RETURN(out_, device_.CreateStream());
  TIDAL_ASSIGN_OR_RETURN(start_, device_.CreateEvent());
  TIDAL_ASSIGN_OR_RETURN(updated_, device_.CreateEvent());
  for (Shard& shard : shards_) {
    TIDAL_ASSIGN_OR_RETURN(shard.copied, device_.CreateEvent());
    TIDAL_ASSIGN_OR_RETURN(shard.done, device_.CreateEvent());
  }
  TIDAL_ASSIGN_OR_RETURN(void* staging, device_.AllocateHost(count_ * sizeof(float)));
  staging_ = static_cast<float*>(staging);
  TIDAL_ASSIGN_OR_RETURN(void* x0, device_.Allocate(state_floats_ * sizeof(float)));
  x0_ = static_cast<float*>(x0);
  TIDAL_ASSIGN_OR_RETURN(void* u, device_.Allocate(state_floats_ * sizeof(float)));
  u_ = static_cast<float*>(u);
  TIDAL_ASSIGN_OR_RETURN(void* scratch, device_.Allocate(max_owned_ * sizeof(float)));
  scratch_ = static_cast<float*>(scratch);

  // Identical x_{0,0}: broadcast rank 0's x through staging.
  const size_t bytes = count_ * sizeof(float);
  TIDAL_RETURN_IF_ERROR(device_.CopyAsync(staging_, x_, bytes, in_));
  TIDAL_RETURN_IF_ERROR(device_.SynchronizeStream(in_));
  TIDAL_RETURN_IF_ERROR(
      internal::BroadcastStart(comm_, "DeviceSlowMo::Create", staging_, count_, options_.coll));
  TIDAL_RETURN_IF_ERROR(device_.CopyAsync(x_, staging_, bytes, in_));
  // x0 = x_{0,0} on the owned ranges; u = 0.
  for (const Shard& s : shards_) {
    TIDAL_RETURN_IF_ERROR(device_.CopyAsync(x0_ + s.state_offset,
                                            x_ + s.bucket.begin + s.owned.begin,
                                            s.owned.count * sizeof(float), in_));
  }
  TIDAL_RETURN_IF_ERROR(device_.ZeroAsync(u_, state_floats_ * sizeof(float), in_));
  return device_.SynchronizeStream(in_);
}

DeviceSlowMo::~DeviceSlowMo() {
  // The hooks and owner callbacks of a round point into this object: let them finish first.
  round_.WaitAll();
  Status current = device_.UseOrdinal(ordinal_);
  (void)current;  // the calls below fail and log on their own if the GPU is gone
  for (DeviceStream s : {in_, update_, out_}) {
    if (s == nullptr) continue;
    Status st = device_.SynchronizeStream(s);
    (void)st;  // the device logs nothing here; freeing below proceeds either way
  }
  for (Shard& shard : shards_) {
    device_.DestroyEvent(shard.copied);
    device_.DestroyEvent(shard.done);
  }
  device_.DestroyEvent(start_);
  device_.DestroyEvent(updated_);
  device_.DestroyStream(in_);
  device_.DestroyStream(update_);
  device_.DestroyStream(out_);
  device_.Free(scratch_);
  device_.Free(u_);
  device_.Free(x0_);
  device_.FreeHost(staging_);
}

Status DeviceSlowMo::Fail(std::string_view op, const Status& st) const {
  return st.WithContext(StrCat("rank ", comm_.rank(), ": ", op, " on device ", device_.name()));
}

Status DeviceSlowMo::Fail(std::string_view op, size_t k, const Status& st) const {
  return Fail(StrCat(op, ": bucket ", k, " of ", shards_.size()), st);
}

Result<bool> DeviceSlowMo::AfterInnerStep(float gamma, DeviceStream compute) {
  TIDAL_RETURN_IF_ERROR(internal::CheckGamma(comm_, "DeviceSlowMo::AfterInnerStep", gamma));
  ++inner_steps_;
  if (inner_steps_ % options_.tau != 0) return false;
  TIDAL_RETURN_IF_ERROR(OuterStep(gamma, compute));
  return true;
}

Status DeviceSlowMo::EnqueueCopyIn(size_t k) {
  const Shard& s = shards_[k];
  // Staging_k is free once the previous round's copy out of it finished.
  TIDAL_RETURN_IF_ERROR(device_.StreamWait(in_, s.done));
  TIDAL_RETURN_IF_ERROR(device_.CopyAsync(staging_ + s.bucket.begin, x_ + s.bucket.begin,
                                          s.bucket.count * sizeof(float), in_));
  return device_.Record(s.copied, in_);
}

void DeviceSlowMo::CopyBack(size_t k, const Status& finished) {
  Shard& s = shards_[k];
  if (!finished.ok()) return;  // x_k keeps its values; WaitBucket returns the Work's error
  // The engine's thread (this one) may have another GPU current.
  Status st = device_.UseOrdinal(ordinal_);
  if (st.ok()) {
    st = device_.CopyAsync(x_ + s.bucket.begin, staging_ + s.bucket.begin,
                           s.bucket.count * sizeof(float), out_);
  }
  if (st.ok()) st = device_.Record(s.done, out_);
  s.copy_back = st;  // read by WaitBucket after the Work reported finished (it publishes this)
}

Result<std::vector<Work>> DeviceSlowMo::OuterStepAsync(float gamma, DeviceStream compute) {
  constexpr std::string_view kOp = "DeviceSlowMo::OuterStepAsync";
  TIDAL_RETURN_IF_ERROR(internal::CheckGamma(comm_, kOp, gamma));
  TIDAL_RETURN_IF_ERROR(round_.CheckIdle(comm_, kOp));
  Status st = device_.Record(start_, compute);
  if (st.ok()) st = device_.StreamWait(in_, start_);
  if (!st.ok()) return Fail(kOp, st);
  for (Shard& s : shards_) {
    s.work = Work();
    s.copy_back = Status::Ok();
  }
  std::vector<Work> works;
  works.reserve(shards_.size());
  for (size_t k = 0; k < shards_.size(); ++k) {
    st = EnqueueCopyIn(k);
    if (st.ok()) {
      coll::CollOptions options = options_.coll;
      options.ready = [this, k]() { return Copied(k); };
      options.on_finish = [this, k](const Status& finished) { CopyBack(k, finished); };
      coll::ShardFn on_shard = [this, k, gamma](coll::ElementRange range, void* shard) {
        return UpdateShard(k, gamma, range, static_cast<float*>(shard));
      };
      float* staged = internal::Slice(staging_, shards_[k].bucket);
      Result<Work> work = coll::AllReduceOwnedAsync(comm_, staged, staged, shards_[k].bucket.count,
                                                    coll::DataType::kFloat32, coll::ReduceOp::kAvg,
                                                    std::move(on_shard), std::move(options));
      if (work.ok()) {
        shards_[k].work = *work;
        works.push_back(std::move(work).value());
        continue;
      }
      st = work.status();
    }
    // Bucket k and the later ones are not in flight: their x keeps its values and their done_k
    // its last record, so WaitBucket on them does not wait.
    round_.Track(works);
    ++outer_steps_;
    return Fail(kOp, k, st);
  }
  round_.Track(works);
  ++outer_steps_;
  return works;
}

Status DeviceSlowMo::OuterStep(float gamma, DeviceStream compute) {
  constexpr std::string_view kOp = "DeviceSlowMo::OuterStep";
  const Deadline deadline = internal::BlockingDeadline(comm_, options_.coll);
  TIDAL_ASSIGN_OR_RETURN(std::vector<Work> works, OuterStepAsync(gamma, compute));
  TIDAL_RETURN_IF_ERROR(internal::WaitAll(comm_, kOp, works, deadline));
  Status st = WaitAllBuckets(compute);
  return st.ok() ? st : Fail(kOp, st);
}

Status DeviceSlowMo::WaitBucket(size_t k, DeviceStream stream) {
  constexpr std::string_view kOp = "DeviceSlowMo::WaitBucket";
  if (k >= shards_.size()) {
    return InvalidArgumentError("rank ", comm_.rank(), ": ", kOp, ": bucket ", k, " of ",
                                shards_.size());
  }
  Shard& s = shards_[k];
  // A default-constructed Work (no round yet, or not issued) reports success at once.
  Status st = s.work.Wait(internal::BlockingDeadline(comm_, options_.coll));
  if (st.ok()) st = s.copy_back;
  if (st.ok()) st = device_.StreamWait(stream, s.done);
  return st.ok() ? st : Fail(kOp, k, st);
}

Status DeviceSlowMo::WaitAllBuckets(DeviceStream stream) {
  for (size_t k = 0; k < shards_.size(); ++k) TIDAL_RETURN_IF_ERROR(WaitBucket(k, stream));
  return Status::Ok();
}

Result<bool> DeviceSlowMo::BucketDone(size_t k) {
  if (k >= shards_.size()) {
    return InvalidArgumentError("rank ", comm_.rank(), ": DeviceSlowMo::BucketDone: bucket ", k,
                                " of ", shards_.size());
  }
  // Until the Work finished, done_k's last record is the previous round's.
  Shard& s = shards_[k];
  if (!s.work.Test()) return false;
  Status st = s.work.valid() ? s.work.status() : Status::Ok();
  if (st.ok()) st = s.copy_back;
  if (!st.ok()) return Fail("DeviceSlowMo::BucketDone", k, st);
  return device_.Query(s.done);
}

Result<bool> DeviceSlowMo::Copied(size_t k) {
  TIDAL_RETURN_IF_ERROR(device_.UseOrdinal(ordinal_));
  return device_.Query(shards_[k].copied);
}

Status DeviceSlowMo::UpdateShard(size_t k, float gamma, coll::ElementRange range, float* shard) {
  const Shard& s = shards_[k];
  TIDAL_RETURN_IF_ERROR(
      internal::CheckOwnedRange(comm_, "DeviceSlowMo outer step", k, range, s.owned));
  if (range.count == 0) return Status::Ok();
  const size_t bytes = range.count * sizeof(float);
  // The engine's thread (this one) may have another GPU current.
  Status st = device_.UseOrdinal(ordinal_);
  if (st.ok()) st = device_.CopyAsync(scratch_, shard, bytes, update_);
  if (st.ok()) {
    st = device_.SlowMoShardUpdate(options_.alpha, options_.beta, gamma, scratch_,
                                   x0_ + s.state_offset, u_ + s.state_offset, range.count, update_);
  }
  if (st.ok()) st = device_.CopyAsync(shard, scratch_, bytes, update_);
  if (st.ok()) st = device_.Record(updated_, update_);
  if (st.ok()) st = device_.Synchronize(updated_);
  return st.ok() ? st : Fail("DeviceSlowMo owner update", k, st);
}

}  // namespace tidal::optim

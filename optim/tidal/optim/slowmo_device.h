// DeviceSlowMo: SlowMo (slowmo.h, ALGORITHMS.md §1) for parameters in GPU memory. The outer step
// runs per bucket on the runtime's own streams and is ordered against the trainer's compute
// stream with events, so the trainer never blocks on the host to overlap it: it issues the outer
// step, then before the forward pass of layer k makes its stream wait for bucket k only.
//
// Design note. The AllReduce moves host memory (collectives.h), so each bucket is staged through
// page-locked host memory; the update itself is the CUDA kernel on the device-resident slow state.
// Per outer step r and bucket k, issued at once without blocking:
//   in stream:     wait(compute's event) · wait(done_k of round r−1) · copy x_k → staging_k ·
//                  record copied_k
//   host engine:   AllReduceOwnedAsync(staging_k, avg) that starts once copied_k completed
//                  (CollOptions::ready queries the event); its owner callback runs the update
//                  (below); when it finished, on_finish raises flag_k to r
//   out stream:    WaitFlag(flag_k ≥ r) · copy staging_k → x_k · record done_k
//   compute:       WaitBucket(k, compute) = wait(done_k)
// The owner callback (on the engine's driving thread) copies the averaged owned shard to the
// device, runs SlowMoShardUpdate with the device-resident x0 and u of that shard, copies the new
// shard back into staging and waits for that (an update stream of its own, so it is never queued
// behind a gated copy) — the all-gather then distributes it. Bytes on the wire: one AllReduce per
// outer step, as SlowMo. Device memory: the slow state, 2·Σ_b |OwnedRange| floats, plus one
// scratch shard; host: one page-locked copy of x and a flag per bucket.
// Pitfalls handled here:
// - A failed or abandoned collective still raises its flag (on_finish runs on failure too, and the
//   destructor raises every flag before it waits for the streams), so no stream waits forever;
//   the bucket's x is then unspecified and the Work carries the error.
// - Staging is reused across rounds only after the previous round's copy out of it (done_k).
// - The engine's thread may have another GPU current (one rank per GPU, set by the trainer on its
//   own thread): the start condition and the owner update first make Create's GPU current.
// - Results equal SlowMo's bit for bit: the CUDA kernel matches the CPU one (kernels_cuda.h) and
//   the AllReduce is the same host operation.
//
// Thread safety: as SlowMo: one thread issues (the one that issues on `comm`); the owner callbacks
// and start conditions run on the engine's driving thread and touch only this bucket's staging,
// flag, events and the slow state, which no method touches while a round is in flight.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "tidal/coll/collectives.h"
#include "tidal/comm/communicator.h"
#include "tidal/comm/work.h"
#include "tidal/core/status.h"
#include "tidal/optim/device.h"
#include "tidal/optim/outer_common.h"
#include "tidal/optim/slowmo.h"

namespace tidal::optim {

class DeviceSlowMo {
 public:
  // Collective over `comm`: broadcasts x from rank 0 through staging and sets up streams, events,
  // staging and the device-resident slow state. Blocks until done.
  // REQUIRES: x is `count` floats of `device` memory; comm, device and x outlive the DeviceSlowMo;
  // every rank passes the same count, buckets and options.
  // Errors: as SlowMo::Create, plus the device's (allocation, copies).
  static Result<std::unique_ptr<DeviceSlowMo>> Create(Communicator& comm, Device& device, float* x,
                                                      size_t count, SlowMoOptions options);
  // Waits for the Works of the last outer step that have not finished (a stopped one finishes
  // soon; each within comm's timeout), raises every flag (so no stream stays gated), waits for
  // the runtime's streams and frees.
  ~DeviceSlowMo();
  DeviceSlowMo(const DeviceSlowMo&) = delete;
  DeviceSlowMo& operator=(const DeviceSlowMo&) = delete;

  // After each base-optimizer step queued on `compute`, with its learning rate; every tau-th call
  // runs OuterStep(gamma, compute) and returns true.
  Result<bool> AfterInnerStep(float gamma, DeviceStream compute);

  // Issues the outer step behind the work queued on `compute` so far and returns one Work per
  // bucket (the host side: the AllReduce with the owner update). Does not block. Until bucket k
  // is done on the device (WaitBucket), x_k belongs to tidal: neither read nor write it.
  // Errors: kInvalidArgument for a bad gamma or while a Work of the previous outer step has not
  // finished; the device's or the collective's (then no stream is left gated).
  Result<std::vector<Work>> OuterStepAsync(float gamma, DeviceStream compute);
  // OuterStepAsync, waits for every Work (options.coll.deadline, else comm's timeout), then makes
  // `compute` wait for every bucket. Returns the first error, naming rank and bucket.
  Status OuterStep(float gamma, DeviceStream compute);

  // Work queued on `stream` after this call waits until bucket k of the last outer step holds
  // x_{t+1,0} (on the device; the host does not block). REQUIRES: k < bucket_count().
  Status WaitBucket(size_t k, DeviceStream stream);
  // WaitBucket for every bucket.
  Status WaitAllBuckets(DeviceStream stream);
  // Whether bucket k's new parameters are in x (never blocks).
  Result<bool> BucketDone(size_t k);

  // Floats of slow state this rank keeps in device memory: 2 · Σ_b |owned range of b|.
  size_t slow_state_floats() const { return 2 * state_floats_; }
  size_t bucket_count() const { return shards_.size(); }
  int64_t inner_steps() const { return inner_steps_; }
  int64_t outer_steps() const { return outer_steps_; }
  const SlowMoOptions& options() const { return options_; }

 private:
  struct Shard {
    Bucket bucket;
    coll::ElementRange owned;
    size_t state_offset = 0;
    DeviceEvent copied = nullptr;  // x_k is in staging_k
    DeviceEvent done = nullptr;    // staging_k is back in x_k
  };

  DeviceSlowMo(Communicator& comm, Device& device, float* x, size_t count, SlowMoOptions options);
  Status Init();
  // The stages of one bucket for round `round` on the device (in and out streams).
  Status EnqueueBucket(size_t k, uint64_t round);
  // Called by the owner stage of bucket k's AllReduce.
  Status UpdateShard(size_t k, float gamma, coll::ElementRange range, float* shard);
  uint64_t* flag(size_t k) const { return flags_ + k * kFlagStride; }
  // Raises the flags of buckets >= k to `round` (so their gated copies run).
  void ReleaseFrom(size_t k, uint64_t round);
  // `st` with the rank, `op` (and bucket k of the round) and the device as context.
  Status Fail(std::string_view op, const Status& st) const;
  Status Fail(std::string_view op, size_t k, const Status& st) const;
  // Whether bucket k's copy into staging landed (the AllReduce's start condition; engine thread).
  Result<bool> Copied(size_t k);

  static constexpr size_t kFlagStride = 8;  // one 64-byte line per flag

  Communicator& comm_;
  Device& device_;
  int ordinal_ = 0;  // the GPU current at Create: the engine's thread makes it current
  float* x_;
  size_t count_;
  SlowMoOptions options_;
  std::vector<Shard> shards_;
  size_t state_floats_ = 0;
  size_t max_owned_ = 0;
  DeviceStream in_ = nullptr;      // copies into staging
  DeviceStream update_ = nullptr;  // the owner updates
  DeviceStream out_ = nullptr;     // gated copies back into x
  DeviceEvent start_ = nullptr;    // recorded on the compute stream at each outer step
  DeviceEvent updated_ = nullptr;  // an owner update's copy back finished
  float* staging_ = nullptr;       // page-locked copy of x
  uint64_t* flags_ = nullptr;      // page-locked, one per bucket
  float* x0_ = nullptr;            // device: x_{t,0} on the owned ranges
  float* u_ = nullptr;             // device: slow momentum, same layout
  float* scratch_ = nullptr;       // device: one owned shard
  int64_t inner_steps_ = 0;
  int64_t outer_steps_ = 0;
  internal::RoundTracker round_;  // the last round's Works: the destructor waits for them
};

}  // namespace tidal::optim

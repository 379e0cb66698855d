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
//                  (below); when it finished successfully, on_finish enqueues on the out stream
//                  copy staging_k → x_k · record done_k, before the Work reports finished
//   compute:       WaitBucket(k, compute) = the host waits for bucket k's Work, then
//                  wait(done_k) on the compute stream
// The owner callback (on the engine's driving thread) copies the averaged owned shard to the
// device, runs SlowMoShardUpdate with the device-resident x0 and u of that shard, copies the new
// shard back into staging and waits for that (an update stream of its own) — the all-gather then
// distributes it. Bytes on the wire: one AllReduce per outer step, as SlowMo. Device memory: the
// slow state, 2·Σ_b |OwnedRange| floats, plus one scratch shard; host: one page-locked copy of x.
// Why the host waits in WaitBucket rather than the GPU: a stream gated on a host flag (a kernel
// that spins until the host raises it) deadlocked on an H100. CUDA does not promise that work on
// different streams runs concurrently — streams share a fixed number of hardware queues
// (CUDA_DEVICE_MAX_CONNECTIONS, 8), and with three ranks' streams in one process a peer's owner
// update sat behind the spinning kernel that waited for it. Here every operation queued on the GPU
// finishes on its own, so sharing a queue can only serialize, never deadlock. The trainer still
// overlaps: while its thread waits for bucket k, the GPU runs the layers already queued.
// Pitfalls handled here:
// - A failed collective enqueues no copy back: bucket k's x keeps its values from before the
//   round on this rank, and WaitBucket returns the Work's error.
// - Staging is reused across rounds only after the previous round's copy out of it (done_k).
// - The engine's thread may have another GPU current (one rank per GPU, set by the trainer on its
//   own thread): the start condition, the owner update and the copy back first make Create's GPU
//   current.
// - Results equal SlowMo's bit for bit: the CUDA kernel matches the CPU one (kernels_cuda.h) and
//   the AllReduce is the same host operation.
//
// Thread safety: as SlowMo: one thread issues (the one that issues on `comm`); the owner callbacks,
// start conditions and copies back run on the engine's driving thread and touch only this
// bucket's staging, events, the out stream and the slow state, which no method touches while a
// round is in flight.
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
  // soon; each within comm's timeout), waits for the runtime's streams and frees.
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
  // finished; the device's or the collective's (the buckets issued before it stay in flight).
  Result<std::vector<Work>> OuterStepAsync(float gamma, DeviceStream compute);
  // OuterStepAsync, waits for every Work (options.coll.deadline, else comm's timeout), then makes
  // `compute` wait for every bucket. Returns the first error, naming rank and bucket.
  Status OuterStep(float gamma, DeviceStream compute);

  // Blocks the calling thread until bucket k's AllReduce of the last outer step finished (its
  // Work; options.coll.deadline, else comm's timeout), then makes work queued on `stream` after
  // this call wait until bucket k holds x_{t+1,0} on the device (the copy back may still be in
  // flight: the host does not wait for the GPU). Returns the Work's error, naming rank and bucket,
  // when that bucket's round failed (x_k then kept its values from before the round).
  // REQUIRES: k < bucket_count(); called by the issuing thread.
  Status WaitBucket(size_t k, DeviceStream stream);
  // WaitBucket for every bucket.
  Status WaitAllBuckets(DeviceStream stream);
  // Whether bucket k's new parameters are in x (never blocks; false while its AllReduce runs).
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
    Work work;                     // this bucket's AllReduce of the last outer step
    Status copy_back;              // the device's error from enqueuing the copy back (on_finish)
  };

  DeviceSlowMo(Communicator& comm, Device& device, float* x, size_t count, SlowMoOptions options);
  Status Init();
  // The copy of bucket k into staging on the in stream, after the previous round's copy back.
  Status EnqueueCopyIn(size_t k);
  // on_finish of bucket k's AllReduce (engine thread): on success, the copy back into x_k on the
  // out stream and the record of done_k; a device error is kept for WaitBucket.
  void CopyBack(size_t k, const Status& finished);
  // Called by the owner stage of bucket k's AllReduce.
  Status UpdateShard(size_t k, float gamma, coll::ElementRange range, float* shard);
  // `st` with the rank, `op` (and bucket k of the round) and the device as context.
  Status Fail(std::string_view op, const Status& st) const;
  Status Fail(std::string_view op, size_t k, const Status& st) const;
  // Whether bucket k's copy into staging landed (the AllReduce's start condition; engine thread).
  Result<bool> Copied(size_t k);

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
  DeviceStream out_ = nullptr;     // copies back into x (enqueued by on_finish)
  DeviceEvent start_ = nullptr;    // recorded on the compute stream at each outer step
  DeviceEvent updated_ = nullptr;  // an owner update's copy back finished
  float* staging_ = nullptr;       // page-locked copy of x
  float* x0_ = nullptr;            // device: x_{t,0} on the owned ranges
  float* u_ = nullptr;             // device: slow momentum, same layout
  float* scratch_ = nullptr;       // device: one owned shard
  int64_t inner_steps_ = 0;
  int64_t outer_steps_ = 0;
  internal::RoundTracker round_;  // the last round's Works: the destructor waits for them
};

}  // namespace tidal::optim

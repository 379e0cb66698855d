// CUDA optimizer kernels: the GPU counterpart of kernels.h (same names, configs and formulas), for
// fp32 arrays in device memory, so that the fused outer updates (SlowMo's owner update, Overlap
// Local-SGD's anchor) and the base optimizers run on the runtime's stream (DESIGN.md "Optimizers
// in the runtime").
//
// Results equal ref:: (kernels.h) bit for bit for every non-NaN result, subnormals included: the
// same operations in the same order with IEEE round-to-nearest intrinsics and no FMA
// (kernels_cuda_math.h). A NaN result is NaN on both, with the GPU's payload and sign. A host
// process running with FTZ/DAZ set (e.g. -ffast-math) flushes subnormals on the CPU, which the
// GPU does not. Per-call scalars (Adam's bias corrections, alpha*gamma, 1-alpha) are computed on
// the host exactly as the CPU kernels compute them.
//
// Not an optimizer and not a collective: no allocation, no synchronization. Built without CUDA,
// every function returns kNotSupported and Available() is false (kernels_cuda_nocuda.cc), so
// callers need no #ifdefs.
//
// Common contract. Each function enqueues one kernel on the current CUDA device on `stream` (a
// cudaStream_t; nullptr = the default stream) and returns without waiting: the arrays must stay
// allocated, and must not be touched by other work, until the stream reaches it.
// REQUIRES: device pointers to n floats each, float-aligned, not overlapping (the arrays listed as
// in/out in kernels.h are updated in place). Returns kInvalidArgument (checked before any CUDA
// call) for a null or misaligned required array with n > 0, or step < 1; OK without any CUDA call
// when n == 0; kUnavailable without a visible GPU; kIoError naming the CUDA error when the launch
// fails; kNotSupported when built without CUDA.
//
// Thread safety: all functions are thread-safe; the caller orders work on each stream.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tidal/core/status.h"
#include "tidal/optim/kernels.h"

namespace tidal::optim::cuda {

// True when built with CUDA and at least one GPU is visible.
bool Available();

// momentum_buf may be null when c.momentum == 0.
Status SgdStep(const SgdConfig& c, float* x, const float* g, float* momentum_buf, size_t n,
               void* stream);
// vmax may be null unless c.amsgrad.
Status AdamStep(const AdamConfig& c, int64_t step, float* x, const float* g, float* m, float* v,
                float* vmax, size_t n, void* stream);
Status SlowMoShardUpdate(float alpha, float beta, float gamma, float* shard, float* x0, float* u,
                         size_t n, void* stream);
Status PullBack(float alpha, float* x, const float* z, size_t n, void* stream);
Status AnchorReset(float inv_n, const float* x, float* z, size_t n, void* stream);
Status AnchorMomentum(float gmf, float gamma, float inv_n, const float* x, float* z, float* b,
                      size_t n, void* stream);

}  // namespace tidal::optim::cuda

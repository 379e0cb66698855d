// CUDA reduction kernels: the GPU counterpart of reduce.h, for buffers in device memory.
//
// Semantics and bits are those of the CPU kernels (reduce.h, types.h): fp16/bf16 convert to fp32,
// apply the op and round to nearest-even once; integers wrap; min/max return `a`'s NaN unchanged
// (fp16/bf16: quiet bit set by the rounding), else `b`'s; sum/prod/avg return `a`'s NaN quieted,
// else `b`'s quieted; a NaN created from non-NaN operands (Inf - Inf, 0 * Inf) is the host CPU's
// default NaN (x86-64: 0xFFC00000 in fp32, measured on the host once, not the GPU's 0x7FFFFFFF).
// kAvg reduces as kSum; FinishAvgDevice divides once. Results, NaN payloads and signs included, are
// bit-identical to ReduceReference and FinishAvg: the GPU's own NaN results are never used,
// fp16/bf16 rounding is integer code on raw bits, and the arithmetic is IEEE (round-to-nearest,
// subnormals kept, no FMA: built with -fmad=false -ftz=false -prec-div=true by tidal_strict_fp, and
// written with __fadd_rn-style intrinsics that are never contracted). One case cannot match: a
// process whose CPU runs with FTZ/DAZ set in MXCSR (e.g. a library linked with -ffast-math) flushes
// subnormals on the CPU, which the GPU does not.
//
// Not a collective: no communication, no synchronization. Built without CUDA, both functions
// return kNotSupported (reduce_cuda_nocuda.cc), so callers need no #ifdefs.
//
// Thread safety: all functions are thread-safe; the caller orders work on each stream.
#pragma once

#include <cstddef>

#include "tidal/coll/types.h"
#include "tidal/core/status.h"

namespace tidal::coll {

// out[i] = a[i] op b[i] on the current CUDA device, enqueued on `cuda_stream` (a cudaStream_t;
// nullptr = the default stream). Returns once the kernel is enqueued: the result is ready when the
// stream reaches it, and the buffers must stay allocated until then.
// REQUIRES: device pointers aligned to the element size; `out` equals `a` or `b` exactly or is
// disjoint from both. Violations, null pointers with count > 0 and unknown enums return
// kInvalidArgument (checked before any CUDA call). kUnavailable without a visible GPU; kIoError
// naming the CUDA error when the launch fails; kNotSupported when built without CUDA.
Status ReduceDevice(DataType type, ReduceOp op, void* out, const void* a, const void* b,
                    size_t count, void* cuda_stream);

// data[i] = data[i] / n on the device, asynchronously on `cuda_stream`, for kAvg after the last
// kSum-like step: bit-identical to FinishAvg (reduce.h).
// REQUIRES: n >= 1; `data` aligned to the element size. Errors as for ReduceDevice.
Status FinishAvgDevice(DataType type, void* data, size_t count, int n, void* cuda_stream);

}  // namespace tidal::coll

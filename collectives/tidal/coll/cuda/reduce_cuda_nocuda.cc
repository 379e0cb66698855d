// The CUDA reduction kernels (reduce_cuda.h) without CUDA: every call declines with kNotSupported,
// so the selector falls back to the CPU kernels.
//
// Thread safety: pure functions.
#include "tidal/coll/cuda/reduce_cuda.h"

namespace tidal::coll {

Status ReduceDevice(DataType /*type*/, ReduceOp /*op*/, void* /*out*/, const void* /*a*/,
                    const void* /*b*/, size_t /*count*/, void* /*cuda_stream*/) {
  return NotSupportedError("ReduceDevice: this libtidal was built without CUDA");
}

Status FinishAvgDevice(DataType /*type*/, void* /*data*/, size_t /*count*/, int /*n*/,
                       void* /*cuda_stream*/) {
  return NotSupportedError("FinishAvgDevice: this libtidal was built without CUDA");
}

}  // namespace tidal::coll

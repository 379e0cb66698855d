// The CUDA optimizer kernels (kernels_cuda.h) without CUDA: every call declines with
// kNotSupported, so callers fall back to the CPU kernels (kernels.h).
//
// Thread safety: pure functions.
#include "tidal/optim/kernels_cuda.h"

namespace tidal::optim::cuda {
namespace {
Status NoCuda(const char* what) {
  return NotSupportedError(what, ": this libtidal was built without CUDA");
}
}  // namespace

bool Available() { return false; }

Status SgdStep(const SgdConfig& /*c*/, float* /*x*/, const float* /*g*/, float* /*momentum_buf*/,
               size_t /*n*/, void* /*stream*/) {
  return NoCuda("cuda::SgdStep");
}

Status AdamStep(const AdamConfig& /*c*/, int64_t /*step*/, float* /*x*/, const float* /*g*/,
                float* /*m*/, float* /*v*/, float* /*vmax*/, size_t /*n*/, void* /*stream*/) {
  return NoCuda("cuda::AdamStep");
}

Status SlowMoShardUpdate(float /*alpha*/, float /*beta*/, float /*gamma*/, float* /*shard*/,
                         float* /*x0*/, float* /*u*/, size_t /*n*/, void* /*stream*/) {
  return NoCuda("cuda::SlowMoShardUpdate");
}

Status PullBack(float /*alpha*/, float* /*x*/, const float* /*z*/, size_t /*n*/, void* /*stream*/) {
  return NoCuda("cuda::PullBack");
}

Status AnchorReset(float /*inv_n*/, const float* /*x*/, float* /*z*/, size_t /*n*/,
                   void* /*stream*/) {
  return NoCuda("cuda::AnchorReset");
}

Status AnchorMomentum(float /*gmf*/, float /*gamma*/, float /*inv_n*/, const float* /*x*/,
                      float* /*z*/, float* /*b*/, size_t /*n*/, void* /*stream*/) {
  return NoCuda("cuda::AnchorMomentum");
}

}  // namespace tidal::optim::cuda

// CUDA optimizer kernels (kernels_cuda.h): validation, launch and one grid-stride kernel per
// function.
//
// Design note: the kernels are memory-bound (SGD with momentum moves 5 floats per element, Adam 7
// or 9), so each thread handles elements i, i + grid, ... with plain 4-byte accesses, which
// coalesce into full 128-byte transactions per warp whatever the arrays' alignments; the several
// arrays may sit at different offsets, so no vector loads are attempted. The grid is at most
// kBlocksPerSm blocks of kThreads per SM. Runtime flags (weight decay, momentum, Nesterov,
// amsgrad) become template parameters. Element math and its bit rules live in kernels_cuda_math.h;
// per-call scalars come from the same host code as the CPU kernels. CUDA errors become Status here.
//
// Thread safety: thread-safe; no mutable state.
#include <cuda_runtime.h>

#include <cstdint>
#include <initializer_list>

#include "tidal/cuda/cuda_error.cuh"
#include "tidal/optim/kernels_cuda.h"
#include "tidal/optim/kernels_cuda_math.h"
#include "tidal/optim/kernels_internal.h"

namespace tidal::optim::cuda {
namespace {

namespace cm = cuda_math;

constexpr int kThreads = 256;
constexpr int kBlocksPerSm = 8;

// kInvalidArgument for a null or misaligned array (only called with n > 0).
Status CheckDeviceArrays(const char* what, size_t n, std::initializer_list<const void*> arrays) {
  for (const void* p : arrays) {
    if (p == nullptr) return InvalidArgumentError(what, ": null array with n ", n);
    if (reinterpret_cast<uintptr_t>(p) % alignof(float) != 0) {
      return InvalidArgumentError(what, ": array not aligned to ", alignof(float), " bytes");
    }
  }
  return Status::Ok();
}

struct Launch {
  int blocks;
  cudaStream_t stream;
};

// Grid for n elements on the current device, and the stream.
Result<Launch> PrepareLaunch(size_t n, void* stream) {
  int device = 0;
  TIDAL_RETURN_IF_ERROR(CudaError("cudaGetDevice", cudaGetDevice(&device)));
  int sms = 0;
  TIDAL_RETURN_IF_ERROR(
      CudaError("cudaDeviceGetAttribute(multiProcessorCount)",
                cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device)));
  const size_t max_blocks = sms > 0 ? static_cast<size_t>(sms) * kBlocksPerSm : 1;
  const size_t wanted = (n + kThreads - 1) / kThreads;
  const size_t blocks = wanted < max_blocks ? wanted : max_blocks;
  return Launch{static_cast<int>(blocks), static_cast<cudaStream_t>(stream)};
}

__device__ __forceinline__ size_t ThreadIndex() {
  return static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ size_t GridSize() { return static_cast<size_t>(blockDim.x) * gridDim.x; }

template <bool kDecay, bool kMomentum, bool kNesterov>
__global__ void SgdKernel(cm::SgdScalars s, float* x, const float* g, float* buf, size_t n) {
  for (size_t i = ThreadIndex(); i < n; i += GridSize()) {
    float xi = x[i];
    float bi = kMomentum ? buf[i] : 0.0f;
    cm::SgdElement<kDecay, kMomentum, kNesterov>(s, xi, g[i], bi);
    x[i] = xi;
    if constexpr (kMomentum) buf[i] = bi;
  }
}

template <bool kDecay, bool kAmsgrad>
__global__ void AdamKernel(cm::AdamScalars s, float* x, const float* g, float* m, float* v,
                           float* vmax, size_t n) {
  for (size_t i = ThreadIndex(); i < n; i += GridSize()) {
    float xi = x[i], mi = m[i], vi = v[i];
    float vmaxi = kAmsgrad ? vmax[i] : 0.0f;
    cm::AdamElement<kDecay, kAmsgrad>(s, xi, g[i], mi, vi, vmaxi);
    x[i] = xi;
    m[i] = mi;
    v[i] = vi;
    if constexpr (kAmsgrad) vmax[i] = vmaxi;
  }
}

__global__ void SlowMoKernel(float beta, float gamma, float alpha_gamma, float* shard, float* x0,
                             float* u, size_t n) {
  for (size_t i = ThreadIndex(); i < n; i += GridSize()) {
    float s = shard[i], x = x0[i], ui = u[i];
    cm::SlowMoElement(beta, gamma, alpha_gamma, s, x, ui);
    shard[i] = s;
    x0[i] = x;
    u[i] = ui;
  }
}

__global__ void PullBackKernel(float keep, float alpha, float* x, const float* z, size_t n) {
  for (size_t i = ThreadIndex(); i < n; i += GridSize()) {
    x[i] = cm::PullBackElement(keep, alpha, x[i], z[i]);
  }
}

__global__ void AnchorResetKernel(float inv_n, const float* x, float* z, size_t n) {
  for (size_t i = ThreadIndex(); i < n; i += GridSize()) z[i] = cm::AnchorResetElement(inv_n, x[i]);
}

__global__ void AnchorMomentumKernel(float gmf, float gamma, float inv_n, const float* x, float* z,
                                     float* b, size_t n) {
  for (size_t i = ThreadIndex(); i < n; i += GridSize()) {
    float zi = z[i], bi = b[i];
    cm::AnchorMomentumElement(gmf, gamma, inv_n, x[i], zi, bi);
    z[i] = zi;
    b[i] = bi;
  }
}

template <bool kDecay>
void LaunchSgd(const SgdConfig& c, Launch l, float* x, const float* g, float* buf, size_t n) {
  const cm::SgdScalars s{c.lr, c.momentum, c.weight_decay};
  if (c.momentum == 0.0f) {
    SgdKernel<kDecay, false, false><<<l.blocks, kThreads, 0, l.stream>>>(s, x, g, buf, n);
  } else if (c.nesterov) {
    SgdKernel<kDecay, true, true><<<l.blocks, kThreads, 0, l.stream>>>(s, x, g, buf, n);
  } else {
    SgdKernel<kDecay, true, false><<<l.blocks, kThreads, 0, l.stream>>>(s, x, g, buf, n);
  }
}

template <bool kDecay>
void LaunchAdam(const AdamConfig& c, int64_t step, Launch l, float* x, const float* g, float* m,
                float* v, float* vmax, size_t n) {
  const internal::AdamCoefficients k = internal::ComputeAdamCoefficients(c, step);
  const cm::AdamScalars s{c.beta1,           c.beta2,           c.eps,       c.weight_decay,
                          k.one_minus_beta1, k.one_minus_beta2, k.step_size, k.bc2_sqrt};
  if (c.amsgrad) {
    AdamKernel<kDecay, true><<<l.blocks, kThreads, 0, l.stream>>>(s, x, g, m, v, vmax, n);
  } else {
    AdamKernel<kDecay, false><<<l.blocks, kThreads, 0, l.stream>>>(s, x, g, m, v, vmax, n);
  }
}

Status Launched(const char* what) { return CudaError(what, cudaGetLastError()); }

}  // namespace

bool Available() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

Status SgdStep(const SgdConfig& c, float* x, const float* g, float* momentum_buf, size_t n,
               void* stream) {
  if (n == 0) return Status::Ok();
  TIDAL_RETURN_IF_ERROR(CheckDeviceArrays("cuda::SgdStep", n, {x, g}));
  if (c.momentum != 0.0f) {
    TIDAL_RETURN_IF_ERROR(CheckDeviceArrays("cuda::SgdStep (momentum buffer)", n, {momentum_buf}));
  }
  TIDAL_ASSIGN_OR_RETURN(const Launch l, PrepareLaunch(n, stream));
  if (c.weight_decay != 0.0f) {
    LaunchSgd<true>(c, l, x, g, momentum_buf, n);
  } else {
    LaunchSgd<false>(c, l, x, g, momentum_buf, n);
  }
  return Launched("cuda::SgdStep kernel launch");
}

Status AdamStep(const AdamConfig& c, int64_t step, float* x, const float* g, float* m, float* v,
                float* vmax, size_t n, void* stream) {
  if (step < 1) return InvalidArgumentError("cuda::AdamStep: step is 1-based, got ", step);
  if (n == 0) return Status::Ok();
  TIDAL_RETURN_IF_ERROR(CheckDeviceArrays("cuda::AdamStep", n, {x, g, m, v}));
  if (c.amsgrad) TIDAL_RETURN_IF_ERROR(CheckDeviceArrays("cuda::AdamStep (vmax)", n, {vmax}));
  TIDAL_ASSIGN_OR_RETURN(const Launch l, PrepareLaunch(n, stream));
  if (c.weight_decay != 0.0f) {
    LaunchAdam<true>(c, step, l, x, g, m, v, vmax, n);
  } else {
    LaunchAdam<false>(c, step, l, x, g, m, v, vmax, n);
  }
  return Launched("cuda::AdamStep kernel launch");
}

Status SlowMoShardUpdate(float alpha, float beta, float gamma, float* shard, float* x0, float* u,
                         size_t n, void* stream) {
  if (n == 0) return Status::Ok();
  TIDAL_RETURN_IF_ERROR(CheckDeviceArrays("cuda::SlowMoShardUpdate", n, {shard, x0, u}));
  TIDAL_ASSIGN_OR_RETURN(const Launch l, PrepareLaunch(n, stream));
  SlowMoKernel<<<l.blocks, kThreads, 0, l.stream>>>(beta, gamma, alpha * gamma, shard, x0, u, n);
  return Launched("cuda::SlowMoShardUpdate kernel launch");
}

Status PullBack(float alpha, float* x, const float* z, size_t n, void* stream) {
  if (n == 0) return Status::Ok();
  TIDAL_RETURN_IF_ERROR(CheckDeviceArrays("cuda::PullBack", n, {x, z}));
  TIDAL_ASSIGN_OR_RETURN(const Launch l, PrepareLaunch(n, stream));
  PullBackKernel<<<l.blocks, kThreads, 0, l.stream>>>(1.0f - alpha, alpha, x, z, n);
  return Launched("cuda::PullBack kernel launch");
}

Status AnchorReset(float inv_n, const float* x, float* z, size_t n, void* stream) {
  if (n == 0) return Status::Ok();
  TIDAL_RETURN_IF_ERROR(CheckDeviceArrays("cuda::AnchorReset", n, {x, z}));
  TIDAL_ASSIGN_OR_RETURN(const Launch l, PrepareLaunch(n, stream));
  AnchorResetKernel<<<l.blocks, kThreads, 0, l.stream>>>(inv_n, x, z, n);
  return Launched("cuda::AnchorReset kernel launch");
}

Status AnchorMomentum(float gmf, float gamma, float inv_n, const float* x, float* z, float* b,
                      size_t n, void* stream) {
  if (n == 0) return Status::Ok();
  TIDAL_RETURN_IF_ERROR(CheckDeviceArrays("cuda::AnchorMomentum", n, {x, z, b}));
  TIDAL_ASSIGN_OR_RETURN(const Launch l, PrepareLaunch(n, stream));
  AnchorMomentumKernel<<<l.blocks, kThreads, 0, l.stream>>>(gmf, gamma, inv_n, x, z, b, n);
  return Launched("cuda::AnchorMomentum kernel launch");
}

}  // namespace tidal::optim::cuda

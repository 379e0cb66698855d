// Dispatch of the CPU optimizer kernels (kernels.h), Adam's per-call coefficients and the argument
// checks shared by every variant and ref::.
//
// Design note: the variant is the one the reduction kernels use (coll::ActiveReduceIsa: the best
// the CPU supports, or TIDAL_REDUCE_ISA), so one knob selects the instruction set of every CPU
// kernel in the runtime and a bit-for-bit comparison across machines can force the same variant
// everywhere (all variants give the same bits anyway).
//
// Thread safety: thread-safe; the active table is a function-local static (initialized once).
#include "tidal/optim/kernels.h"

#include <cmath>

#include "tidal/core/check.h"
#include "tidal/optim/kernels_internal.h"

namespace tidal::optim {
namespace internal {

const OptimKernelTable& KernelsFor(coll::ReduceIsa isa) {
  switch (isa) {
    case coll::ReduceIsa::kAvx2:
      return Avx2OptimKernels();
    case coll::ReduceIsa::kAvx512:
      return Avx512OptimKernels();
    case coll::ReduceIsa::kScalar:
      break;
  }
  return ScalarOptimKernels();
}

const OptimKernelTable& ActiveKernels() {
  static const OptimKernelTable& active = KernelsFor(coll::ActiveReduceIsa());
  return active;
}

AdamCoefficients ComputeAdamCoefficients(const AdamConfig& c, int64_t step) {
  const auto beta1 = static_cast<double>(c.beta1);
  const auto beta2 = static_cast<double>(c.beta2);
  const auto t = static_cast<double>(step);
  AdamCoefficients k{};
  k.one_minus_beta1 = static_cast<float>(1.0 - beta1);
  k.one_minus_beta2 = static_cast<float>(1.0 - beta2);
  k.step_size = static_cast<float>(static_cast<double>(c.lr) / (1.0 - std::pow(beta1, t)));
  k.bc2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(beta2, t)));
  return k;
}

void CheckArrays(const char* what, size_t n, std::initializer_list<const void*> arrays) {
  if (n == 0) return;
  for (const void* p : arrays) TIDAL_CHECK(p != nullptr) << what << ": null array with n " << n;
}

void CheckSgdArgs(const SgdConfig& c, const float* x, const float* g, const float* buf, size_t n) {
  CheckArrays("SgdStep", n, {x, g});
  if (c.momentum != 0.0f) CheckArrays("SgdStep (momentum buffer)", n, {buf});
}

void CheckAdamArgs(const AdamConfig& c, int64_t step, const float* x, const float* g,
                   const float* m, const float* v, const float* vmax, size_t n) {
  TIDAL_CHECK_GE(step, 1) << "AdamStep: step is 1-based";
  CheckArrays("AdamStep", n, {x, g, m, v});
  if (c.amsgrad) CheckArrays("AdamStep (amsgrad vmax)", n, {vmax});
}

}  // namespace internal

void SgdStep(const SgdConfig& c, float* x, const float* g, float* momentum_buf, size_t n) {
  internal::CheckSgdArgs(c, x, g, momentum_buf, n);
  internal::ActiveKernels().sgd(c, x, g, momentum_buf, n);
}

void AdamStep(const AdamConfig& c, int64_t step, float* x, const float* g, float* m, float* v,
              float* vmax, size_t n) {
  internal::CheckAdamArgs(c, step, x, g, m, v, vmax, n);
  internal::ActiveKernels().adam(c, step, x, g, m, v, vmax, n);
}

void SlowMoShardUpdate(float alpha, float beta, float gamma, float* shard, float* x0, float* u,
                       size_t n) {
  internal::CheckArrays("SlowMoShardUpdate", n, {shard, x0, u});
  internal::ActiveKernels().slowmo(alpha, beta, gamma, shard, x0, u, n);
}

void PullBack(float alpha, float* x, const float* z, size_t n) {
  internal::CheckArrays("PullBack", n, {x, z});
  internal::ActiveKernels().pull_back(alpha, x, z, n);
}

void AnchorReset(float inv_n, const float* x, float* z, size_t n) {
  internal::CheckArrays("AnchorReset", n, {x, z});
  internal::ActiveKernels().anchor_reset(inv_n, x, z, n);
}

void AnchorMomentum(float gmf, float gamma, float inv_n, const float* x, float* z, float* b,
                    size_t n) {
  internal::CheckArrays("AnchorMomentum", n, {x, z, b});
  internal::ActiveKernels().anchor_momentum(gmf, gamma, inv_n, x, z, b, n);
}

}  // namespace tidal::optim

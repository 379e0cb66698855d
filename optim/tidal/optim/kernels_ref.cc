// The scalar oracle of the optimizer kernels (kernels.h, namespace ref): one element at a time,
// each formula written once, in the order kernels.h documents. The vectorized variants
// (kernels_simd.inc) and the CUDA kernels (kernels_cuda_math.h) are tested against these loops,
// and these loops against closed-form values (tests/unit/optim_kernels_test.cc).
//
// Compiled with -ffp-contract=off (tidal_strict_fp), so no expression is fused into an FMA.
//
// Thread safety: pure functions.
#include <cmath>

#include "tidal/optim/kernels.h"
#include "tidal/optim/kernels_internal.h"

namespace tidal::optim::ref {

void SgdStep(const SgdConfig& c, float* x, const float* g, float* momentum_buf, size_t n) {
  internal::CheckSgdArgs(c, x, g, momentum_buf, n);
  for (size_t i = 0; i < n; ++i) {
    float gp = g[i];
    if (c.weight_decay != 0.0f) gp = gp + c.weight_decay * x[i];
    float d = gp;
    if (c.momentum != 0.0f) {
      const float buf = c.momentum * momentum_buf[i] + gp;
      momentum_buf[i] = buf;
      d = c.nesterov ? gp + c.momentum * buf : buf;
    }
    x[i] = x[i] - c.lr * d;
  }
}

void AdamStep(const AdamConfig& c, int64_t step, float* x, const float* g, float* m, float* v,
              float* vmax, size_t n) {
  internal::CheckAdamArgs(c, step, x, g, m, v, vmax, n);
  const internal::AdamCoefficients k = internal::ComputeAdamCoefficients(c, step);
  for (size_t i = 0; i < n; ++i) {
    float gp = g[i];
    if (c.weight_decay != 0.0f) gp = gp + c.weight_decay * x[i];
    const float mi = c.beta1 * m[i] + k.one_minus_beta1 * gp;
    const float vi = c.beta2 * v[i] + (k.one_minus_beta2 * gp) * gp;
    m[i] = mi;
    v[i] = vi;
    float vhat = vi;
    if (c.amsgrad) {
      vhat = vmax[i] > vi ? vmax[i] : vi;
      vmax[i] = vhat;
    }
    const float denom = std::sqrt(vhat) / k.bc2_sqrt + c.eps;
    x[i] = x[i] - k.step_size * (mi / denom);
  }
}

void SlowMoShardUpdate(float alpha, float beta, float gamma, float* shard, float* x0, float* u,
                       size_t n) {
  internal::CheckArrays("ref::SlowMoShardUpdate", n, {shard, x0, u});
  const float alpha_gamma = alpha * gamma;
  for (size_t i = 0; i < n; ++i) {
    const float xbar = shard[i];
    const float ui = beta * u[i] + (x0[i] - xbar) / gamma;
    const float x0i = x0[i] - alpha_gamma * ui;
    u[i] = ui;
    x0[i] = x0i;
    shard[i] = x0i;
  }
}

void PullBack(float alpha, float* x, const float* z, size_t n) {
  internal::CheckArrays("ref::PullBack", n, {x, z});
  const float keep = 1.0f - alpha;
  for (size_t i = 0; i < n; ++i) x[i] = keep * x[i] + alpha * z[i];
}

void AnchorReset(float inv_n, const float* x, float* z, size_t n) {
  internal::CheckArrays("ref::AnchorReset", n, {x, z});
  for (size_t i = 0; i < n; ++i) z[i] = x[i] * inv_n;
}

void AnchorMomentum(float gmf, float gamma, float inv_n, const float* x, float* z, float* b,
                    size_t n) {
  internal::CheckArrays("ref::AnchorMomentum", n, {x, z, b});
  for (size_t i = 0; i < n; ++i) {
    const float bi = gmf * b[i] + (z[i] - x[i]) / gamma;
    b[i] = bi;
    z[i] = (z[i] - gamma * bi) * inv_n;
  }
}

}  // namespace tidal::optim::ref

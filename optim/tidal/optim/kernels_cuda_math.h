// Element math of the CUDA optimizer kernels (kernels_cuda.h), host-and-device so that tests check
// it on the CPU against ref:: (kernels.h) without a GPU. Internal: not for callers.
//
// Design note: each function is one element of the matching ref:: loop, the same operations in
// the same order, through Add/Sub/Mul/Div/Sqrt: on the device __fadd_rn, __fsub_rn, __fmul_rn,
// __fdiv_rn and __fsqrt_rn, which are IEEE round-to-nearest, never contracted into FMA, and keep
// subnormals without -ftz=true (tidal_strict_fp builds tidal_optim with -fmad=false -ftz=false
// -prec-div=true -prec-sqrt=true). Finite and infinite results therefore equal ref::'s bit for bit;
// a NaN result is a NaN on both, but its payload and sign are the GPU's (the CPU propagates the
// operand's payload or returns its default NaN 0xFFC00000). On the host the operations are plain
// float arithmetic; compiled without FMA in the target (x86-64 baseline), nothing is contracted.
//
// Thread safety: pure functions.
#pragma once

#include <cmath>

#if defined(__CUDACC__)
#define TIDAL_OPTIM_HD __host__ __device__ __forceinline__
#else
#define TIDAL_OPTIM_HD inline
#endif

namespace tidal::optim::cuda_math {

TIDAL_OPTIM_HD float Add(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
TIDAL_OPTIM_HD float Sub(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
TIDAL_OPTIM_HD float Mul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
TIDAL_OPTIM_HD float Div(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
TIDAL_OPTIM_HD float Sqrt(float a) {
#if defined(__CUDA_ARCH__)
  return __fsqrt_rn(a);
#else
  return std::sqrt(a);
#endif
}

// Per-call scalars, computed on the host.
struct SgdScalars {
  float lr, momentum, weight_decay;
};
struct AdamScalars {
  float beta1, beta2, eps, weight_decay;
  float one_minus_beta1, one_minus_beta2, step_size, bc2_sqrt;  // internal::AdamCoefficients
};

// x, buf: element i in/out (buf unused unless kMomentum); g: element i.
template <bool kDecay, bool kMomentum, bool kNesterov>
TIDAL_OPTIM_HD void SgdElement(const SgdScalars& s, float& x, float g, float& buf) {
  float gp = g;
  if constexpr (kDecay) gp = Add(gp, Mul(s.weight_decay, x));
  float d = gp;
  if constexpr (kMomentum) {
    buf = Add(Mul(s.momentum, buf), gp);
    d = kNesterov ? Add(gp, Mul(s.momentum, buf)) : buf;
  }
  x = Sub(x, Mul(s.lr, d));
}

// x, m, v, vmax: element i in/out (vmax unused unless kAmsgrad); g: element i.
template <bool kDecay, bool kAmsgrad>
TIDAL_OPTIM_HD void AdamElement(const AdamScalars& s, float& x, float g, float& m, float& v,
                                float& vmax) {
  float gp = g;
  if constexpr (kDecay) gp = Add(gp, Mul(s.weight_decay, x));
  m = Add(Mul(s.beta1, m), Mul(s.one_minus_beta1, gp));
  v = Add(Mul(s.beta2, v), Mul(Mul(s.one_minus_beta2, gp), gp));
  float vhat = v;
  if constexpr (kAmsgrad) {
    vhat = vmax > v ? vmax : v;
    vmax = vhat;
  }
  const float denom = Add(Div(Sqrt(vhat), s.bc2_sqrt), s.eps);
  x = Sub(x, Mul(s.step_size, Div(m, denom)));
}

// On entry shard = xbar; alpha_gamma = alpha * gamma, rounded once on the host.
TIDAL_OPTIM_HD void SlowMoElement(float beta, float gamma, float alpha_gamma, float& shard,
                                  float& x0, float& u) {
  u = Add(Mul(beta, u), Div(Sub(x0, shard), gamma));
  x0 = Sub(x0, Mul(alpha_gamma, u));
  shard = x0;
}

// keep = 1 - alpha, rounded once on the host.
TIDAL_OPTIM_HD float PullBackElement(float keep, float alpha, float x, float z) {
  return Add(Mul(keep, x), Mul(alpha, z));
}

TIDAL_OPTIM_HD float AnchorResetElement(float inv_n, float x) { return Mul(x, inv_n); }

TIDAL_OPTIM_HD void AnchorMomentumElement(float gmf, float gamma, float inv_n, float x, float& z,
                                          float& b) {
  b = Add(Mul(gmf, b), Div(Sub(z, x), gamma));
  z = Mul(Sub(z, Mul(gamma, b)), inv_n);
}

}  // namespace tidal::optim::cuda_math

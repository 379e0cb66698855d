// The optimizer kernels compiled for AVX2 (8 float lanes; no FMA); see kernels_simd.inc for the
// loops and kernels.h for the semantics. Only kernels.cc dispatches to this table, and only on a
// CPU that supports it.
//
// Thread safety: the table is immutable.
#include <immintrin.h>

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "tidal/optim/kernels_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2")
#endif
#endif

namespace tidal::optim::internal {
namespace {

struct Wide {
  using V = __m256;
  static constexpr size_t kWidth = 8;
  static V Load(const float* p) { return _mm256_loadu_ps(p); }
  static void Store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V Set1(float s) { return _mm256_set1_ps(s); }
  static V Add(V a, V b) { return _mm256_add_ps(a, b); }
  static V Sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V Mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V Div(V a, V b) { return _mm256_div_ps(a, b); }
  static V Sqrt(V a) { return _mm256_sqrt_ps(a); }
  static V Max(V a, V b) { return _mm256_max_ps(a, b); }  // a > b ? a : b per lane
};

#include "tidal/optim/kernels_simd.inc"

}  // namespace
}  // namespace tidal::optim::internal

#if defined(__x86_64__) || defined(__i386__)
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

namespace tidal::optim::internal {
// Defined outside the target region: callable on any CPU.
const OptimKernelTable& Avx2OptimKernels() { return kTable; }
}  // namespace tidal::optim::internal

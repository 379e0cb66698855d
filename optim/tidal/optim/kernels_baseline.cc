// The optimizer kernels for the baseline instruction set (coll::ReduceIsa::kScalar): SSE2 lanes on
// x86-64 (every x86-64 CPU has them), plain float lanes elsewhere. See kernels_simd.inc for the
// loops and kernels.h for the semantics.
//
// Thread safety: the table is immutable.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "tidal/optim/kernels_internal.h"

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace tidal::optim::internal {
namespace {

#if defined(__SSE2__)
struct Wide {
  using V = __m128;
  static constexpr size_t kWidth = 4;
  static V Load(const float* p) { return _mm_loadu_ps(p); }
  static void Store(float* p, V v) { _mm_storeu_ps(p, v); }
  static V Set1(float s) { return _mm_set1_ps(s); }
  static V Add(V a, V b) { return _mm_add_ps(a, b); }
  static V Sub(V a, V b) { return _mm_sub_ps(a, b); }
  static V Mul(V a, V b) { return _mm_mul_ps(a, b); }
  static V Div(V a, V b) { return _mm_div_ps(a, b); }
  static V Sqrt(V a) { return _mm_sqrt_ps(a); }
  static V Max(V a, V b) { return _mm_max_ps(a, b); }  // a > b ? a : b per lane
};
#else
struct Wide {  // no vector unit assumed: the Scalar lanes of kernels_simd.inc do everything
  using V = float;
  static constexpr size_t kWidth = 1;
};
#endif

#include "tidal/optim/kernels_simd.inc"

}  // namespace

const OptimKernelTable& ScalarOptimKernels() { return kTable; }

}  // namespace tidal::optim::internal

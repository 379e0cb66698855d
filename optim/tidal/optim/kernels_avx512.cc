// The optimizer kernels compiled for AVX-512F (16 float lanes; the CPU has FMA but
// -ffp-contract=off keeps it out); see kernels_simd.inc for the loops and kernels.h for the
// semantics. Only kernels.cc dispatches to this table, and only on a CPU that supports it.
//
// Thread safety: the table is immutable.
#include <immintrin.h>

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "tidal/optim/kernels_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f")
#endif
#endif

namespace tidal::optim::internal {
namespace {

struct Wide {
  using V = __m512;
  static constexpr size_t kWidth = 16;
  static V Load(const float* p) { return _mm512_loadu_ps(p); }
  static void Store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V Set1(float s) { return _mm512_set1_ps(s); }
  static V Add(V a, V b) { return _mm512_add_ps(a, b); }
  static V Sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V Mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V Div(V a, V b) { return _mm512_div_ps(a, b); }
  // The masked forms with every lane selected: GCC 12 reports the unmasked ones'
  // _mm512_undefined_ps() source as maybe-uninitialized. Same instructions, same results.
  static constexpr __mmask16 kAll = 0xFFFF;
  static V Sqrt(V a) { return _mm512_mask_sqrt_ps(a, kAll, a); }
  static V Max(V a, V b) { return _mm512_mask_max_ps(a, kAll, a, b); }  // a > b ? a : b per lane
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
const OptimKernelTable& Avx512OptimKernels() { return kTable; }
}  // namespace tidal::optim::internal

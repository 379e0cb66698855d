// The reduction kernels compiled for AVX2 (+F16C), with hand-written fp16/bf16 loops; see
// reduce_kernels.inc for the loops and reduce.h for the semantics. Only reduce.cc calls this table,
// and only on a CPU that supports it.
//
// Thread safety: the table is immutable.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "tidal/coll/half.h"
#include "tidal/coll/reduce_internal.h"
#include "tidal/coll/types.h"

#if defined(__x86_64__) || defined(__i386__)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,f16c")
#endif
#endif

namespace tidal::coll::internal {
namespace {
#include "tidal/coll/reduce_kernels.inc"

// fp16 with F16C (every AVX2 CPU has it): hardware conversions, 8 lanes at a time, the same
// operations and NaN selection as Combine, so the bits equal the portable loop's.
template <ReduceOp O>
inline __m256 CombineVector(__m256 x, __m256 y) {
  const __m256 x_nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
  const __m256 y_nan = _mm256_cmp_ps(y, y, _CMP_UNORD_Q);
  __m256 r;
  if constexpr (O == ReduceOp::kMin || O == ReduceOp::kMax) {
    const __m256 take_y =
        O == ReduceOp::kMin ? _mm256_cmp_ps(y, x, _CMP_LT_OQ) : _mm256_cmp_ps(x, y, _CMP_LT_OQ);
    r = _mm256_blendv_ps(x, y, take_y);
    r = _mm256_blendv_ps(r, y, y_nan);
    return _mm256_blendv_ps(r, x, x_nan);
  } else {
    r = O == ReduceOp::kProd ? _mm256_mul_ps(x, y) : _mm256_add_ps(x, y);
    r = _mm256_blendv_ps(r, _mm256_add_ps(y, y), y_nan);
    return _mm256_blendv_ps(r, _mm256_add_ps(x, x), x_nan);
  }
}

template <ReduceOp O>
void HalfKernelF16c(void* out, const void* a, const void* b, size_t count) {
  auto* o = static_cast<uint16_t*>(out);
  const auto* x = static_cast<const uint16_t*>(a);
  const auto* y = static_cast<const uint16_t*>(b);
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {  // loads precede the store: out == a or out == b is fine
    const __m256 vx = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i)));
    const __m256 vy = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(y + i)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o + i),
                     _mm256_cvtps_ph(CombineVector<O>(vx, vy), _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < count; ++i) o[i] = Step<DataType::kFloat16, O>(x[i], y[i]);
}

// bf16, 8 lanes at a time: widen by a shift, combine, round as FloatToBFloat16 does.
template <ReduceOp O>
void BFloat16KernelAvx2(void* out, const void* a, const void* b, size_t count) {
  auto* o = static_cast<uint16_t*>(out);
  const auto* x = static_cast<const uint16_t*>(a);
  const auto* y = static_cast<const uint16_t*>(b);
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i round_bias = _mm256_set1_epi32(0x7FFF);
  const __m256i abs_mask = _mm256_set1_epi32(0x7FFFFFFF);
  const __m256i inf = _mm256_set1_epi32(0x7F800000);
  const __m256i quiet = _mm256_set1_epi32(0x0040);
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256i wx = _mm256_slli_epi32(
        _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))), 16);
    const __m256i wy = _mm256_slli_epi32(
        _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(y + i))), 16);
    const __m256i w =
        _mm256_castps_si256(CombineVector<O>(_mm256_castsi256_ps(wx), _mm256_castsi256_ps(wy)));
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(w, 16), one);
    const __m256i rounded =
        _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(w, round_bias), lsb), 16);
    const __m256i nan = _mm256_or_si256(_mm256_srli_epi32(w, 16), quiet);
    const __m256i is_nan = _mm256_cmpgt_epi32(_mm256_and_si256(w, abs_mask), inf);
    const __m256i r = _mm256_blendv_epi8(rounded, nan, is_nan);
    // packus interleaves 128-bit lanes; the permute restores element order.
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o + i), _mm256_castsi256_si128(packed));
  }
  for (; i < count; ++i) o[i] = Step<DataType::kBFloat16, O>(x[i], y[i]);
}

constexpr ReduceKernelTable MakeAvx2Table() {
  ReduceKernelTable table = kTable;
  const size_t half = static_cast<size_t>(DataType::kFloat16) * kNumReduceOps;
  table.fn[half + static_cast<size_t>(ReduceOp::kSum)] = &HalfKernelF16c<ReduceOp::kSum>;
  table.fn[half + static_cast<size_t>(ReduceOp::kProd)] = &HalfKernelF16c<ReduceOp::kProd>;
  table.fn[half + static_cast<size_t>(ReduceOp::kMin)] = &HalfKernelF16c<ReduceOp::kMin>;
  table.fn[half + static_cast<size_t>(ReduceOp::kMax)] = &HalfKernelF16c<ReduceOp::kMax>;
  table.fn[half + static_cast<size_t>(ReduceOp::kAvg)] = &HalfKernelF16c<ReduceOp::kAvg>;
  const size_t bf16 = static_cast<size_t>(DataType::kBFloat16) * kNumReduceOps;
  table.fn[bf16 + static_cast<size_t>(ReduceOp::kSum)] = &BFloat16KernelAvx2<ReduceOp::kSum>;
  table.fn[bf16 + static_cast<size_t>(ReduceOp::kProd)] = &BFloat16KernelAvx2<ReduceOp::kProd>;
  table.fn[bf16 + static_cast<size_t>(ReduceOp::kMin)] = &BFloat16KernelAvx2<ReduceOp::kMin>;
  table.fn[bf16 + static_cast<size_t>(ReduceOp::kMax)] = &BFloat16KernelAvx2<ReduceOp::kMax>;
  table.fn[bf16 + static_cast<size_t>(ReduceOp::kAvg)] = &BFloat16KernelAvx2<ReduceOp::kAvg>;
  return table;
}

constexpr ReduceKernelTable kAvx2Table = MakeAvx2Table();
}  // namespace

}  // namespace tidal::coll::internal

#if defined(__x86_64__) || defined(__i386__)
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

namespace tidal::coll::internal {
// Defined outside the target region: callable on any CPU.
const ReduceKernelTable& Avx2ReduceKernels() { return kAvx2Table; }
}  // namespace tidal::coll::internal

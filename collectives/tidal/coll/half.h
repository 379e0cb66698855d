// fp16 (IEEE binary16) and bf16 (bfloat16) conversions to and from fp32, written by hand so that
// every kernel variant (scalar, AVX2, AVX-512) computes the same bits: branch-free integer and
// exact float arithmetic that compilers vectorize inside target-attributed loops.
// - To fp32: exact for every bit pattern (NaN payloads kept, signalling NaNs stay signalling).
// - From fp32: round to nearest, ties to even; overflow gives Inf; NaN stays NaN with its sign and
//   the top payload bits, quiet bit set.
//
// Thread safety: pure functions.
#pragma once

#include <bit>
#include <cstdint>

namespace tidal::coll {

inline float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t mant = h & 0x3FFu;
  const uint32_t normal = ((exp + 112u) << 23) | (mant << 13);
  const uint32_t special = 0x7F800000u | (mant << 13);  // Inf, NaN (payload kept)
  // Subnormals and zero: mant * 2^-24 is exact in fp32.
  const uint32_t subnormal =
      std::bit_cast<uint32_t>(static_cast<float>(static_cast<int32_t>(mant)) * 0x1p-24f);
  const uint32_t magnitude = exp == 0 ? subnormal : (exp == 0x1F ? special : normal);
  return std::bit_cast<float>(sign | magnitude);
}

inline uint16_t FloatToHalf(float f) {
  // Maratyszcza's FP16 method: the fp32 adder performs the round-to-nearest-even; every other
  // step is exact. Comparisons are on signed int32 (non-negative values), which vectorize well.
  const uint32_t w = std::bit_cast<uint32_t>(f);
  const uint32_t sign = w & 0x80000000u;
  const uint32_t abs_bits = w & 0x7FFFFFFFu;
  const float abs = std::bit_cast<float>(abs_bits);
  float base = (abs * 0x1p+112f) * 0x1p-110f;  // overflows to Inf where fp16 does
  uint32_t exp_bits = w & 0x7F800000u;
  exp_bits = static_cast<int32_t>(exp_bits) < 0x38800000 ? 0x38800000u : exp_bits;
  base = std::bit_cast<float>(exp_bits + 0x07800000u) + base;
  const uint32_t bits = std::bit_cast<uint32_t>(base);
  const uint32_t nonsign = ((bits >> 13) & 0x7C00u) + (bits & 0x0FFFu);
  const uint32_t nan = 0x7E00u | ((w >> 13) & 0x03FFu);
  const bool is_nan = static_cast<int32_t>(abs_bits) > 0x7F800000;
  return static_cast<uint16_t>((sign >> 16) | (is_nan ? nan : nonsign));
}

inline float BFloat16ToFloat(uint16_t b) {
  return std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

inline uint16_t FloatToBFloat16(float f) {
  const uint32_t w = std::bit_cast<uint32_t>(f);
  const uint32_t rounded = (w + 0x7FFFu + ((w >> 16) & 1u)) >> 16;
  const uint32_t nan = (w >> 16) | 0x0040u;
  const bool is_nan = static_cast<int32_t>(w & 0x7FFFFFFFu) > 0x7F800000;
  return static_cast<uint16_t>(is_nan ? nan : rounded);
}

}  // namespace tidal::coll

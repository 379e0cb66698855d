// The scalar oracle of the reduction kernels (ReduceReference in reduce.h): one element at a time
// through memcpy, with its own fp16/bf16 conversions (branchy integer rounding, ldexp) written
// independently of half.h, so tests compare two implementations rather than one with itself.
//
// Thread safety: pure functions.
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "tidal/coll/types.h"

namespace tidal::coll {
namespace internal {
void ReduceReferenceUnchecked(DataType type, ReduceOp op, void* out, const void* a, const void* b,
                              size_t count);
}  // namespace internal

namespace {

// x >> shift, rounded to nearest, ties to even; shift in [1, 31].
uint32_t ShiftRoundEven(uint32_t x, int shift) {
  const uint32_t q = x >> shift;
  const uint32_t rem = x & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  return (rem > half || (rem == half && (q & 1u) != 0)) ? q + 1 : q;
}

float RefHalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h >> 15) << 31;
  const int exp = (h >> 10) & 0x1F;
  const int mant = h & 0x3FF;
  float magnitude;
  if (exp == 0x1F) {
    magnitude = std::bit_cast<float>(0x7F800000u | (static_cast<uint32_t>(mant) << 13));
  } else if (exp == 0) {
    magnitude = std::ldexp(static_cast<float>(mant), -24);
  } else {
    magnitude = std::ldexp(static_cast<float>(1024 + mant), exp - 25);
  }
  return std::bit_cast<float>(std::bit_cast<uint32_t>(magnitude) | sign);
}

uint16_t RefFloatToHalf(float f) {
  const uint32_t w = std::bit_cast<uint32_t>(f);
  const auto sign = static_cast<uint16_t>((w >> 16) & 0x8000u);
  const uint32_t e = (w >> 23) & 0xFF;
  const uint32_t m = w & 0x7FFFFF;
  if (e == 0xFF) return static_cast<uint16_t>(sign | (m != 0 ? (0x7E00u | (m >> 13)) : 0x7C00u));
  if (e == 0) return sign;  // fp32 subnormals are below half the smallest fp16 subnormal
  const int exp = static_cast<int>(e) - 127;
  const uint32_t sig = m | 0x800000u;  // value = sig * 2^(exp - 23)
  if (exp < -14) {                     // fp16 subnormal: units of 2^-24
    const int shift = -(exp + 1);
    if (shift >= 25) return sign;
    return static_cast<uint16_t>(sign | ShiftRoundEven(sig, shift));  // 0x400 = smallest normal
  }
  uint32_t q = ShiftRoundEven(sig, 13);  // 11 significant bits, or 0x800 after a carry
  int half_exp = exp + 15;
  if (q == 0x800) {
    q = 0x400;
    ++half_exp;
  }
  if (half_exp >= 31) return static_cast<uint16_t>(sign | 0x7C00u);
  return static_cast<uint16_t>(sign | (static_cast<uint32_t>(half_exp) << 10) | (q & 0x3FFu));
}

float RefBFloat16ToFloat(uint16_t b) {
  const uint32_t w = static_cast<uint32_t>(b) << 16;
  return std::bit_cast<float>(w);
}

uint16_t RefFloatToBFloat16(float f) {
  const uint32_t w = std::bit_cast<uint32_t>(f);
  if (std::isnan(f)) return static_cast<uint16_t>((w >> 16) | 0x40u);
  return static_cast<uint16_t>(ShiftRoundEven(w, 16));  // a carry into the exponent is right
}

template <class C>
C RefFloatOp(ReduceOp op, C x, C y) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg:
      if (std::isnan(x)) return x + x;  // quieted
      if (std::isnan(y)) return y + y;
      return x + y;
    case ReduceOp::kProd:
      if (std::isnan(x)) return x + x;
      if (std::isnan(y)) return y + y;
      return x * y;
    case ReduceOp::kMin:
      if (std::isnan(x)) return x;
      if (std::isnan(y)) return y;
      return y < x ? y : x;
    case ReduceOp::kMax:
      if (std::isnan(x)) return x;
      if (std::isnan(y)) return y;
      return x < y ? y : x;
  }
  return x;
}

template <class T>
T RefIntOp(ReduceOp op, T x, T y) {
  // Wrap-around through uint64_t: the low bits of a sum or product do not depend on the high ones.
  const auto ux = static_cast<uint64_t>(x);
  const auto uy = static_cast<uint64_t>(y);
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg:
      return static_cast<T>(ux + uy);
    case ReduceOp::kProd:
      return static_cast<T>(ux * uy);
    case ReduceOp::kMin:
      return y < x ? y : x;
    case ReduceOp::kMax:
      return x < y ? y : x;
  }
  return x;
}

template <class T, class F>
void Each(void* out, const void* a, const void* b, size_t count, F f) {
  for (size_t i = 0; i < count; ++i) {
    T x;
    T y;
    std::memcpy(&x, static_cast<const char*>(a) + i * sizeof(T), sizeof(T));
    std::memcpy(&y, static_cast<const char*>(b) + i * sizeof(T), sizeof(T));
    const T r = f(x, y);
    std::memcpy(static_cast<char*>(out) + i * sizeof(T), &r, sizeof(T));
  }
}

}  // namespace

namespace internal {

void ReduceReferenceUnchecked(DataType type, ReduceOp op, void* out, const void* a, const void* b,
                              size_t count) {
  switch (type) {
    case DataType::kFloat32:
      Each<float>(out, a, b, count, [op](float x, float y) { return RefFloatOp(op, x, y); });
      break;
    case DataType::kFloat64:
      Each<double>(out, a, b, count, [op](double x, double y) { return RefFloatOp(op, x, y); });
      break;
    case DataType::kFloat16:
      Each<uint16_t>(out, a, b, count, [op](uint16_t x, uint16_t y) {
        return RefFloatToHalf(RefFloatOp(op, RefHalfToFloat(x), RefHalfToFloat(y)));
      });
      break;
    case DataType::kBFloat16:
      Each<uint16_t>(out, a, b, count, [op](uint16_t x, uint16_t y) {
        return RefFloatToBFloat16(RefFloatOp(op, RefBFloat16ToFloat(x), RefBFloat16ToFloat(y)));
      });
      break;
    case DataType::kInt8:
      Each<int8_t>(out, a, b, count, [op](int8_t x, int8_t y) { return RefIntOp(op, x, y); });
      break;
    case DataType::kUint8:
      Each<uint8_t>(out, a, b, count, [op](uint8_t x, uint8_t y) { return RefIntOp(op, x, y); });
      break;
    case DataType::kInt32:
      Each<int32_t>(out, a, b, count, [op](int32_t x, int32_t y) { return RefIntOp(op, x, y); });
      break;
    case DataType::kInt64:
      Each<int64_t>(out, a, b, count, [op](int64_t x, int64_t y) { return RefIntOp(op, x, y); });
      break;
  }
}

}  // namespace internal
}  // namespace tidal::coll

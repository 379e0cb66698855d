// Element math of the CUDA reduction kernels (reduce_cuda.h), host-and-device so that tests check
// it on the CPU against ReduceReference and FinishAvg without a GPU. Internal: not for callers.
//
// Design note: every float result is built from bits the GPU cannot change. NaN operands are
// quieted by setting the quiet bit (x86 semantics), never by GPU arithmetic, which would return
// its canonical NaN 0x7FFFFFFF; a NaN that arithmetic creates (Inf - Inf, 0 * Inf) is replaced by
// the host CPU's default NaN, passed in as CpuNan. fp16/bf16 rounding is integer code on raw
// bits (round to nearest, ties to even, the same results as half.h). Arithmetic goes through
// __fadd_rn/__fmul_rn/__fdiv_rn (and the fp64 forms) on the device: IEEE round-to-nearest and
// never contracted into FMA. They keep subnormals only without -ftz=true, which tidal_strict_fp
// guarantees for tidal_coll.
//
// Thread safety: pure functions.
#pragma once

#include <bit>
#include <cstdint>
#include <type_traits>

#include "tidal/coll/types.h"

#if defined(__CUDACC__)
#define TIDAL_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define TIDAL_HOST_DEVICE inline
#endif

namespace tidal::coll::cuda_math {

// The host CPU's default NaN (what it returns for Inf - Inf), as bits.
struct CpuNan {
  uint32_t f32;
  uint64_t f64;
};

TIDAL_HOST_DEVICE uint32_t Bits(float x) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(x);
#else
  return std::bit_cast<uint32_t>(x);
#endif
}
TIDAL_HOST_DEVICE uint64_t Bits(double x) {
#if defined(__CUDA_ARCH__)
  return static_cast<uint64_t>(__double_as_longlong(x));
#else
  return std::bit_cast<uint64_t>(x);
#endif
}
TIDAL_HOST_DEVICE float FloatFromBits(uint32_t w) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(w);
#else
  return std::bit_cast<float>(w);
#endif
}
TIDAL_HOST_DEVICE double DoubleFromBits(uint64_t w) {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(static_cast<long long>(w));
#else
  return std::bit_cast<double>(w);
#endif
}

// IEEE round-to-nearest arithmetic, never fused.
#if defined(__CUDA_ARCH__)
TIDAL_HOST_DEVICE float Add(float x, float y) { return __fadd_rn(x, y); }
TIDAL_HOST_DEVICE double Add(double x, double y) { return __dadd_rn(x, y); }
TIDAL_HOST_DEVICE float Mul(float x, float y) { return __fmul_rn(x, y); }
TIDAL_HOST_DEVICE double Mul(double x, double y) { return __dmul_rn(x, y); }
TIDAL_HOST_DEVICE float Div(float x, float y) { return __fdiv_rn(x, y); }
TIDAL_HOST_DEVICE double Div(double x, double y) { return __ddiv_rn(x, y); }
#else
TIDAL_HOST_DEVICE float Add(float x, float y) { return x + y; }
TIDAL_HOST_DEVICE double Add(double x, double y) { return x + y; }
TIDAL_HOST_DEVICE float Mul(float x, float y) { return x * y; }
TIDAL_HOST_DEVICE double Mul(double x, double y) { return x * y; }
TIDAL_HOST_DEVICE float Div(float x, float y) { return x / y; }
TIDAL_HOST_DEVICE double Div(double x, double y) { return x / y; }
#endif

TIDAL_HOST_DEVICE uint32_t CountLeadingZeros(uint32_t x) {
#if defined(__CUDA_ARCH__)
  return static_cast<uint32_t>(__clz(x));
#else
  return static_cast<uint32_t>(std::countl_zero(x));
#endif
}

TIDAL_HOST_DEVICE bool IsNan(float x) { return (Bits(x) & 0x7FFFFFFFu) > 0x7F800000u; }
TIDAL_HOST_DEVICE bool IsNan(double x) {
  return (Bits(x) & 0x7FFFFFFFFFFFFFFFull) > 0x7FF0000000000000ull;
}
// The NaN with its quiet bit set, sign and payload kept (what x86 arithmetic returns for it).
TIDAL_HOST_DEVICE float Quiet(float x) { return FloatFromBits(Bits(x) | 0x00400000u); }
TIDAL_HOST_DEVICE double Quiet(double x) { return DoubleFromBits(Bits(x) | 0x0008000000000000ull); }
TIDAL_HOST_DEVICE float DefaultNan(float /*tag*/, CpuNan nan) { return FloatFromBits(nan.f32); }
TIDAL_HOST_DEVICE double DefaultNan(double /*tag*/, CpuNan nan) { return DoubleFromBits(nan.f64); }

// Exact for every bit pattern (NaN payloads kept, signalling NaNs stay signalling).
TIDAL_HOST_DEVICE float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t mant = h & 0x3FFu;
  if (exp == 0x1F) return FloatFromBits(sign | 0x7F800000u | (mant << 13));
  if (exp != 0) return FloatFromBits(sign | ((exp + 112u) << 23) | (mant << 13));
  if (mant == 0) return FloatFromBits(sign);
  // Subnormal mant * 2^-24: shift the leading one to bit 10; the exponent drops by the shift.
  const uint32_t shift = CountLeadingZeros(mant) - 21u;  // 1..10
  return FloatFromBits(sign | ((113u - shift) << 23) | (((mant << shift) & 0x3FFu) << 13));
}

// Round to nearest, ties to even; overflow gives Inf; NaN keeps its sign and top payload bits,
// quiet bit set.
TIDAL_HOST_DEVICE uint16_t FloatToHalf(float f) {
  const uint32_t w = Bits(f);
  const uint32_t sign = (w >> 16) & 0x8000u;
  const uint32_t abs = w & 0x7FFFFFFFu;
  uint32_t h = 0;
  if (abs > 0x7F800000u) {
    h = 0x7E00u | ((w >> 13) & 0x3FFu);
  } else if (abs >= 0x477FF000u) {  // 65520 and above round to Inf
    h = 0x7C00u;
  } else if (abs >= 0x38800000u) {  // fp16 normal: rebias, round off 13 bits (carries are right)
    const uint32_t r = abs - 0x38000000u;
    h = (r + 0x0FFFu + ((r >> 13) & 1u)) >> 13;
  } else if (abs >= 0x33000000u) {  // fp16 subnormal, in units of 2^-24 (2^-25 ties to 0)
    const uint32_t shift = 126u - (abs >> 23);  // 14..24
    const uint32_t sig = (abs & 0x7FFFFFu) | 0x800000u;
    const uint32_t q = sig >> shift;
    const uint32_t rem = sig & ((1u << shift) - 1u);
    const uint32_t half = 1u << (shift - 1u);
    h = q + ((rem > half || (rem == half && (q & 1u) != 0)) ? 1u : 0u);
  }
  return static_cast<uint16_t>(sign | h);
}

TIDAL_HOST_DEVICE bool HalfIsNan(uint16_t h) { return (h & 0x7FFFu) > 0x7C00u; }

#if defined(__CUDA_ARCH__)
// The GPU's conversion instructions: exact from fp16, and to fp16 round to nearest even with
// subnormals kept (tidal_coll builds without -ftz) and overflow to Inf — the same bits as
// HalfToFloat and FloatToHalf for every value that is not NaN, at one instruction instead of a
// dozen integer ones (the fp16 kernels were bound by those at 0.75 of copy bandwidth). NaNs keep
// the integer versions, which follow the CPU's payload rules.
__device__ __forceinline__ float HalfToFloatHw(uint16_t h) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
}
__device__ __forceinline__ uint16_t FloatToHalfHw(float f) {
  uint16_t h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
}
#endif

TIDAL_HOST_DEVICE float BFloat16ToFloat(uint16_t b) {
  return FloatFromBits(static_cast<uint32_t>(b) << 16);
}

TIDAL_HOST_DEVICE uint16_t FloatToBFloat16(float f) {
  const uint32_t w = Bits(f);
  if ((w & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((w >> 16) | 0x0040u);
  return static_cast<uint16_t>((w + 0x7FFFu + ((w >> 16) & 1u)) >> 16);
}

// x op y on a compute type (float, double or an integer), with the CPU kernels' rules.
template <ReduceOp O, class C>
TIDAL_HOST_DEVICE C Combine(C x, C y, CpuNan nan) {
  if constexpr (std::is_floating_point_v<C>) {
    if constexpr (O == ReduceOp::kMin) {
      return IsNan(x) ? x : (IsNan(y) ? y : (y < x ? y : x));
    } else if constexpr (O == ReduceOp::kMax) {
      return IsNan(x) ? x : (IsNan(y) ? y : (x < y ? y : x));
    } else {
      const C r = O == ReduceOp::kProd ? Mul(x, y) : Add(x, y);
      const C made = IsNan(r) ? DefaultNan(C{}, nan) : r;  // only Inf - Inf, 0 * Inf
      const C pick_y = IsNan(y) ? Quiet(y) : made;
      return IsNan(x) ? Quiet(x) : pick_y;
    }
  } else {
    using U = std::make_unsigned_t<C>;
    if constexpr (O == ReduceOp::kSum || O == ReduceOp::kAvg) {
      return static_cast<C>(static_cast<U>(static_cast<U>(x) + static_cast<U>(y)));
    } else if constexpr (O == ReduceOp::kProd) {
      return static_cast<C>(static_cast<U>(static_cast<U>(x) * static_cast<U>(y)));
    } else if constexpr (O == ReduceOp::kMin) {
      return y < x ? y : x;
    } else {
      return x < y ? y : x;
    }
  }
}

// The element type each DataType is stored as (fp16/bf16 as raw bits).
template <DataType D>
struct StorageOf {
  using Type = uint16_t;  // kFloat16, kBFloat16
};
template <>
struct StorageOf<DataType::kFloat32> {
  using Type = float;
};
template <>
struct StorageOf<DataType::kFloat64> {
  using Type = double;
};
template <>
struct StorageOf<DataType::kInt8> {
  using Type = int8_t;
};
template <>
struct StorageOf<DataType::kUint8> {
  using Type = uint8_t;
};
template <>
struct StorageOf<DataType::kInt32> {
  using Type = int32_t;
};
template <>
struct StorageOf<DataType::kInt64> {
  using Type = int64_t;
};
template <DataType D>
using Storage = typename StorageOf<D>::Type;

// One reduction step on stored values: fp16/bf16 through fp32 with one rounding.
template <DataType D, ReduceOp O>
TIDAL_HOST_DEVICE Storage<D> Step(Storage<D> x, Storage<D> y, CpuNan nan) {
  if constexpr (D == DataType::kFloat16) {
#if defined(__CUDA_ARCH__)
    if (!HalfIsNan(x) && !HalfIsNan(y)) {
      const float r = Combine<O>(HalfToFloatHw(x), HalfToFloatHw(y), nan);
      return IsNan(r) ? FloatToHalf(r) : FloatToHalfHw(r);  // a created NaN is the CPU's
    }
#endif
    return FloatToHalf(Combine<O>(HalfToFloat(x), HalfToFloat(y), nan));
  } else if constexpr (D == DataType::kBFloat16) {
    return FloatToBFloat16(Combine<O>(BFloat16ToFloat(x), BFloat16ToFloat(y), nan));
  } else {
    return Combine<O>(x, y, nan);
  }
}

// x / n as FinishAvg computes it; nf = float(n), nd = double(n). Division by n >= 1 creates no
// NaN, so only NaN operands need the CPU's quieting.
template <class C>
TIDAL_HOST_DEVICE C DivideFloat(C x, C n) {
  return IsNan(x) ? Quiet(x) : Div(x, n);
}
template <DataType D>
TIDAL_HOST_DEVICE Storage<D> Divide(Storage<D> x, float nf, double nd, int64_t n) {
  if constexpr (D == DataType::kFloat32) {
    return DivideFloat(x, nf);
  } else if constexpr (D == DataType::kFloat64) {
    return DivideFloat(x, nd);
  } else if constexpr (D == DataType::kFloat16) {
#if defined(__CUDA_ARCH__)
    if (!HalfIsNan(x)) return FloatToHalfHw(Div(HalfToFloatHw(x), nf));  // never NaN: n >= 1
#endif
    return FloatToHalf(DivideFloat(HalfToFloat(x), nf));
  } else if constexpr (D == DataType::kBFloat16) {
    return FloatToBFloat16(DivideFloat(BFloat16ToFloat(x), nf));
  } else {
    return static_cast<Storage<D>>(static_cast<int64_t>(x) / n);
  }
}

}  // namespace tidal::coll::cuda_math

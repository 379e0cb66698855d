// Inputs for the CUDA reduction tests (reduce_cuda_test.cc, reduce_cuda_math_test.cc): arbitrary
// bit patterns, and every pair of each type's special values (NaNs with payloads and both signs,
// signalling NaNs, infinities, signed zeros, subnormals, extremes that overflow, rounding ties);
// a bytewise comparison that names the first differing element; the host's default NaN.
//
// Thread safety: pure functions.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <vector>

#include "tidal/coll/cuda/reduce_cuda_math.h"
#include "tidal/coll/types.h"

namespace tidal::coll::testing {

inline uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

// Bit patterns of the special values of `type`, as little-endian words of its size.
inline std::vector<uint64_t> SpecialBits(DataType type) {
  switch (type) {
    case DataType::kFloat32:
      return {0x00000000, 0x80000000, 0x3F800000, 0xBF800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x00000001,
              0x80000001, 0x00800000, 0x007FFFFF, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000,
              0x7F800001, 0xFFA12345, 0x7FD55555, 0x33000000, 0x3F800001, 0x4B800001};
    case DataType::kFloat64:
      return {0x0000000000000000, 0x8000000000000000, 0x3FF0000000000000, 0xBFF0000000000000,
              0x7FEFFFFFFFFFFFFF, 0xFFEFFFFFFFFFFFFF, 0x0000000000000001, 0x8000000000000001,
              0x0010000000000000, 0x000FFFFFFFFFFFFF, 0x7FF0000000000000, 0xFFF0000000000000,
              0x7FF8000000000000, 0xFFF8000000000000, 0x7FF0000000000001, 0xFFF4000000000ABC,
              0x7FFC0000DEADBEEF, 0x3FF0000000000001};
    case DataType::kFloat16:
      return {0x0000, 0x8000, 0x3C00, 0xBC00, 0x7BFF, 0xFBFF, 0x0001, 0x8001, 0x0400, 0x03FF,
              0x7C00, 0xFC00, 0x7E00, 0xFE00, 0x7C01, 0xFD55, 0x7FFF, 0x3C01, 0x1400, 0x6800};
    case DataType::kBFloat16:
      return {0x0000, 0x8000, 0x3F80, 0xBF80, 0x7F7F, 0xFF7F, 0x0001, 0x8001, 0x0080,
              0x007F, 0x7F80, 0xFF80, 0x7FC0, 0xFFC0, 0x7F81, 0xFFA5, 0x7FFF, 0x3F81};
    case DataType::kInt8:
    case DataType::kUint8:
      return {0x00, 0x01, 0x02, 0x10, 0x7F, 0x80, 0x81, 0xFE, 0xFF};
    case DataType::kInt32:
      return {0x00000000, 0x00000001, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000,
              0x00010000, 0xFFFF0000, 0x7FFFFFFE, 0x00000003};
    case DataType::kInt64:
      return {0x0000000000000000, 0x0000000000000001, 0xFFFFFFFFFFFFFFFF, 0x7FFFFFFFFFFFFFFF,
              0x8000000000000000, 0x0000000100000000, 0xFFFFFFFF00000000, 0x0000000000000003};
  }
  return {};
}

// `count` elements (plus `slack` more) of arbitrary bytes.
inline std::vector<unsigned char> RandomBytes(DataType type, size_t count, size_t slack,
                                              uint64_t seed) {
  std::vector<unsigned char> buf((count + slack) * DataTypeSize(type));
  for (size_t i = 0; i < buf.size(); ++i) {
    buf[i] = static_cast<unsigned char>(Mix(i * 0x9E3779B97F4A7C15ULL + seed));
  }
  return buf;
}

// Element i is special value (i / stride) % n: with stride 1 for `a` and stride n for `b`, the
// first n * n elements pair every special value with every other.
inline std::vector<unsigned char> SpecialBytes(DataType type, size_t count, size_t slack,
                                               size_t stride) {
  const std::vector<uint64_t> specials = SpecialBits(type);
  const size_t size = DataTypeSize(type);
  std::vector<unsigned char> buf((count + slack) * size);
  for (size_t i = 0; i < count + slack; ++i) {
    const uint64_t bits = specials[(i / stride) % specials.size()];
    for (size_t k = 0; k < size; ++k) buf[i * size + k] = static_cast<unsigned char>(bits >> 8 * k);
  }
  return buf;
}

// got == want byte for byte; otherwise names the first differing element of `size` bytes.
inline ::testing::AssertionResult SameElements(const std::vector<unsigned char>& got,
                                               const std::vector<unsigned char>& want,
                                               size_t size) {
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure() << got.size() << " bytes, want " << want.size();
  }
  for (size_t i = 0; i < got.size(); i += size) {
    if (std::memcmp(got.data() + i, want.data() + i, size) == 0) continue;
    uint64_t g = 0;
    uint64_t w = 0;
    std::memcpy(&g, got.data() + i, size);
    std::memcpy(&w, want.data() + i, size);
    std::ostringstream why;
    why << "first difference at element " << i / size << std::hex << ": got 0x" << g << ", want 0x"
        << w;
    return ::testing::AssertionFailure() << why.str();
  }
  return ::testing::AssertionSuccess();
}

// What the kernels are given as the host's default NaN (the value of Inf - Inf here).
inline cuda_math::CpuNan HostDefaultNan() {
  volatile float inf_f = std::numeric_limits<float>::infinity();
  volatile double inf_d = std::numeric_limits<double>::infinity();
  const float nan_f = inf_f - inf_f;
  const double nan_d = inf_d - inf_d;
  cuda_math::CpuNan nan{};
  std::memcpy(&nan.f32, &nan_f, sizeof(nan.f32));
  std::memcpy(&nan.f64, &nan_d, sizeof(nan.f64));
  return nan;
}

}  // namespace tidal::coll::testing

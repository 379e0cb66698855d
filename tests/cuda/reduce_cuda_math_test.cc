// The element math of the CUDA reduction kernels (tidal/coll/cuda/reduce_cuda_math.h), compiled
// for the host and checked against the CPU oracle: fp16/bf16 conversions against half.h
// (exhaustively from fp16/bf16, and around every rounding boundary to fp16/bf16), every type x op
// step against ReduceReference and every division against FinishAvg, bit for bit, NaNs included.
// Runs with or without CUDA and a GPU: the device compiles the same integer code, and its float
// operations are the IEEE ones the host performs here.
#include "tidal/coll/cuda/reduce_cuda_math.h"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <utility>
#include <vector>

#include "cuda/reduce_cuda_test_data.h"
#include "tidal/coll/half.h"
#include "tidal/coll/reduce.h"

namespace tidal::coll {
namespace {

using cuda_math::CpuNan;
using cuda_math::Storage;

TEST(ReduceCudaMath, HalfAndBFloat16ToFloatAreExactForEveryPattern) {
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {
    const auto bits = static_cast<uint16_t>(h);
    ASSERT_EQ(std::bit_cast<uint32_t>(cuda_math::HalfToFloat(bits)),
              std::bit_cast<uint32_t>(HalfToFloat(bits)))
        << std::hex << h;
    ASSERT_EQ(std::bit_cast<uint32_t>(cuda_math::BFloat16ToFloat(bits)),
              std::bit_cast<uint32_t>(BFloat16ToFloat(bits)))
        << std::hex << h;
  }
}

::testing::AssertionResult SameRounding(uint32_t w) {
  const float f = std::bit_cast<float>(w);
  const uint16_t half = cuda_math::FloatToHalf(f);
  const uint16_t bf16 = cuda_math::FloatToBFloat16(f);
  if (half == FloatToHalf(f) && bf16 == FloatToBFloat16(f)) return ::testing::AssertionSuccess();
  std::ostringstream why;  // AssertionResult's << does not keep std::hex between values
  why << std::hex << "fp32 0x" << w << ": fp16 0x" << half << " (cpu 0x" << FloatToHalf(f)
      << "), bf16 0x" << bf16 << " (cpu 0x" << FloatToBFloat16(f) << ")";
  return ::testing::AssertionFailure() << why.str();
}

TEST(ReduceCudaMath, FloatToHalfAndBFloat16RoundLikeTheCpu) {
  // Every fp16 value and the midpoint above it (both signs), +-2 fp32 ulps: all ties and their
  // neighbours, including overflow to Inf and the subnormal range.
  for (uint32_t h = 0; h < 0x7C00; ++h) {
    const uint32_t lo = std::bit_cast<uint32_t>(HalfToFloat(static_cast<uint16_t>(h)));
    const uint32_t hi = std::bit_cast<uint32_t>(HalfToFloat(static_cast<uint16_t>(h + 1)));
    const uint32_t mid = lo + (hi - lo) / 2;
    for (uint32_t centre : {lo, mid}) {
      for (uint32_t d = 0; d < 5; ++d) {
        const uint32_t w = centre + d - 2;
        ASSERT_TRUE(SameRounding(w));
        ASSERT_TRUE(SameRounding(w | 0x80000000u));
      }
    }
  }
  // bf16 ties: the low 16 bits near 0x8000, for a spread of high halves.
  for (uint32_t high = 0; high <= 0xFFFF; high += 7) {
    for (uint32_t low : {0x0000u, 0x7FFFu, 0x8000u, 0x8001u, 0xFFFFu}) {
      ASSERT_TRUE(SameRounding(high << 16 | low));
    }
  }
  // A stride through all fp32 patterns (NaNs, Inf, fp32 subnormals included).
  for (uint64_t w = 0; w <= 0xFFFFFFFFull; w += 65521) {
    ASSERT_TRUE(SameRounding(static_cast<uint32_t>(w)));
  }
  for (uint32_t w : {0x7F800000u, 0xFF800000u, 0x7F800001u, 0xFFFFFFFFu, 0x477FF000u, 0x477FEFFFu,
                     0x33000000u, 0x33000001u, 0x32FFFFFFu, 0x387FE000u, 0x387FF000u}) {
    ASSERT_TRUE(SameRounding(w));
  }
}

constexpr size_t kCount = 4099;

template <DataType D, ReduceOp O>
void ExpectStepMatchesReference(const std::vector<unsigned char>& a,
                                const std::vector<unsigned char>& b, CpuNan nan) {
  using T = Storage<D>;
  std::vector<unsigned char> want(kCount * sizeof(T));
  ASSERT_TRUE(ReduceReference(D, O, want.data(), a.data(), b.data(), kCount).ok());
  std::vector<unsigned char> got(want.size());
  for (size_t i = 0; i < kCount; ++i) {
    T x;
    T y;
    std::memcpy(&x, a.data() + i * sizeof(T), sizeof(T));
    std::memcpy(&y, b.data() + i * sizeof(T), sizeof(T));
    const T r = cuda_math::Step<D, O>(x, y, nan);
    std::memcpy(got.data() + i * sizeof(T), &r, sizeof(T));
  }
  ASSERT_TRUE(testing::SameElements(got, want, sizeof(T)))
      << DataTypeName(D) << " " << ReduceOpName(O);
}

template <DataType D, size_t... I>
void ExpectEveryOp(std::index_sequence<I...> /*unused*/) {
  const CpuNan nan = testing::HostDefaultNan();
  const size_t n = testing::SpecialBits(D).size();
  const std::pair<std::vector<unsigned char>, std::vector<unsigned char>> inputs[] = {
      {testing::RandomBytes(D, kCount, 0, 1), testing::RandomBytes(D, kCount, 0, 2)},
      {testing::SpecialBytes(D, kCount, 0, 1), testing::SpecialBytes(D, kCount, 0, n)}};
  for (const auto& [a, b] : inputs) {
    (ExpectStepMatchesReference<D, kAllReduceOps[I]>(a, b, nan), ...);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

template <DataType D>
void ExpectDivideMatchesFinishAvg() {
  using T = Storage<D>;
  const size_t n_specials = testing::SpecialBits(D).size();
  for (int n : {1, 2, 3, 7, 1000, 16777217, 2147483647}) {
    for (const std::vector<unsigned char>& data :
         {testing::RandomBytes(D, kCount, 0, 3), testing::SpecialBytes(D, n_specials, 0, 1)}) {
      const size_t count = data.size() / sizeof(T);
      std::vector<unsigned char> want = data;
      ASSERT_TRUE(FinishAvg(D, want.data(), count, n).ok());
      std::vector<unsigned char> got(want.size());
      for (size_t i = 0; i < count; ++i) {
        T x;
        std::memcpy(&x, data.data() + i * sizeof(T), sizeof(T));
        const T r = cuda_math::Divide<D>(x, static_cast<float>(n), static_cast<double>(n), n);
        std::memcpy(got.data() + i * sizeof(T), &r, sizeof(T));
      }
      ASSERT_TRUE(testing::SameElements(got, want, sizeof(T))) << DataTypeName(D) << " n " << n;
    }
  }
}

template <DataType D>
void ExpectType() {
  ExpectEveryOp<D>(std::make_index_sequence<std::size(kAllReduceOps)>());
  ExpectDivideMatchesFinishAvg<D>();
}

TEST(ReduceCudaMath, EveryStepAndDivisionMatchesTheCpuOracle) {
  ExpectType<DataType::kFloat32>();
  ExpectType<DataType::kFloat64>();
  ExpectType<DataType::kFloat16>();
  ExpectType<DataType::kBFloat16>();
  ExpectType<DataType::kInt8>();
  ExpectType<DataType::kUint8>();
  ExpectType<DataType::kInt32>();
  ExpectType<DataType::kInt64>();
}

TEST(ReduceCudaMath, CreatedNanIsTheHostDefaultNotTheGpuCanonical) {
  const CpuNan nan = testing::HostDefaultNan();
  const float inf = std::bit_cast<float>(0x7F800000u);
  const float sum = cuda_math::Combine<ReduceOp::kSum>(inf, -inf, nan);
  EXPECT_EQ(std::bit_cast<uint32_t>(sum), nan.f32);
  const float prod = cuda_math::Combine<ReduceOp::kProd>(0.0f, inf, nan);
  EXPECT_EQ(std::bit_cast<uint32_t>(prod), nan.f32);
  // A NaN operand comes back quieted with its sign and payload: a's first.
  const float snan_a = std::bit_cast<float>(0xFF800001u);
  const float snan_b = std::bit_cast<float>(0x7F800002u);
  EXPECT_EQ(std::bit_cast<uint32_t>(cuda_math::Combine<ReduceOp::kSum>(snan_a, snan_b, nan)),
            0xFFC00001u);
  EXPECT_EQ(std::bit_cast<uint32_t>(cuda_math::Combine<ReduceOp::kMax>(1.0f, snan_b, nan)),
            0x7F800002u);  // min/max return the NaN unchanged
}

}  // namespace
}  // namespace tidal::coll

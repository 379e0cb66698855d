// CPU reduction kernels (tidal/coll/reduce.h): every type x op x available ISA variant against the
// scalar reference, bit for bit, over closed-form data and arbitrary bit patterns (NaN, Inf,
// subnormals included); edge semantics (NaN propagation, wrap-around, avg truncation); exhaustive
// fp16/bf16 conversion checks.
#include "tidal/coll/reduce.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "tidal/coll/half.h"

namespace tidal::coll {
namespace {

constexpr size_t kCounts[] = {0, 1, 7, 1023, 100003};

uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

// Closed-form values, exactly representable in every type: small multiples of 1/4 for floating
// point (|v| <= 25), all byte values for 8-bit integers (so sums and products wrap), and values
// spanning the full range for 32/64-bit integers.
void FillClosedForm(DataType type, std::vector<unsigned char>& buf, size_t count, uint64_t seed) {
  buf.assign((count + 1) * DataTypeSize(type), 0);
  for (size_t i = 0; i < count + 1; ++i) {
    const int64_t k = static_cast<int64_t>((i * 37 + seed * 11) % 201) - 100;
    const float f = static_cast<float>(k) * 0.25f;
    unsigned char* p = buf.data() + i * DataTypeSize(type);
    switch (type) {
      case DataType::kFloat32:
        std::memcpy(p, &f, 4);
        break;
      case DataType::kFloat64: {
        const double d = static_cast<double>(k) * 0.25;
        std::memcpy(p, &d, 8);
        break;
      }
      case DataType::kFloat16: {
        const uint16_t h = FloatToHalf(f);
        std::memcpy(p, &h, 2);
        break;
      }
      case DataType::kBFloat16: {
        const uint16_t h = FloatToBFloat16(f);
        std::memcpy(p, &h, 2);
        break;
      }
      case DataType::kInt8:
      case DataType::kUint8:
        *p = static_cast<unsigned char>(i * 37 + seed * 101);
        break;
      case DataType::kInt32: {
        const auto v = static_cast<int32_t>(static_cast<uint32_t>(k) * 21474836u);
        std::memcpy(p, &v, 4);
        break;
      }
      case DataType::kInt64: {
        const auto v = static_cast<int64_t>(static_cast<uint64_t>(k) * 92233720368547758ULL);
        std::memcpy(p, &v, 8);
        break;
      }
    }
  }
}

// Arbitrary bit patterns: NaNs with payloads, infinities, subnormals, signed zeros.
void FillBits(DataType type, std::vector<unsigned char>& buf, size_t count, uint64_t seed) {
  buf.assign((count + 1) * DataTypeSize(type), 0);
  for (size_t i = 0; i < buf.size(); ++i) {
    buf[i] = static_cast<unsigned char>(Mix(i * 0x9E3779B97F4A7C15ULL + seed));
  }
}

using Filler = void (*)(DataType, std::vector<unsigned char>&, size_t, uint64_t);

// Runs every variant on (a, b) with the output disjoint, aliased to a, and aliased to b, and with
// all pointers offset by one element; compares each result to the reference.
void CheckAll(Filler fill) {
  for (DataType type : kAllDataTypes) {
    const size_t size = DataTypeSize(type);
    for (ReduceOp op : kAllReduceOps) {
      for (size_t count : kCounts) {
        std::vector<unsigned char> a;
        std::vector<unsigned char> b;
        fill(type, a, count, 1);
        fill(type, b, count, 2);
        for (size_t offset : {size_t{0}, size}) {
          const unsigned char* pa = a.data() + offset;
          const unsigned char* pb = b.data() + offset;
          std::vector<unsigned char> want(a.size());
          ASSERT_TRUE(ReduceReference(type, op, want.data() + offset, pa, pb, count).ok());
          const size_t bytes = count * size;
          for (ReduceIsa isa : AvailableReduceIsas()) {
            SCOPED_TRACE(::testing::Message()
                         << DataTypeName(type) << " " << ReduceOpName(op) << " count " << count
                         << " offset " << offset << " " << ReduceIsaName(isa));
            std::vector<unsigned char> out(a.size());
            ASSERT_TRUE(ReduceIntoIsa(isa, type, op, out.data() + offset, pa, pb, count).ok());
            EXPECT_EQ(std::memcmp(out.data() + offset, want.data() + offset, bytes), 0);
            std::vector<unsigned char> io = a;  // out == a
            ASSERT_TRUE(
                ReduceIntoIsa(isa, type, op, io.data() + offset, io.data() + offset, pb, count)
                    .ok());
            EXPECT_EQ(std::memcmp(io.data() + offset, want.data() + offset, bytes), 0);
            std::vector<unsigned char> ib = b;  // out == b
            ASSERT_TRUE(
                ReduceIntoIsa(isa, type, op, ib.data() + offset, pa, ib.data() + offset, count)
                    .ok());
            EXPECT_EQ(std::memcmp(ib.data() + offset, want.data() + offset, bytes), 0);
          }
        }
      }
    }
  }
}

TEST(Reduce, EveryVariantMatchesReferenceOnClosedFormData) { CheckAll(FillClosedForm); }

TEST(Reduce, EveryVariantMatchesReferenceOnArbitraryBits) { CheckAll(FillBits); }

TEST(Reduce, ReduceIsInPlaceReduceInto) {
  std::vector<float> x = {1.0f, -2.0f, 3.5f};
  const std::vector<float> y = {0.5f, 4.0f, -3.5f};
  ASSERT_TRUE(Reduce(DataType::kFloat32, ReduceOp::kSum, x.data(), y.data(), x.size()).ok());
  EXPECT_EQ(x, (std::vector<float>{1.5f, 2.0f, 0.0f}));
}

TEST(Reduce, MinMaxPropagateNan) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (ReduceOp op : {ReduceOp::kMin, ReduceOp::kMax}) {
    for (ReduceIsa isa : AvailableReduceIsas()) {
      std::vector<float> a(17, 1.0f);
      std::vector<float> b(17, 2.0f);
      a[3] = nan;
      b[16] = nan;
      std::vector<float> out(17);
      ASSERT_TRUE(
          ReduceIntoIsa(isa, DataType::kFloat32, op, out.data(), a.data(), b.data(), 17).ok());
      EXPECT_TRUE(std::isnan(out[3]));
      EXPECT_TRUE(std::isnan(out[16]));
      EXPECT_EQ(out[0], op == ReduceOp::kMin ? 1.0f : 2.0f);
      const uint16_t hn = FloatToHalf(nan);
      const uint16_t one = FloatToHalf(1.0f);
      uint16_t h = 0;
      ASSERT_TRUE(ReduceIntoIsa(isa, DataType::kFloat16, op, &h, &one, &hn, 1).ok());
      EXPECT_TRUE(std::isnan(HalfToFloat(h)));
      const uint16_t bn = FloatToBFloat16(nan);
      ASSERT_TRUE(ReduceIntoIsa(isa, DataType::kBFloat16, op, &h, &bn, &one, 1).ok());
      EXPECT_TRUE(std::isnan(BFloat16ToFloat(h)));
    }
  }
}

TEST(Reduce, IntegersWrapAround) {
  for (ReduceIsa isa : AvailableReduceIsas()) {
    std::vector<int8_t> a(33, 127);
    std::vector<int8_t> b(33, 1);
    ASSERT_TRUE(
        ReduceIntoIsa(isa, DataType::kInt8, ReduceOp::kSum, a.data(), a.data(), b.data(), 33).ok());
    EXPECT_EQ(a[0], -128);
    EXPECT_EQ(a[32], -128);
    std::vector<int8_t> c(33, 16);
    ASSERT_TRUE(
        ReduceIntoIsa(isa, DataType::kInt8, ReduceOp::kProd, c.data(), c.data(), c.data(), 33)
            .ok());
    EXPECT_EQ(c[5], 0);  // 256 wraps to 0
    int32_t big = std::numeric_limits<int32_t>::max();
    const int32_t one = 1;
    ASSERT_TRUE(ReduceIntoIsa(isa, DataType::kInt32, ReduceOp::kSum, &big, &big, &one, 1).ok());
    EXPECT_EQ(big, std::numeric_limits<int32_t>::min());
  }
}

TEST(Reduce, AvgSumsThenDividesTruncatingIntegers) {
  std::vector<int32_t> acc = {7, -7, 5, -1};
  const std::vector<int32_t> in = {0, 0, 0, 0};
  ASSERT_TRUE(Reduce(DataType::kInt32, ReduceOp::kAvg, acc.data(), in.data(), 4).ok());
  ASSERT_TRUE(FinishAvg(DataType::kInt32, acc.data(), 4, 2).ok());
  EXPECT_EQ(acc, (std::vector<int32_t>{3, -3, 2, 0}));
  std::vector<int8_t> i8 = {-128, 127};
  ASSERT_TRUE(FinishAvg(DataType::kInt8, i8.data(), 2, 3).ok());
  EXPECT_EQ(i8, (std::vector<int8_t>{-42, 42}));
  std::vector<float> f = {3.0f, -1.0f};
  ASSERT_TRUE(FinishAvg(DataType::kFloat32, f.data(), 2, 4).ok());
  EXPECT_EQ(f, (std::vector<float>{0.75f, -0.25f}));
  uint16_t h = FloatToHalf(3.0f);
  ASSERT_TRUE(FinishAvg(DataType::kFloat16, &h, 1, 2).ok());
  EXPECT_EQ(HalfToFloat(h), 1.5f);
  EXPECT_EQ(FinishAvg(DataType::kFloat32, f.data(), 2, 0).code(), StatusCode::kInvalidArgument);
}

TEST(Reduce, ValidatesArguments) {
  float x = 1.0f;
  const auto bad_type = static_cast<DataType>(99);
  const auto bad_op = static_cast<ReduceOp>(99);
  EXPECT_EQ(Reduce(bad_type, ReduceOp::kSum, &x, &x, 1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Reduce(DataType::kFloat32, bad_op, &x, &x, 1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Reduce(DataType::kFloat32, ReduceOp::kSum, nullptr, &x, 1).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ReduceInto(DataType::kFloat32, ReduceOp::kSum, &x, nullptr, &x, 1).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(Reduce(DataType::kFloat32, ReduceOp::kSum, nullptr, nullptr, 0).ok());
  std::vector<float> v(8);
  EXPECT_EQ(ReduceInto(DataType::kFloat32, ReduceOp::kSum, v.data() + 1, v.data(), v.data() + 4, 4)
                .code(),
            StatusCode::kInvalidArgument);  // partial overlap
  auto* unaligned = reinterpret_cast<float*>(reinterpret_cast<char*>(v.data()) + 1);
  EXPECT_EQ(Reduce(DataType::kFloat32, ReduceOp::kSum, unaligned, v.data() + 4, 1).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(FinishAvg(bad_type, &x, 1, 2).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(FinishAvg(DataType::kFloat32, nullptr, 1, 2).code(), StatusCode::kInvalidArgument);
}

TEST(Reduce, ActiveIsaIsAvailable) {
  const auto isas = AvailableReduceIsas();
  ASSERT_FALSE(isas.empty());
  EXPECT_EQ(isas.front(), ReduceIsa::kScalar);
  bool found = false;
  for (ReduceIsa isa : isas) found = found || isa == ActiveReduceIsa();
  EXPECT_TRUE(found) << ReduceIsaName(ActiveReduceIsa());
}

TEST(HalfConversions, ExhaustiveRoundTrip) {
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    const auto h = static_cast<uint16_t>(bits);
    const float f = HalfToFloat(h);
    const float g = BFloat16ToFloat(h);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(f)))) << bits;
    } else {
      EXPECT_EQ(FloatToHalf(f), h) << bits;
    }
    if (std::isnan(g)) {
      EXPECT_TRUE(std::isnan(BFloat16ToFloat(FloatToBFloat16(g)))) << bits;
    } else {
      EXPECT_EQ(FloatToBFloat16(g), h) << bits;
    }
  }
}

TEST(HalfConversions, RoundToNearestEven) {
  EXPECT_EQ(FloatToHalf(1.0f + 0x1p-11f), FloatToHalf(1.0f));                // tie: to even
  EXPECT_EQ(FloatToHalf(1.0f + 3 * 0x1p-11f), FloatToHalf(1.0f + 0x1p-9f));  // tie: up to even
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7C00);                                  // rounds to Inf
  EXPECT_EQ(FloatToHalf(65519.0f), 0x7BFF);
  EXPECT_EQ(FloatToHalf(0x1p-25f), 0x0000);  // tie: to even zero
  EXPECT_EQ(FloatToHalf(0x1.8p-25f), 0x0001);
  EXPECT_EQ(FloatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(FloatToBFloat16(1.0f + 0x1p-8f), 0x3F80);  // tie: to even
  EXPECT_EQ(FloatToBFloat16(1.0f + 3 * 0x1p-8f), 0x3F82);
  EXPECT_EQ(FloatToBFloat16(std::numeric_limits<float>::max()), 0x7F80);
  EXPECT_EQ(FloatToHalf(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(FloatToHalf(-std::numeric_limits<float>::quiet_NaN()) & 0xFE00, 0xFE00);
}

#if defined(__FLT16_MAX__)
// The compiler's own _Float16 conversions as an independent oracle.
TEST(HalfConversions, MatchCompilerFloat16) {
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    const auto h = static_cast<uint16_t>(bits);
    const float f = HalfToFloat(h);
    if (std::isnan(f)) continue;
    EXPECT_EQ(std::bit_cast<uint32_t>(f),
              std::bit_cast<uint32_t>(static_cast<float>(std::bit_cast<_Float16>(h))))
        << bits;
  }
  for (uint64_t i = 0; i < (1u << 22); ++i) {
    const auto w = static_cast<uint32_t>(Mix(i));
    const float f =
        std::bit_cast<float>(i < 65536 ? static_cast<uint32_t>(0x33000000u + i * 4096u) : w);
    if (std::isnan(f)) continue;
    EXPECT_EQ(FloatToHalf(f), std::bit_cast<uint16_t>(static_cast<_Float16>(f))) << f;
  }
}
#endif

}  // namespace
}  // namespace tidal::coll

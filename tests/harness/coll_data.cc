#include "harness/coll_data.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <sstream>

#include "tidal/core/check.h"
#include "tidal/core/random.h"

namespace tidal::testing {
namespace {

using coll::DataType;
using coll::ReduceOp;

bool IsFloat(DataType type) { return coll::IsFloatingPoint(type); }

uint64_t Mask(DataType type) {
  const size_t bytes = coll::DataTypeSize(type);
  return bytes == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * bytes)) - 1;
}

// The value of integer element bits, sign-extended for the signed types.
int64_t IntValue(DataType type, uint64_t bits) {
  switch (type) {
    case DataType::kInt8:
      return static_cast<int8_t>(static_cast<uint8_t>(bits));
    case DataType::kUint8:
      return static_cast<uint8_t>(bits);
    case DataType::kInt32:
      return static_cast<int32_t>(static_cast<uint32_t>(bits));
    case DataType::kInt64:
      return static_cast<int64_t>(bits);
    default:
      TIDAL_CHECK(false) << "not an integer type: " << static_cast<int>(type);
  }
  return 0;
}

uint64_t IntBits(DataType type, int64_t value) { return static_cast<uint64_t>(value) & Mask(type); }

// i mod m as a signed value, for building small integers.
int64_t Mod(size_t i, int64_t m) { return static_cast<int64_t>(i % static_cast<size_t>(m)); }

// Floating-point inputs, exact in every type (see the header).
double FloatInput(DataType type, ReduceOp op, int rank, size_t i) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg:
      switch (type) {
        case DataType::kFloat16:  // [-239, 248]: partial sums of 8 within +-2048
          return static_cast<double>(8 * (Mod(i, 61) - 30) + rank + 1);
        case DataType::kBFloat16:  // [-23, 32]: partial sums of 8 within +-256
          return static_cast<double>(4 * (Mod(i, 13) - 6) + rank + 1);
        case DataType::kFloat32:  // quarters below 2^11
          return static_cast<double>(16 * (Mod(i, 251) - 125) + rank + 1) * 0.25;
        default:  // eighths
          return static_cast<double>(16 * (Mod(i, 251) - 125) + rank + 1) * 0.125;
      }
    case ReduceOp::kProd: {
      // {+-1/2, +-1, +-2}: a product of 8 stays within 2^+-8.
      const int64_t exponent = Mod(i + static_cast<size_t>(rank), 3) - 1;
      const double sign = Mod(i + 2 * static_cast<size_t>(rank), 5) == 0 ? -1.0 : 1.0;
      return sign * std::ldexp(1.0, static_cast<int>(exponent));
    }
    case ReduceOp::kMin:
    case ReduceOp::kMax:
      // Quarters in [-26.25, 26.25]; 211 is prime, so the 8 ranks differ at every index.
      return static_cast<double>(Mod(i * 37 + static_cast<size_t>(rank) * 101, 211) - 105) * 0.25;
  }
  return 0;
}

int64_t IntInput(DataType type, ReduceOp op, int rank, size_t i) {
  const auto r = static_cast<uint64_t>(rank);
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg:
      // Wide values: sums of 8-bit values wrap, and so may the others' (the reference wraps too).
      switch (type) {
        case DataType::kInt8:
        case DataType::kUint8:
          return static_cast<int64_t>((i * 7 + r * 29 + 3) & 0xFF);
        case DataType::kInt32:
          return static_cast<int32_t>(static_cast<uint32_t>(i * 2654435761u + r * 40503u + 1));
        default:
          return static_cast<int64_t>(i * 0x9E3779B97F4A7C15ull + r * 0x100000001ull + 1);
      }
    case ReduceOp::kProd: {
      if (type == DataType::kInt8 || type == DataType::kUint8) {
        const int64_t v = Mod(i * 5 + r * 3, 9) - 4;  // [-4, 4], wraps after a few factors
        return v == 0 ? 3 : v;
      }
      const int64_t v = Mod(i * 31 + r * 17, 1001) - 500;  // products of 8 wrap int32 and int64
      return v == 0 ? 501 : v;
    }
    case ReduceOp::kMin:
    case ReduceOp::kMax: {
      const int64_t v = Mod(i * 37 + r * 101, 211);
      switch (type) {
        case DataType::kInt8:
          return v - 105;
        case DataType::kUint8:
          return v + 20;
        case DataType::kInt32:
          return (v - 105) * 1000003 + static_cast<int64_t>(rank);
        default:
          return (v - 105) * 0x10000000001ll + static_cast<int64_t>(rank);
      }
    }
  }
  return 0;
}

// The integer input as the type holds it (sign-extended).
int64_t IntElement(DataType type, ReduceOp op, int rank, size_t i) {
  return IntValue(type, IntBits(type, IntInput(type, op, rank, i)));
}

// A 16-bit float from an fp32 value: bf16 keeps the top 16 bits; fp16 re-biases the exponent
// (normal numbers only). Aborts when the value is not exactly representable.
uint16_t EncodeSmall(DataType type, double v) {
  const auto f = static_cast<float>(v);
  TIDAL_CHECK(static_cast<double>(f) == v) << v << " is not an fp32 value";
  const uint32_t w = std::bit_cast<uint32_t>(f);
  if (type == DataType::kBFloat16) {
    TIDAL_CHECK((w & 0xFFFFu) == 0) << v << " is not a bfloat16 value";
    return static_cast<uint16_t>(w >> 16);
  }
  const auto sign = static_cast<uint16_t>((w >> 16) & 0x8000u);
  if ((w & 0x7FFFFFFFu) == 0) {
    return sign;
  }
  const int exponent = static_cast<int>((w >> 23) & 0xFF) - 127;
  const uint32_t mant = w & 0x7FFFFFu;
  TIDAL_CHECK(exponent >= -14 && exponent <= 15 && (mant & 0x1FFFu) == 0)
      << v << " is not a normal fp16 value";
  return static_cast<uint16_t>(sign | (static_cast<uint32_t>(exponent + 15) << 10) | (mant >> 13));
}

// Round |value| (normal range) to `bits` significant bits, ties to even.
double RoundSignificant(float value, int bits) {
  const auto v = static_cast<double>(value);
  if (v == 0) {
    return v;
  }
  int e2 = 0;
  std::frexp(std::fabs(v), &e2);
  const double ulp = std::ldexp(1.0, e2 - bits);
  return std::copysign(std::nearbyint(std::fabs(v) / ulp) * ulp, v);  // default mode: to even
}

// out[k] = bits_of(k) for k < count, stored as the type's element size (one dispatch per buffer).
template <class U, class F>
void FillAs(void* out, size_t count, const F& bits_of) {
  auto* p = static_cast<uint8_t*>(out);
  for (size_t k = 0; k < count; ++k) {
    const auto v = static_cast<U>(bits_of(k));
    std::memcpy(p + k * sizeof(U), &v, sizeof(U));
  }
}

template <class F>
void Fill(DataType type, void* out, size_t count, const F& bits_of) {
  switch (coll::DataTypeSize(type)) {
    case 1:
      return FillAs<uint8_t>(out, count, bits_of);
    case 2:
      return FillAs<uint16_t>(out, count, bits_of);
    case 4:
      return FillAs<uint32_t>(out, count, bits_of);
    default:
      return FillAs<uint64_t>(out, count, bits_of);
  }
}

std::string Show(DataType type, uint64_t bits) {
  std::ostringstream os;
  os << "0x" << std::hex << bits << std::dec << " (";
  if (IsFloat(type)) {
    os << DecodeFloat(type, bits);
  } else {
    os << IntValue(type, bits);
  }
  os << ")";
  return os.str();
}

}  // namespace

uint64_t Input(DataType type, ReduceOp op, int rank, int n, size_t i) {
  TIDAL_CHECK(rank >= 0 && rank < n && n <= 8) << "rank " << rank << " of " << n;
  if (IsFloat(type)) {
    return EncodeFloat(type, FloatInput(type, op, rank, i));
  }
  return IntBits(type, IntInput(type, op, rank, i));
}

void FillInput(DataType type, ReduceOp op, int rank, int n, size_t first, size_t count, void* out) {
  TIDAL_CHECK(rank >= 0 && rank < n && n <= 8) << "rank " << rank << " of " << n;
  if (IsFloat(type)) {
    Fill(type, out, count,
         [&](size_t k) { return EncodeFloat(type, FloatInput(type, op, rank, first + k)); });
  } else {
    Fill(type, out, count,
         [&](size_t k) { return IntBits(type, IntInput(type, op, rank, first + k)); });
  }
}

namespace {

template <class T>
T Combine(ReduceOp op, T acc, T v) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg:
      return acc + v;  // integers: uint64_t, wrapping
    case ReduceOp::kProd:
      return acc * v;
    case ReduceOp::kMin:
      return std::min(acc, v);
    case ReduceOp::kMax:
      return std::max(acc, v);
  }
  return acc;
}

// Floating types: exact in double for every input of FloatInput; kAvg divides once at the end, in
// fp64 for fp64, else in fp32 (fp16/bf16 accumulate in fp32) and rounds once to the type.
uint64_t FloatReference(DataType type, ReduceOp op, int n, size_t i) {
  double acc = FloatInput(type, op, 0, i);
  for (int r = 1; r < n; ++r) {
    acc = Combine(op, acc, FloatInput(type, op, r, i));
  }
  if (op != ReduceOp::kAvg) {
    return EncodeFloat(type, acc);
  }
  if (type == DataType::kFloat64) {
    return EncodeFloat(type, acc / static_cast<double>(n));
  }
  const float q = static_cast<float>(acc) / static_cast<float>(n);
  if (type == DataType::kFloat16) {
    return RoundToHalf(q);
  }
  if (type == DataType::kBFloat16) {
    return RoundToBFloat16(q);
  }
  return EncodeFloat(type, static_cast<double>(q));
}

// Integer types: sums and products wrap in uint64_t (the low bits of a sum or product do not
// depend on the high ones); min/max compare values; kAvg divides the wrapped sum, as the type
// holds it, by n truncating toward zero (C++ integer division).
uint64_t IntReference(DataType type, ReduceOp op, int n, size_t i) {
  const bool ordered = op == ReduceOp::kMin || op == ReduceOp::kMax;
  uint64_t wrapped = static_cast<uint64_t>(IntElement(type, op, 0, i));
  int64_t value = IntElement(type, op, 0, i);
  for (int r = 1; r < n; ++r) {
    const int64_t v = IntElement(type, op, r, i);
    if (ordered) {
      value = Combine(op, value, v);
    } else {
      wrapped = Combine(op, wrapped, static_cast<uint64_t>(v));
    }
  }
  const uint64_t bits = ordered ? IntBits(type, value) : wrapped & Mask(type);
  if (op != ReduceOp::kAvg) {
    return bits;
  }
  return IntBits(type, IntValue(type, bits) / static_cast<int64_t>(n));
}

}  // namespace

void ReferenceReduce(DataType type, ReduceOp op, int n, size_t first, size_t count, void* out) {
  TIDAL_CHECK(n >= 1 && n <= 8) << n;
  if (IsFloat(type)) {
    Fill(type, out, count, [&](size_t k) { return FloatReference(type, op, n, first + k); });
  } else {
    Fill(type, out, count, [&](size_t k) { return IntReference(type, op, n, first + k); });
  }
}

std::vector<uint8_t> Expected(DataType type, ReduceOp op, int n, size_t first, size_t count) {
  std::vector<uint8_t> out(count * coll::DataTypeSize(type));
  ReferenceReduce(type, op, n, first, count, out.data());
  return out;
}

void FillPattern(DataType type, int rank, size_t first, size_t count, void* out) {
  const uint64_t salt = ((static_cast<uint64_t>(rank) + 1) << 40) + first;
  Fill(type, out, count, [salt](size_t k) { return MixBits(salt + k); });
}

std::vector<uint8_t> Pattern(DataType type, int rank, size_t first, size_t count) {
  std::vector<uint8_t> out(count * coll::DataTypeSize(type));
  FillPattern(type, rank, first, count, out.data());
  return out;
}

std::string CompareElements(DataType type, const void* actual, const void* expected, size_t count) {
  const size_t elem = coll::DataTypeSize(type);
  if (count == 0 || std::memcmp(actual, expected, count * elem) == 0) {
    return "";
  }
  std::ostringstream os;
  size_t wrong = 0;
  for (size_t k = 0; k < count; ++k) {
    const uint64_t a = LoadElement(type, actual, k);
    const uint64_t e = LoadElement(type, expected, k);
    if (a == e) {
      continue;
    }
    if (++wrong <= 4) {
      os << (wrong == 1 ? "" : "; ") << "[" << k << "] got " << Show(type, a) << " expected "
         << Show(type, e);
    }
  }
  return std::to_string(wrong) + " of " + std::to_string(count) + " " +
         std::string(coll::DataTypeName(type)) + " elements differ: " + os.str();
}

uint64_t EncodeFloat(DataType type, double value) {
  switch (type) {
    case DataType::kFloat64:
      return std::bit_cast<uint64_t>(value);
    case DataType::kFloat32: {
      const auto f = static_cast<float>(value);
      TIDAL_CHECK(static_cast<double>(f) == value || std::isnan(value))
          << value << " is not an fp32 value";
      return std::bit_cast<uint32_t>(f);
    }
    case DataType::kFloat16:
    case DataType::kBFloat16:
      return EncodeSmall(type, value);
    default:
      TIDAL_CHECK(false) << "not a floating type: " << static_cast<int>(type);
  }
  return 0;
}

double DecodeFloat(DataType type, uint64_t bits) {
  switch (type) {
    case DataType::kFloat64:
      return std::bit_cast<double>(bits);
    case DataType::kFloat32:
      return static_cast<double>(std::bit_cast<float>(static_cast<uint32_t>(bits)));
    case DataType::kBFloat16:
      return static_cast<double>(std::bit_cast<float>(static_cast<uint32_t>(bits & 0xFFFF) << 16));
    case DataType::kFloat16: {
      const double sign = (bits & 0x8000) != 0 ? -1.0 : 1.0;
      const int field = static_cast<int>((bits >> 10) & 0x1F);
      const auto mant = static_cast<double>(bits & 0x3FF);
      if (field == 0x1F) {
        return (bits & 0x3FF) != 0 ? std::nan("") : sign * HUGE_VAL;
      }
      if (field == 0) {
        return sign * std::ldexp(mant, -24);
      }
      return sign * std::ldexp(1024.0 + mant, field - 25);
    }
    default:
      TIDAL_CHECK(false) << "not a floating type: " << static_cast<int>(type);
  }
  return 0;
}

uint16_t RoundToHalf(float value) {
  return static_cast<uint16_t>(EncodeFloat(DataType::kFloat16, RoundSignificant(value, 11)));
}

uint16_t RoundToBFloat16(float value) {
  return static_cast<uint16_t>(EncodeFloat(DataType::kBFloat16, RoundSignificant(value, 8)));
}

uint64_t QuietNan(DataType type) {
  switch (type) {
    case DataType::kFloat64:
      return 0x7FF8000000000000ull;
    case DataType::kFloat32:
      return 0x7FC00000u;
    case DataType::kFloat16:
      return 0x7E00u;
    case DataType::kBFloat16:
      return 0x7FC0u;
    default:
      TIDAL_CHECK(false) << "not a floating type: " << static_cast<int>(type);
  }
  return 0;
}

bool IsNanBits(DataType type, uint64_t bits) {
  return IsFloat(type) && std::isnan(DecodeFloat(type, bits));
}

uint64_t LoadElement(DataType type, const void* data, size_t k) {
  const size_t elem = coll::DataTypeSize(type);
  uint64_t bits = 0;
  std::memcpy(&bits, static_cast<const uint8_t*>(data) + k * elem, elem);  // little-endian
  return bits;
}

void StoreElement(DataType type, void* data, size_t k, uint64_t bits) {
  const size_t elem = coll::DataTypeSize(type);
  std::memcpy(static_cast<uint8_t*>(data) + k * elem, &bits, elem);
}

}  // namespace tidal::testing

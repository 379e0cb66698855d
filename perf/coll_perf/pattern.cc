#include "coll_perf/pattern.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "tidal/core/check.h"

namespace tidal::perf {
namespace {

using coll::DataType;
using coll::ReduceOp;
constexpr size_t kPeriod = Pattern::kPeriod;

// The exact integer range of a floating type's sums, and how many ranks may contribute a
// factor 2^+-1 to a product before it leaves the normal range.
struct FloatLimits {
  double exact_sum;
  int exponent_ranks;
};

FloatLimits LimitsOf(DataType type) {
  switch (type) {
    case DataType::kFloat16:
      return {2048.0, 14};
    case DataType::kBFloat16:
      return {256.0, 126};
    case DataType::kFloat32:
      return {16777216.0, 126};
    default:
      return {9007199254740992.0, 1022};
  }
}

// The phase's spread: differs between ranks and phases.
size_t Spread(int rank, size_t phase) { return 7 * phase + 13 * static_cast<size_t>(rank); }

uint64_t Mix(uint64_t x) {  // splitmix64's finalizer
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Data movement: any bits, but floating types keep the exponent's top bit clear (no Inf/NaN).
uint64_t MovementBits(DataType type, int rank, size_t phase) {
  uint64_t bits = Mix(static_cast<uint64_t>(rank) * kPeriod + phase + 1);
  if (type == DataType::kFloat16 || type == DataType::kBFloat16) {
    bits &= ~(uint64_t{1} << 14);
  }
  if (type == DataType::kFloat32) {
    bits &= ~(uint64_t{1} << 30);
  }
  if (type == DataType::kFloat64) {
    bits &= ~(uint64_t{1} << 62);
  }
  return bits;
}

double FloatValue(DataType type, ReduceOp op, int n, int rank, size_t phase) {
  const FloatLimits limits = LimitsOf(type);
  const size_t spread = Spread(rank, phase);
  switch (op) {
    case ReduceOp::kSum: {
      const double contributors = std::min(static_cast<double>(n), limits.exact_sum);
      if (rank >= contributors) {
        return 0;
      }
      const auto m = static_cast<size_t>(std::clamp(limits.exact_sum / contributors, 1.0, 251.0));
      return 1.0 + static_cast<double>(spread % m);
    }
    case ReduceOp::kAvg: {  // BuildFloatPhase adds the correction to rank n-1
      const double dn = n;
      if (2 * dn > limits.exact_sum + 1) {
        return 0;
      }
      const auto m = static_cast<size_t>(std::clamp((limits.exact_sum - dn + 1) / dn, 1.0, 251.0));
      return 1.0 + static_cast<double>(spread % m);
    }
    case ReduceOp::kProd: {
      const int e = rank < limits.exponent_ranks ? static_cast<int>(spread % 3) - 1 : 0;
      const double sign = (3 * phase + static_cast<size_t>(rank)) % 4 == 1 ? -1.0 : 1.0;
      return sign * std::ldexp(1.0, e);
    }
    case ReduceOp::kMin:
    case ReduceOp::kMax:
      return static_cast<double>(static_cast<int>(spread % 251) - 125);
  }
  return 0;
}

int64_t IntValue(DataType type, ReduceOp op, int rank, size_t phase) {
  const size_t spread = Spread(rank, phase);
  if (op == ReduceOp::kProd) {
    constexpr int64_t kFactors[] = {-3, -2, -1, 1, 2, 3};
    return kFactors[spread % 6];
  }
  const int64_t base = static_cast<int64_t>(spread % 251) - 125;
  if (type == DataType::kInt32) {
    return base * 16777259;  // reaches the high bytes
  }
  if (type == DataType::kInt64) {
    return base * 1099511627791;  // likewise
  }
  return base;
}

// A value known to be exactly representable in fp16, as fp16 bits.
uint16_t EncodeHalf(double v) {
  const auto sign = static_cast<uint32_t>(std::signbit(v) ? 0x8000 : 0);
  const double a = std::fabs(v);
  if (a == 0) {
    return static_cast<uint16_t>(sign);
  }
  int e = 0;
  const double m = std::frexp(a, &e);  // a = m * 2^e, 0.5 <= m < 1
  uint32_t field = 0;
  double fraction = 0;
  if (e - 1 >= -14) {  // normal: a = (1 + mantissa / 1024) * 2^(e - 1)
    field = static_cast<uint32_t>(e - 1 + 15);
    fraction = (m * 2 - 1) * 1024;
  } else {  // subnormal: a = mantissa * 2^-24
    fraction = std::ldexp(a, 24);
  }
  const auto mantissa = static_cast<uint32_t>(fraction);
  TIDAL_CHECK(field <= 30 && static_cast<double>(mantissa) == fraction && mantissa < 1024)
      << "not exact in fp16: " << v;
  return static_cast<uint16_t>(sign | field << 10 | mantissa);
}

void StoreFloat(DataType type, double v, uint8_t* out) {
  if (type == DataType::kFloat64) {
    std::memcpy(out, &v, sizeof v);
    return;
  }
  if (type == DataType::kFloat16) {
    const uint16_t h = EncodeHalf(v);
    std::memcpy(out, &h, sizeof h);
    return;
  }
  const auto f = static_cast<float>(v);
  TIDAL_CHECK(static_cast<double>(f) == v) << "not exact in fp32: " << v;
  uint32_t bits = 0;
  std::memcpy(&bits, &f, sizeof f);
  if (type == DataType::kFloat32) {
    std::memcpy(out, &bits, sizeof bits);
    return;
  }
  TIDAL_CHECK_EQ(bits & 0xFFFFu, 0u) << "not exact in bf16: " << v;
  const auto b = static_cast<uint16_t>(bits >> 16);
  std::memcpy(out, &b, sizeof b);
}

double FoldFloat(ReduceOp op, const std::vector<double>& v) {
  double acc = op == ReduceOp::kProd ? 1.0 : 0.0;
  bool first = true;
  for (const double x : v) {
    switch (op) {
      case ReduceOp::kSum:
      case ReduceOp::kAvg:
        acc += x;
        break;
      case ReduceOp::kProd:
        acc *= x;
        break;
      case ReduceOp::kMin:
        acc = first ? x : std::min(acc, x);
        break;
      case ReduceOp::kMax:
        acc = first ? x : std::max(acc, x);
        break;
    }
    first = false;
  }
  return op == ReduceOp::kAvg ? acc / static_cast<double>(v.size()) : acc;
}

// Integer reductions in the type itself; sums and products wrap (computed unsigned).
template <typename T>
T FoldInt(ReduceOp op, const std::vector<T>& v) {
  using U = std::make_unsigned_t<T>;
  U acc = op == ReduceOp::kProd ? U{1} : U{0};
  T best{};
  bool first = true;
  for (const T x : v) {
    if (op == ReduceOp::kProd) {
      acc = static_cast<U>(acc * static_cast<U>(x));
    }
    if (op == ReduceOp::kSum || op == ReduceOp::kAvg) {
      acc = static_cast<U>(acc + static_cast<U>(x));
    }
    if (op == ReduceOp::kMin) {
      best = first ? x : std::min(best, x);
    }
    if (op == ReduceOp::kMax) {
      best = first ? x : std::max(best, x);
    }
    first = false;
  }
  if (op == ReduceOp::kMin || op == ReduceOp::kMax) {
    return best;
  }
  if (op == ReduceOp::kAvg) {
    return static_cast<T>(static_cast<int64_t>(static_cast<T>(acc)) /
                          static_cast<int64_t>(v.size()));
  }
  return static_cast<T>(acc);
}

}  // namespace

Pattern::Pattern(DataType type, std::optional<ReduceOp> op, int n, uint64_t seed)
    : elem_(coll::DataTypeSize(type)),
      n_(n),
      shift_(static_cast<size_t>((seed * 97 + 13) % kPeriod)),
      tables_(static_cast<size_t>(n + 1) * kPeriod * elem_) {
  TIDAL_CHECK_GE(n, 1);
  const auto at = [&](int table, size_t phase) {
    return tables_.data() + (static_cast<size_t>(table) * kPeriod + phase) * elem_;
  };
  for (size_t phase = 0; phase < kPeriod; ++phase) {
    if (!op) {
      for (int r = 0; r < n; ++r) {
        const uint64_t bits = MovementBits(type, r, phase);
        std::memcpy(at(r, phase), &bits, elem_);  // little-endian: the low bytes
      }
      continue;
    }
    if (coll::IsFloatingPoint(type)) {
      std::vector<double> v;
      int64_t sum = 0;
      for (int r = 0; r < n; ++r) {
        double x = FloatValue(type, *op, n, r, phase);
        sum += static_cast<int64_t>(x);
        // avg: the last rank makes the sum a multiple of n, so the quotient is exact.
        if (*op == ReduceOp::kAvg && r == n - 1) {
          x += static_cast<double>((n - sum % n) % n);
        }
        StoreFloat(type, x, at(r, phase));
        v.push_back(x);
      }
      StoreFloat(type, FoldFloat(*op, v), at(n, phase));
      continue;
    }
    const auto build = [&]<typename T>(T /*tag*/) {
      std::vector<T> v;
      for (int r = 0; r < n; ++r) {
        const auto x = static_cast<T>(IntValue(type, *op, r, phase));
        std::memcpy(at(r, phase), &x, sizeof(T));
        v.push_back(x);
      }
      const T folded = FoldInt(*op, v);
      std::memcpy(at(n, phase), &folded, sizeof(T));
    };
    switch (type) {
      case DataType::kInt8:
        build(int8_t{});
        break;
      case DataType::kUint8:
        build(uint8_t{});
        break;
      case DataType::kInt32:
        build(int32_t{});
        break;
      default:
        build(int64_t{});
        break;
    }
  }
  inverted_ = tables_;
  for (uint8_t& b : inverted_) {
    b = static_cast<uint8_t>(~b);
  }
}

const uint8_t* Pattern::Entry(int table, size_t phase, bool invert) const {
  const std::vector<uint8_t>& t = invert ? inverted_ : tables_;
  return t.data() + (static_cast<size_t>(table) * kPeriod + phase) * elem_;
}

void Pattern::Fill(void* dst, int table, size_t first, size_t count, bool invert) const {
  TIDAL_CHECK(table >= 0 && table <= n_);
  auto* out = static_cast<uint8_t*>(dst);
  size_t phase = (first % kPeriod + shift_) % kPeriod;
  while (count > 0) {
    const size_t run = std::min(count, kPeriod - phase);
    std::memcpy(out, Entry(table, phase, invert), run * elem_);
    out += run * elem_;
    count -= run;
    phase = 0;
  }
}

uint64_t Pattern::CountWrong(const void* got, int table, size_t first, size_t count,
                             bool invert) const {
  TIDAL_CHECK(table >= 0 && table <= n_);
  const auto* in = static_cast<const uint8_t*>(got);
  size_t phase = (first % kPeriod + shift_) % kPeriod;
  uint64_t wrong = 0;
  while (count > 0) {
    const size_t run = std::min(count, kPeriod - phase);
    const uint8_t* want = Entry(table, phase, invert);
    if (std::memcmp(in, want, run * elem_) != 0) {
      for (size_t k = 0; k < run; ++k) {
        wrong += std::memcmp(in + k * elem_, want + k * elem_, elem_) != 0 ? 1 : 0;
      }
    }
    in += run * elem_;
    count -= run;
    phase = 0;
  }
  return wrong;
}

}  // namespace tidal::perf

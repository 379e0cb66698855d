// Pattern: the closed-form data of the collective perf tools' checks (-c 1), and the expected
// results, computed here with plain loops, independently of tidal's reduction kernels.
//
// Element i of a buffer takes phase p = (i + shift) mod 251, where shift comes from the check's
// seed (so data left over from an earlier check never passes). Each source has one table of 251
// elements: table r (0 <= r < n) is rank r's contribution, table n the reduction of tables
// 0..n-1 under the op. 251 is prime, so no power-of-two block offset maps a block onto itself.
//
// Values (every rank and phase differs where the type's exactness allows):
//   data movement (no op): free bit patterns; floating types keep the exponent's top bit clear, so
//     no value is Inf or NaN.
//   sum     float types: integers 1..m (m <= 251) with n*m within the type's exact integer range
//           (fp16 2^11, bf16 2^8, fp32 2^24, fp64 2^53), so every partial sum is exact in any
//           order; integers: spread values, sums wrap (computed here modulo 2^width).
//   avg     as sum, and rank n-1 adds 0..n-1 so that the sum is a multiple of n: the quotient is
//           exact (floats); integers divide the wrapped sum truncating toward zero, as tidal does.
//   prod    float types: +-2^e with e in {-1, 0, 1} from at most 14 (fp16) / 126 / 1022 ranks, so
//           every partial product is exact; integers: +-1..3, products wrap.
//   min/max -125..125 (integers: scaled to reach the high bytes).
// Where a type cannot hold an exact answer for this many ranks (bf16 avg beyond 128 ranks), the
// contributions are 0.
//
// Thread safety: a Pattern is immutable after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "tidal/coll/types.h"

namespace tidal::perf {

class Pattern {
 public:
  static constexpr size_t kPeriod = 251;

  // Tables for `n` ranks; `op` unset: data movement (table n is unused).
  Pattern(coll::DataType type, std::optional<coll::ReduceOp> op, int n, uint64_t seed);

  // Index of the reduced table.
  int expected() const { return n_; }
  size_t elem_bytes() const { return elem_; }

  // dst[k] = table[(first + k + shift) mod 251] for k < count (bitwise inverted when `invert`:
  // the poison of a region that should end up equal to `table`).
  void Fill(void* dst, int table, size_t first, size_t count, bool invert = false) const;
  // The number of elements k < count with got[k] != table[(first + k + shift) mod 251] (or its
  // inversion), compared bit for bit.
  uint64_t CountWrong(const void* got, int table, size_t first, size_t count,
                      bool invert = false) const;

 private:
  const uint8_t* Entry(int table, size_t phase, bool invert) const;

  size_t elem_;
  int n_;
  size_t shift_;
  std::vector<uint8_t> tables_;    // (n + 1) tables of kPeriod elements
  std::vector<uint8_t> inverted_;  // the same, every bit flipped
};

}  // namespace tidal::perf

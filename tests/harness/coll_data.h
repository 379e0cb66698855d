// Closed-form test data for the collectives and a plain reference for their reductions.
//
//   FillInput(type, op, rank, n, first, count, send);          // rank's elements [first, +count)
//   ReferenceReduce(type, op, n, first, count, expected);      // what every rank must get
//   EXPECT_EQ(CompareElements(type, recv, expected, count), "");
//
// Input(type, op, rank, n, i) is rank `rank`'s element i (its bytes in the low DataTypeSize(type)
// bytes, as the type stores them on this little-endian host). For every (type, op):
//   - every rank's contribution differs (a block from the wrong rank or a lost step shows);
//   - every value is exactly representable in the type;
//   - the reduction over any n <= 8 ranks is exact in any order: sums and averages of small
//     integers (|v| <= 249 for fp16, whose 11 significant bits hold integers up to 2048, and
//     |v| <= 32 for bf16, whose 8 hold integers up to 256), products of {±1, ±2, ±1/2} (at most
//     2^±8), min/max trivially. Integer sums and products wrap on purpose (int8/uint8 sums, every
//     integer product): the reference wraps identically, computing in uint64_t and keeping the low
//     bits.
// kAvg follows types.h/reduce.h: the (exact, or wrapped) sum, then one division at the end:
// fp32/fp64 in their own type, fp16/bf16 in fp32 then rounded once to nearest-even, integers
// truncating toward zero.
//
// Not tidal's kernels: the reference is written independently (plain loops over ranks in double or
// uint64_t, its own fp16/bf16 encoding), and never calls tidal::coll::Reduce.
//
// Copy-only collectives (all-gather, broadcast, all-to-all, send/recv) use Pattern bytes: distinct
// per (rank, element), type only sets the element size.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tidal/coll/types.h"

namespace tidal::testing {

// The element bits of rank `rank`'s element i in a world of n ranks (see the note above).
// REQUIRES: a valid type and op, 0 <= rank < n <= 8.
uint64_t Input(coll::DataType type, coll::ReduceOp op, int rank, int n, size_t i);

// Writes elements [first, first + count) of Input(type, op, rank, n, .) to out[0, count).
void FillInput(coll::DataType type, coll::ReduceOp op, int rank, int n, size_t first, size_t count,
               void* out);

// out[k] = op over ranks 0..n-1 of Input(type, op, rank, n, first + k), k < count, with kAvg's
// final division. REQUIRES: 1 <= n <= 8.
void ReferenceReduce(coll::DataType type, coll::ReduceOp op, int n, size_t first, size_t count,
                     void* out);

// A buffer of `count` elements from ReferenceReduce.
std::vector<uint8_t> Expected(coll::DataType type, coll::ReduceOp op, int n, size_t first,
                              size_t count);

// Copy-only data: distinct bytes per (rank, element index); out[k] is element first + k.
void FillPattern(coll::DataType type, int rank, size_t first, size_t count, void* out);
std::vector<uint8_t> Pattern(coll::DataType type, int rank, size_t first, size_t count);

// "" when the count elements are bit-identical; otherwise the number of differing elements and
// the first few, with both values.
std::string CompareElements(coll::DataType type, const void* actual, const void* expected,
                            size_t count);

// Element bits <-> values for tests that build their own data. Exact: aborts when `value` is not
// representable in `type` (fp16/bf16: normal numbers and zero only).
uint64_t EncodeFloat(coll::DataType type, double value);
double DecodeFloat(coll::DataType type, uint64_t bits);
// fp16/bf16: the nearest value (ties to even) of a finite fp32 in the normal range.
uint16_t RoundToHalf(float value);
uint16_t RoundToBFloat16(float value);

// The quiet NaN of a floating type, as element bits.
uint64_t QuietNan(coll::DataType type);
bool IsNanBits(coll::DataType type, uint64_t bits);

// Reads/writes element k of a buffer (memcpy: any alignment).
uint64_t LoadElement(coll::DataType type, const void* data, size_t k);
void StoreElement(coll::DataType type, void* data, size_t k, uint64_t bits);

}  // namespace tidal::testing

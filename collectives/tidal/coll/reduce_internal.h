// Internal to the reduction kernels (reduce*.cc): the per-variant kernel table. Not for callers.
//
// Thread safety: the tables are immutable after static initialization.
#pragma once

#include <cstddef>

#include "tidal/coll/types.h"

namespace tidal::coll::internal {

// out[i] = a[i] op b[i]; pointers validated by the caller (aligned; out == a, out == b or
// disjoint).
using ReduceKernelFn = void (*)(void* out, const void* a, const void* b, size_t count);

inline constexpr size_t kNumDataTypes = 8;
inline constexpr size_t kNumReduceOps = 5;

struct ReduceKernelTable {
  ReduceKernelFn fn[kNumDataTypes * kNumReduceOps];
  ReduceKernelFn Get(DataType type, ReduceOp op) const {
    return fn[static_cast<size_t>(type) * kNumReduceOps + static_cast<size_t>(op)];
  }
};

const ReduceKernelTable& ScalarReduceKernels();
const ReduceKernelTable& Avx2ReduceKernels();
const ReduceKernelTable& Avx512ReduceKernels();

}  // namespace tidal::coll::internal

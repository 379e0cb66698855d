// The reduction kernels compiled for AVX-512F/BW; see reduce_kernels.inc for the loops and reduce.h
// for the semantics. Only reduce.cc calls this table, and only on a CPU that supports it.
//
// Thread safety: the table is immutable.
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "tidal/coll/half.h"
#include "tidal/coll/reduce_internal.h"
#include "tidal/coll/types.h"

#if defined(__x86_64__) || defined(__i386__)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw")
#endif
#endif

namespace tidal::coll::internal {
namespace {
#include "tidal/coll/reduce_kernels.inc"
}  // namespace

}  // namespace tidal::coll::internal

#if defined(__x86_64__) || defined(__i386__)
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

namespace tidal::coll::internal {
// Defined outside the target region: callable on any CPU.
const ReduceKernelTable& Avx512ReduceKernels() { return kTable; }
}  // namespace tidal::coll::internal

// CPU reduction kernels: the executor's reduction step for every DataType and ReduceOp.
//
// Semantics are those of types.h: fp16/bf16 convert to fp32, apply the op, and round to
// nearest-even once per call; integers wrap; min/max propagate NaN (if `a` is NaN the result is
// `a`, else if `b` is NaN it is `b`); sum/prod/avg likewise return `a`'s NaN, else `b`'s, quieted
// (Inf - Inf and 0 * Inf give the CPU's default NaN). kAvg reduces as kSum; the division happens
// only in FinishAvg, once, after the last step: fp32/fp64 divide in their own type, fp16/bf16
// divide in fp32 and round once, integers divide the (wrapped) sum by n truncating toward zero.
//
// Kernels exist in three variants (scalar = baseline x86-64, AVX2+F16C, AVX-512F/BW), the same
// loops compiled three times with target attributes and -ffp-contract=off (AVX2 adds F16C/AVX2
// loops for fp16/bf16 with the same operations), so every variant returns the same bits (replicated
// state across ranks must match bit for bit). The variant is chosen once, at first use: the best
// the CPU supports, or TIDAL_REDUCE_ISA=auto|scalar|avx2|avx512.
//
// REQUIRES: pointers aligned to the element size; `out` may equal `a` (or `b`) exactly, but buffers
// must not otherwise overlap. Violations, null pointers with count > 0 and unknown enums return
// kInvalidArgument.
//
// Thread safety: all functions are thread-safe (the dispatch choice is a function-local static).
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "tidal/coll/types.h"
#include "tidal/core/status.h"

namespace tidal::coll {

enum class ReduceIsa : uint8_t { kScalar, kAvx2, kAvx512 };

// "scalar", "avx2", "avx512".
std::string_view ReduceIsaName(ReduceIsa isa);
// The variants this CPU can run, scalar first.
std::span<const ReduceIsa> AvailableReduceIsas();
// The variant Reduce and ReduceInto use (chosen once, from the CPU and TIDAL_REDUCE_ISA).
ReduceIsa ActiveReduceIsa();

// inout[i] = inout[i] op in[i].
Status Reduce(DataType type, ReduceOp op, void* inout, const void* in, size_t count);
// out[i] = a[i] op b[i].
Status ReduceInto(DataType type, ReduceOp op, void* out, const void* a, const void* b,
                  size_t count);
// ReduceInto with a given variant; kInvalidArgument if this CPU cannot run it. For tests and
// benchmarks.
Status ReduceIntoIsa(ReduceIsa isa, DataType type, ReduceOp op, void* out, const void* a,
                     const void* b, size_t count);
// data[i] = data[i] / n, for kAvg after the last kSum-like step; n >= 1.
Status FinishAvg(DataType type, void* data, size_t count, int n);

// The scalar oracle for tests: one element at a time, separately written conversions; same
// semantics and bits as ReduceInto. Same validation.
Status ReduceReference(DataType type, ReduceOp op, void* out, const void* a, const void* b,
                       size_t count);

}  // namespace tidal::coll

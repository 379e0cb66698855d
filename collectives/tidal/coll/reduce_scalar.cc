// The reduction kernels compiled for baseline x86-64 (SSE2) or the host's default; see
// reduce_kernels.inc for the loops and reduce.h for the semantics. Only reduce.cc calls this table,
// and only on a CPU that supports it.
//
// Thread safety: the table is immutable.
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "tidal/coll/half.h"
#include "tidal/coll/reduce_internal.h"
#include "tidal/coll/types.h"

namespace tidal::coll::internal {
namespace {
#include "tidal/coll/reduce_kernels.inc"
}  // namespace

const ReduceKernelTable& ScalarReduceKernels() { return kTable; }

}  // namespace tidal::coll::internal

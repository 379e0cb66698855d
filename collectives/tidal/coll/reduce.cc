// Validation and runtime dispatch of the CPU reduction kernels (reduce.h), and FinishAvg.
//
// The variant is chosen once, on first use, from __builtin_cpu_supports and TIDAL_REDUCE_ISA.
//
// Thread safety: thread-safe; the choice is a function-local static (initialized once).
#include "tidal/coll/reduce.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <cstdint>
#include <string>
#include <vector>

#include "tidal/coll/half.h"
#include "tidal/coll/reduce_internal.h"
#include "tidal/core/knobs.h"
#include "tidal/core/logging.h"

namespace tidal::coll {
namespace {

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
// F16C through cpuid (leaf 1, ecx bit 29): clang 14's __builtin_cpu_supports does not know
// "f16c".
bool CpuHasF16c() {
  unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
  return (ecx & (1u << 29)) != 0;
}
#endif

bool CpuSupports(ReduceIsa isa) {
  switch (isa) {
    case ReduceIsa::kScalar:
      return true;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    case ReduceIsa::kAvx2:
      return __builtin_cpu_supports("avx2") && CpuHasF16c();
    case ReduceIsa::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
#else
    case ReduceIsa::kAvx2:
    case ReduceIsa::kAvx512:
      return false;
#endif
  }
  return false;
}

const internal::ReduceKernelTable& TableFor(ReduceIsa isa) {
  switch (isa) {
    case ReduceIsa::kAvx2:
      return internal::Avx2ReduceKernels();
    case ReduceIsa::kAvx512:
      return internal::Avx512ReduceKernels();
    case ReduceIsa::kScalar:
      break;
  }
  return internal::ScalarReduceKernels();
}

ReduceIsa ChooseIsa() {
  const ReduceIsa best = AvailableReduceIsas().back();
  const std::string wanted = KnobString(Knob::kReduceIsa);
  if (wanted.empty() || wanted == "auto") return best;
  for (ReduceIsa isa : {ReduceIsa::kScalar, ReduceIsa::kAvx2, ReduceIsa::kAvx512}) {
    if (wanted != ReduceIsaName(isa)) continue;
    if (CpuSupports(isa)) return isa;
    TIDAL_LOG(WARN, kColl) << "TIDAL_REDUCE_ISA=" << wanted << ": this CPU lacks it; using "
                           << ReduceIsaName(best);
    return best;
  }
  TIDAL_LOG(WARN, kColl) << "TIDAL_REDUCE_ISA=" << wanted
                         << " is not auto, scalar, avx2 or avx512; using " << ReduceIsaName(best);
  return best;
}

bool ValidType(DataType type) { return static_cast<size_t>(type) < internal::kNumDataTypes; }
bool ValidOp(ReduceOp op) { return static_cast<size_t>(op) < internal::kNumReduceOps; }

// Buffers must be aligned, and either identical or disjoint.
bool IdenticalOrDisjoint(const void* p, const void* q, size_t bytes) {
  const auto x = reinterpret_cast<uintptr_t>(p);
  const auto y = reinterpret_cast<uintptr_t>(q);
  return x == y || x + bytes <= y || y + bytes <= x;
}

Status Validate(DataType type, ReduceOp op, const void* out, const void* a, const void* b,
                size_t count) {
  if (!ValidType(type)) {
    return InvalidArgumentError("reduce: unknown data type ", static_cast<int>(type));
  }
  if (!ValidOp(op)) return InvalidArgumentError("reduce: unknown op ", static_cast<int>(op));
  if (count == 0) return Status::Ok();
  if (out == nullptr || a == nullptr || b == nullptr) {
    return InvalidArgumentError("reduce: null buffer with count ", count);
  }
  const size_t size = DataTypeSize(type);
  for (const void* p : {out, a, b}) {
    if (reinterpret_cast<uintptr_t>(p) % size != 0) {
      return InvalidArgumentError("reduce: buffer not aligned to ", size, " bytes");
    }
  }
  const size_t bytes = count * size;
  if (!IdenticalOrDisjoint(out, a, bytes) || !IdenticalOrDisjoint(out, b, bytes)) {
    return InvalidArgumentError("reduce: output partially overlaps an input");
  }
  return Status::Ok();
}

template <class T>
void DivideInts(void* data, size_t count, int n) {
  T* p = static_cast<T*>(data);
  const auto d = static_cast<int64_t>(n);
  for (size_t i = 0; i < count; ++i) p[i] = static_cast<T>(static_cast<int64_t>(p[i]) / d);
}

}  // namespace

namespace internal {
// Reference entry point without validation, defined in reduce_reference.cc.
void ReduceReferenceUnchecked(DataType type, ReduceOp op, void* out, const void* a, const void* b,
                              size_t count);
}  // namespace internal

std::string_view ReduceIsaName(ReduceIsa isa) {
  switch (isa) {
    case ReduceIsa::kScalar:
      return "scalar";
    case ReduceIsa::kAvx2:
      return "avx2";
    case ReduceIsa::kAvx512:
      return "avx512";
  }
  return "unknown";
}

std::span<const ReduceIsa> AvailableReduceIsas() {
  static const std::vector<ReduceIsa> available = [] {
    std::vector<ReduceIsa> isas;
    for (ReduceIsa isa : {ReduceIsa::kScalar, ReduceIsa::kAvx2, ReduceIsa::kAvx512}) {
      if (CpuSupports(isa)) isas.push_back(isa);
    }
    return isas;
  }();
  return available;
}

ReduceIsa ActiveReduceIsa() {
  static const ReduceIsa active = ChooseIsa();
  return active;
}

Status ReduceIntoIsa(ReduceIsa isa, DataType type, ReduceOp op, void* out, const void* a,
                     const void* b, size_t count) {
  if (!CpuSupports(isa)) {
    return InvalidArgumentError("reduce: this CPU cannot run the ", ReduceIsaName(isa), " kernels");
  }
  TIDAL_RETURN_IF_ERROR(Validate(type, op, out, a, b, count));
  if (count > 0) TableFor(isa).Get(type, op)(out, a, b, count);
  return Status::Ok();
}

Status ReduceInto(DataType type, ReduceOp op, void* out, const void* a, const void* b,
                  size_t count) {
  static const internal::ReduceKernelTable& table = TableFor(ActiveReduceIsa());
  TIDAL_RETURN_IF_ERROR(Validate(type, op, out, a, b, count));
  if (count > 0) table.Get(type, op)(out, a, b, count);
  return Status::Ok();
}

Status Reduce(DataType type, ReduceOp op, void* inout, const void* in, size_t count) {
  return ReduceInto(type, op, inout, inout, in, count);
}

Status ReduceReference(DataType type, ReduceOp op, void* out, const void* a, const void* b,
                       size_t count) {
  TIDAL_RETURN_IF_ERROR(Validate(type, op, out, a, b, count));
  if (count > 0) internal::ReduceReferenceUnchecked(type, op, out, a, b, count);
  return Status::Ok();
}

Status FinishAvg(DataType type, void* data, size_t count, int n) {
  if (!ValidType(type)) {
    return InvalidArgumentError("FinishAvg: unknown data type ", static_cast<int>(type));
  }
  if (n < 1) return InvalidArgumentError("FinishAvg: n must be >= 1, got ", n);
  if (count == 0) return Status::Ok();
  if (data == nullptr) return InvalidArgumentError("FinishAvg: null buffer with count ", count);
  if (reinterpret_cast<uintptr_t>(data) % DataTypeSize(type) != 0) {
    return InvalidArgumentError("FinishAvg: buffer not aligned to ", DataTypeSize(type), " bytes");
  }
  const float nf = static_cast<float>(n);
  switch (type) {
    case DataType::kFloat32: {
      auto* p = static_cast<float*>(data);
      for (size_t i = 0; i < count; ++i) p[i] = p[i] / nf;
      break;
    }
    case DataType::kFloat64: {
      auto* p = static_cast<double*>(data);
      const auto nd = static_cast<double>(n);
      for (size_t i = 0; i < count; ++i) p[i] = p[i] / nd;
      break;
    }
    case DataType::kFloat16: {
      auto* p = static_cast<uint16_t*>(data);
      for (size_t i = 0; i < count; ++i) p[i] = FloatToHalf(HalfToFloat(p[i]) / nf);
      break;
    }
    case DataType::kBFloat16: {
      auto* p = static_cast<uint16_t*>(data);
      for (size_t i = 0; i < count; ++i) p[i] = FloatToBFloat16(BFloat16ToFloat(p[i]) / nf);
      break;
    }
    case DataType::kInt8:
      DivideInts<int8_t>(data, count, n);
      break;
    case DataType::kUint8:
      DivideInts<uint8_t>(data, count, n);
      break;
    case DataType::kInt32:
      DivideInts<int32_t>(data, count, n);
      break;
    case DataType::kInt64:
      DivideInts<int64_t>(data, count, n);
      break;
  }
  return Status::Ok();
}

}  // namespace tidal::coll

// Element types and reduction operators of tidal's collectives, with their names as the perf tools
// and the C API spell them (nccl-tests' names: float, half, bfloat16, int8, ...).
//
// Semantics, documented once here and honoured by every kernel:
// - fp16 and bf16 accumulate in fp32 and round to nearest-even once per reduction step;
// - integer overflow wraps (two's complement); integer avg truncates toward zero;
// - min and max propagate NaN.
//
// Thread safety: pure values and functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "tidal/core/status.h"

namespace tidal::coll {

enum class DataType : uint8_t {
  kFloat32,
  kFloat64,
  kFloat16,
  kBFloat16,
  kInt8,
  kUint8,
  kInt32,
  kInt64
};
enum class ReduceOp : uint8_t { kSum, kProd, kMin, kMax, kAvg };

inline constexpr DataType kAllDataTypes[] = {
    DataType::kFloat32, DataType::kFloat64, DataType::kFloat16, DataType::kBFloat16,
    DataType::kInt8,    DataType::kUint8,   DataType::kInt32,   DataType::kInt64};
inline constexpr ReduceOp kAllReduceOps[] = {ReduceOp::kSum, ReduceOp::kProd, ReduceOp::kMin,
                                             ReduceOp::kMax, ReduceOp::kAvg};

// Bytes per element.
constexpr size_t DataTypeSize(DataType type) {
  switch (type) {
    case DataType::kFloat64:
    case DataType::kInt64:
      return 8;
    case DataType::kFloat32:
    case DataType::kInt32:
      return 4;
    case DataType::kFloat16:
    case DataType::kBFloat16:
      return 2;
    case DataType::kInt8:
    case DataType::kUint8:
      return 1;
  }
  return 0;
}

constexpr bool IsFloatingPoint(DataType type) {
  return type == DataType::kFloat32 || type == DataType::kFloat64 || type == DataType::kFloat16 ||
         type == DataType::kBFloat16;
}

// nccl-tests' names: "float", "double", "half", "bfloat16", "int8", "uint8", "int32", "int64".
std::string_view DataTypeName(DataType type);
// "sum", "prod", "min", "max", "avg".
std::string_view ReduceOpName(ReduceOp op);

// Accepts the names above and common aliases (fp32, float32, f32, fp16, bf16, int, ...).
// Returns kInvalidArgument listing the accepted names otherwise.
Result<DataType> ParseDataType(std::string_view name);
Result<ReduceOp> ParseReduceOp(std::string_view name);

}  // namespace tidal::coll

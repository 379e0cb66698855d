#include "tidal/coll/types.h"

#include <string>

namespace tidal::coll {
namespace {

struct TypeAlias {
  std::string_view name;
  DataType type;
};
constexpr TypeAlias kTypeAliases[] = {
    {"float", DataType::kFloat32},     {"fp32", DataType::kFloat32},
    {"float32", DataType::kFloat32},   {"f32", DataType::kFloat32},
    {"double", DataType::kFloat64},    {"fp64", DataType::kFloat64},
    {"float64", DataType::kFloat64},   {"f64", DataType::kFloat64},
    {"half", DataType::kFloat16},      {"fp16", DataType::kFloat16},
    {"float16", DataType::kFloat16},   {"f16", DataType::kFloat16},
    {"bfloat16", DataType::kBFloat16}, {"bf16", DataType::kBFloat16},
    {"int8", DataType::kInt8},         {"uint8", DataType::kUint8},
    {"int32", DataType::kInt32},       {"int", DataType::kInt32},
    {"int64", DataType::kInt64},
};

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string_view DataTypeName(DataType type) {
  switch (type) {
    case DataType::kFloat32:
      return "float";
    case DataType::kFloat64:
      return "double";
    case DataType::kFloat16:
      return "half";
    case DataType::kBFloat16:
      return "bfloat16";
    case DataType::kInt8:
      return "int8";
    case DataType::kUint8:
      return "uint8";
    case DataType::kInt32:
      return "int32";
    case DataType::kInt64:
      return "int64";
  }
  return "?";
}

std::string_view ReduceOpName(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return "sum";
    case ReduceOp::kProd:
      return "prod";
    case ReduceOp::kMin:
      return "min";
    case ReduceOp::kMax:
      return "max";
    case ReduceOp::kAvg:
      return "avg";
  }
  return "?";
}

Result<DataType> ParseDataType(std::string_view name) {
  const std::string lower = Lower(name);
  for (const TypeAlias& alias : kTypeAliases) {
    if (alias.name == lower) return alias.type;
  }
  return InvalidArgumentError("unknown data type '", name,
                              "' (expected float, double, half, bfloat16, int8, uint8, int32 or "
                              "int64)");
}

Result<ReduceOp> ParseReduceOp(std::string_view name) {
  const std::string lower = Lower(name);
  for (ReduceOp op : kAllReduceOps) {
    if (ReduceOpName(op) == lower) return op;
  }
  return InvalidArgumentError("unknown reduction '", name,
                              "' (expected sum, prod, min, max or avg)");
}

}  // namespace tidal::coll

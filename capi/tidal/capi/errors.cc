// Result codes, the per-thread last error, and the conversions of caller-supplied enums.
#include <algorithm>
#include <span>
#include <string>

#include "tidal/capi/internal.h"
#include "tidal/core/strcat.h"

namespace tidal::capi {
namespace {

// The header's values are the C++ enums' values; a change on either side fails here.
static_assert(TIDAL_OK == static_cast<int>(StatusCode::kOk));
static_assert(TIDAL_ERR_INVALID_ARGUMENT == static_cast<int>(StatusCode::kInvalidArgument));
static_assert(TIDAL_ERR_NOT_SUPPORTED == static_cast<int>(StatusCode::kNotSupported));
static_assert(TIDAL_ERR_UNAVAILABLE == static_cast<int>(StatusCode::kUnavailable));
static_assert(TIDAL_ERR_TIMED_OUT == static_cast<int>(StatusCode::kTimedOut));
static_assert(TIDAL_ERR_ABORTED == static_cast<int>(StatusCode::kAborted));
static_assert(TIDAL_ERR_IO == static_cast<int>(StatusCode::kIoError));
static_assert(TIDAL_ERR_INTERNAL == static_cast<int>(StatusCode::kInternal));

static_assert(TIDAL_DTYPE_FLOAT32 == static_cast<int>(coll::DataType::kFloat32));
static_assert(TIDAL_DTYPE_FLOAT64 == static_cast<int>(coll::DataType::kFloat64));
static_assert(TIDAL_DTYPE_FLOAT16 == static_cast<int>(coll::DataType::kFloat16));
static_assert(TIDAL_DTYPE_BFLOAT16 == static_cast<int>(coll::DataType::kBFloat16));
static_assert(TIDAL_DTYPE_INT8 == static_cast<int>(coll::DataType::kInt8));
static_assert(TIDAL_DTYPE_UINT8 == static_cast<int>(coll::DataType::kUint8));
static_assert(TIDAL_DTYPE_INT32 == static_cast<int>(coll::DataType::kInt32));
static_assert(TIDAL_DTYPE_INT64 == static_cast<int>(coll::DataType::kInt64));

static_assert(TIDAL_OP_SUM == static_cast<int>(coll::ReduceOp::kSum));
static_assert(TIDAL_OP_PROD == static_cast<int>(coll::ReduceOp::kProd));
static_assert(TIDAL_OP_MIN == static_cast<int>(coll::ReduceOp::kMin));
static_assert(TIDAL_OP_MAX == static_cast<int>(coll::ReduceOp::kMax));
static_assert(TIDAL_OP_AVG == static_cast<int>(coll::ReduceOp::kAvg));

static_assert(TIDAL_ALGO_AUTO == static_cast<int>(coll::Algorithm::kAuto));
static_assert(TIDAL_ALGO_RING == static_cast<int>(coll::Algorithm::kRing));
static_assert(TIDAL_ALGO_DIRECT == static_cast<int>(coll::Algorithm::kDirect));
static_assert(TIDAL_ALGO_CHAIN == static_cast<int>(coll::Algorithm::kChain));
static_assert(TIDAL_ALGO_PAIRWISE == static_cast<int>(coll::Algorithm::kPairwise));
static_assert(TIDAL_ALGO_SHM == static_cast<int>(coll::Algorithm::kShm));
static_assert(TIDAL_ALGO_HIER == static_cast<int>(coll::Algorithm::kHier));

thread_local std::string last_error;

// The largest value that fits the C++ enums' uint8_t.
constexpr int kMaxEnumValue = 255;

}  // namespace

tidal_result_t ToResult(StatusCode code) { return static_cast<tidal_result_t>(code); }

tidal_result_t Report(std::string_view fn, const Status& status) {
  if (status.ok()) return TIDAL_OK;
  last_error = StrCat(fn, ": ", status.message());
  return ToResult(status.code());
}

Status CheckNotNull(const void* p, std::string_view what) {
  if (p != nullptr) return Status::Ok();
  return InvalidArgumentError(what, " is NULL");
}

Result<Communicator*> GetComm(tidal_comm_t comm) {
  if (comm == nullptr || comm->comm == nullptr) {
    return InvalidArgumentError("comm is NULL");
  }
  return comm->comm.get();
}

Result<coll::DataType> ToDataType(tidal_datatype_t type) {
  const int value = type;
  if (value < 0 || value > kMaxEnumValue) {
    return InvalidArgumentError("unknown data type ", value, " (tidal_datatype_t)");
  }
  return static_cast<coll::DataType>(value);
}

Result<coll::ReduceOp> ToReduceOp(tidal_redop_t op) {
  const int value = op;
  if (value < 0 || value > kMaxEnumValue) {
    return InvalidArgumentError("unknown reduction op ", value, " (tidal_redop_t)");
  }
  return static_cast<coll::ReduceOp>(value);
}

coll::CollOptions OptionsFor(const tidal_comm& comm, coll::CollKind kind) {
  coll::CollOptions options;
  const std::span<const coll::Algorithm> has = coll::AlgorithmsFor(kind);
  if (std::find(has.begin(), has.end(), comm.algorithm) != has.end()) {
    options.algorithm = comm.algorithm;
  }
  return options;
}

}  // namespace tidal::capi

extern "C" {

const char* tidal_status_string(tidal_result_t result) {
  switch (result) {
    case TIDAL_OK:
      return "OK";
    case TIDAL_ERR_INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case TIDAL_ERR_NOT_SUPPORTED:
      return "NOT_SUPPORTED";
    case TIDAL_ERR_UNAVAILABLE:
      return "UNAVAILABLE";
    case TIDAL_ERR_TIMED_OUT:
      return "TIMED_OUT";
    case TIDAL_ERR_ABORTED:
      return "ABORTED";
    case TIDAL_ERR_IO:
      return "IO_ERROR";
    case TIDAL_ERR_INTERNAL:
      return "INTERNAL";
  }
  return "UNKNOWN";
}

const char* tidal_last_error(void) { return tidal::capi::last_error.c_str(); }

size_t tidal_datatype_size(tidal_datatype_t type) {
  const int value = type;
  if (value < TIDAL_DTYPE_FLOAT32 || value > TIDAL_DTYPE_INT64) return 0;
  return tidal::coll::DataTypeSize(static_cast<tidal::coll::DataType>(value));
}

}  // extern "C"

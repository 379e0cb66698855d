// The C API's plumbing (tidal.h): what its opaque handles hold, and how a C entry point turns a
// tidal::Status into a tidal_result_t and this thread's last error. Not for users; only the
// capi/tidal/capi/*.cc files include it.
//
// Every entry point runs its body through Run(): the body returns a Status, Run() records a
// failure as "<C function>: <message>" and returns the code. Run() also catches any exception
// (std::bad_alloc from the standard library) so that none crosses the C boundary: it becomes
// TIDAL_ERR_INTERNAL.
//
// Thread safety: the last error is thread_local; handles follow tidal.h's rules.
#pragma once

#include <tidal.h>

#include <exception>
#include <memory>
#include <string_view>

#include "tidal/coll/algorithm.h"
#include "tidal/coll/collectives.h"
#include "tidal/coll/types.h"
#include "tidal/comm/communicator.h"
#include "tidal/comm/work.h"
#include "tidal/core/status.h"

// What a tidal_comm_t points to: the communicator and the C API's per-communicator choices.
struct tidal_comm {
  std::unique_ptr<tidal::Communicator> comm;
  // The algorithm the collectives that have it run with (tidal_comm_set_algorithm).
  tidal::coll::Algorithm algorithm = tidal::coll::Algorithm::kAuto;
};

// What a tidal_work_t points to.
struct tidal_work {
  tidal::Work work;
  // Whether tidal_work_wait/_test already returned the operation's result to the caller.
  bool reported = false;
};

namespace tidal::capi {

tidal_result_t ToResult(StatusCode code);

// OK: TIDAL_OK. Otherwise records "<fn>: <message>" as this thread's last error and returns the
// code.
tidal_result_t Report(std::string_view fn, const Status& status);

// Runs `body` (a callable returning Status) and reports its status; exceptions become
// TIDAL_ERR_INTERNAL.
template <typename Body>
tidal_result_t Run(std::string_view fn, Body&& body) noexcept {
  try {
    return Report(fn, body());
  } catch (const std::exception& e) {
    return Report(fn, InternalError("unexpected exception: ", e.what()));
  } catch (...) {
    return Report(fn, InternalError("unexpected exception"));
  }
}

// kInvalidArgument naming `what` when `p` is null.
Status CheckNotNull(const void* p, std::string_view what);

// The communicator behind a handle; kInvalidArgument for NULL.
Result<Communicator*> GetComm(tidal_comm_t comm);

// Caller-supplied enum values. Values outside 0..255 are rejected here, before the cast to the
// C++ enums (uint8_t underneath); the rest pass through, and the collectives reject the values
// they do not define, naming rank and operation.
Result<coll::DataType> ToDataType(tidal_datatype_t type);
Result<coll::ReduceOp> ToReduceOp(tidal_redop_t op);

// The options of one collective issued through the C API on `comm`: its algorithm when `kind`
// has it, else kAuto.
coll::CollOptions OptionsFor(const tidal_comm& comm, coll::CollKind kind);

}  // namespace tidal::capi

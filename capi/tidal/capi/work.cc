// tidal.h's work handles over tidal::Work.
#include "tidal/capi/internal.h"
#include "tidal/core/time.h"

using tidal::InvalidArgumentError;
using tidal::Status;
using tidal::capi::CheckNotNull;
using tidal::capi::Run;

extern "C" {

tidal_result_t tidal_work_wait(tidal_work_t work) {
  return Run("tidal_work_wait", [&]() -> Status {
    TIDAL_RETURN_IF_ERROR(CheckNotNull(work, "work"));
    work->reported = true;
    return work->work.Wait();
  });
}

tidal_result_t tidal_work_wait_timeout(tidal_work_t work, int64_t timeout_ms) {
  return Run("tidal_work_wait_timeout", [&]() -> Status {
    TIDAL_RETURN_IF_ERROR(CheckNotNull(work, "work"));
    if (timeout_ms < 0) return InvalidArgumentError("timeout_ms ", timeout_ms, " is negative");
    work->reported = true;
    return work->work.Wait(tidal::Deadline::AfterMs(timeout_ms));
  });
}

tidal_result_t tidal_work_test(tidal_work_t work, int* done) {
  return Run("tidal_work_test", [&]() -> Status {
    TIDAL_RETURN_IF_ERROR(CheckNotNull(work, "work"));
    TIDAL_RETURN_IF_ERROR(CheckNotNull(done, "done"));
    *done = 0;
    if (!work->work.Test()) return Status::Ok();
    *done = 1;
    work->reported = true;
    return work->work.status();
  });
}

tidal_result_t tidal_work_free(tidal_work_t work) {
  return Run("tidal_work_free", [&]() -> Status {
    if (work == nullptr) return Status::Ok();
    // Wait() before delete: an unfinished operation's buffers are still in use.
    Status waited = work->work.Wait();
    const bool reported = work->reported;
    delete work;
    return reported ? Status::Ok() : waited;
  });
}

}  // extern "C"

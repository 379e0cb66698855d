// tidal.h's communicator functions over tidal::Communicator.
#include <chrono>
#include <memory>
#include <utility>

#include "tidal/capi/internal.h"

using tidal::Communicator;
using tidal::InvalidArgumentError;
using tidal::Status;
using tidal::capi::CheckNotNull;
using tidal::capi::GetComm;
using tidal::capi::Run;

namespace {

// Reads one int-valued accessor of `comm` into *out.
template <typename Get>
tidal_result_t ReadInt(std::string_view fn, tidal_comm_t comm, int* out, Get get) {
  return Run(fn, [&]() -> Status {
    TIDAL_ASSIGN_OR_RETURN(Communicator * c, GetComm(comm));
    TIDAL_RETURN_IF_ERROR(CheckNotNull(out, "the out-pointer"));
    *out = get(*c);
    return Status::Ok();
  });
}

// Wraps a new communicator in a handle that starts with `parent`'s choices (if any).
tidal_comm_t NewHandle(std::unique_ptr<Communicator> comm, const tidal_comm* parent) {
  auto handle = std::make_unique<tidal_comm>();
  handle->comm = std::move(comm);
  if (parent != nullptr) handle->algorithm = parent->algorithm;
  return handle.release();
}

}  // namespace

extern "C" {

tidal_result_t tidal_comm_init_from_env(tidal_comm_t* out) {
  return Run("tidal_comm_init_from_env", [&]() -> Status {
    TIDAL_RETURN_IF_ERROR(CheckNotNull(out, "out"));
    *out = nullptr;
    TIDAL_ASSIGN_OR_RETURN(std::unique_ptr<Communicator> world, Communicator::CreateWorld());
    *out = NewHandle(std::move(world), nullptr);
    return Status::Ok();
  });
}

tidal_result_t tidal_comm_destroy(tidal_comm_t comm) {
  return Run("tidal_comm_destroy", [&]() -> Status {
    delete comm;
    return Status::Ok();
  });
}

tidal_result_t tidal_comm_rank(tidal_comm_t comm, int* rank) {
  return ReadInt("tidal_comm_rank", comm, rank, [](const Communicator& c) { return c.rank(); });
}

tidal_result_t tidal_comm_size(tidal_comm_t comm, int* size) {
  return ReadInt("tidal_comm_size", comm, size, [](const Communicator& c) { return c.size(); });
}

tidal_result_t tidal_comm_local_rank(tidal_comm_t comm, int* local_rank) {
  return ReadInt("tidal_comm_local_rank", comm, local_rank,
                 [](const Communicator& c) { return c.local_rank(); });
}

tidal_result_t tidal_comm_local_size(tidal_comm_t comm, int* local_size) {
  return ReadInt("tidal_comm_local_size", comm, local_size,
                 [](const Communicator& c) { return c.local_size(); });
}

tidal_result_t tidal_comm_split(tidal_comm_t comm, int color, int key, tidal_comm_t* out) {
  return Run("tidal_comm_split", [&]() -> Status {
    TIDAL_RETURN_IF_ERROR(CheckNotNull(out, "out"));
    *out = nullptr;
    TIDAL_ASSIGN_OR_RETURN(Communicator * c, GetComm(comm));
    TIDAL_ASSIGN_OR_RETURN(std::unique_ptr<Communicator> sub, c->Split(color, key));
    if (sub != nullptr) *out = NewHandle(std::move(sub), comm);
    return Status::Ok();
  });
}

tidal_result_t tidal_comm_abort(tidal_comm_t comm, const char* why) {
  return Run("tidal_comm_abort", [&]() -> Status {
    TIDAL_ASSIGN_OR_RETURN(Communicator * c, GetComm(comm));
    c->Abort(tidal::AbortedError(why != nullptr ? why : "tidal_comm_abort"));
    return Status::Ok();
  });
}

tidal_result_t tidal_comm_set_timeout(tidal_comm_t comm, int64_t timeout_ms) {
  return Run("tidal_comm_set_timeout", [&]() -> Status {
    TIDAL_ASSIGN_OR_RETURN(Communicator * c, GetComm(comm));
    if (timeout_ms <= 0) {
      return InvalidArgumentError("timeout_ms ", timeout_ms, " is not positive");
    }
    c->set_timeout(std::chrono::milliseconds(timeout_ms));
    return Status::Ok();
  });
}

tidal_result_t tidal_comm_set_algorithm(tidal_comm_t comm, tidal_algorithm_t algorithm) {
  return Run("tidal_comm_set_algorithm", [&]() -> Status {
    TIDAL_RETURN_IF_ERROR(GetComm(comm));
    const int value = algorithm;
    if (value < TIDAL_ALGO_AUTO || value > TIDAL_ALGO_HIER) {
      return InvalidArgumentError("unknown algorithm ", value, " (tidal_algorithm_t)");
    }
    comm->algorithm = static_cast<tidal::coll::Algorithm>(value);
    return Status::Ok();
  });
}

}  // extern "C"

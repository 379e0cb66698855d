// The inline small-message AllReduce: a blocking on-host AllReduce that runs on the caller's
// thread without the progress engine (no task, no Work, no allocation), through the one-shot
// shared-memory protocol (shm/shm_oneshot.h).
//
// It applies when every condition holds: the communicator already has its on-host state (the
// first on-host AllReduce went the ordinary way and attached the segment) and it is not broken;
// the selected algorithm is shm; the buffer is within TIDAL_SHM_ONESHOT_BYTES; no delay; the
// result buffer is aligned to the element size; TIDAL_CHECK_COLLECTIVES is off; and the
// communicator is idle (nothing issued before is still running), so running now keeps the stream
// order. Otherwise the caller takes the ordinary path. Both run the same protocol on the same
// round counter, so ranks may take different paths for the same operation.
//
// Thread safety: the thread that issues operations on `comm`.
#pragma once

#include <cstddef>
#include <optional>

#include "tidal/coll/collectives.h"

namespace tidal::coll::internal {

// The operation's status when it ran inline; nullopt when the ordinary path must run it (nothing
// happened then: no sequence number was taken).
std::optional<Status> TryAllReduceInline(Communicator& comm, const void* send, void* recv,
                                         size_t count, DataType type, ReduceOp op,
                                         const CollOptions& options);

}  // namespace tidal::coll::internal

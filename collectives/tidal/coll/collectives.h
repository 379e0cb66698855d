// tidal's collectives: the C++ API (the C API in tidal.h wraps it).
//
//   auto comm = tidal::Communicator::CreateWorld();            // Result<unique_ptr<...>>
//   TIDAL_RETURN_IF_ERROR(tidal::coll::AllReduce(**comm, grads, grads, n,
//                                                DataType::kFloat32, ReduceOp::kSum));
//
// Semantics (types.h): types fp32, fp64, fp16, bf16, int8, uint8, int32, int64; ops sum, prod,
// min, max, avg. fp16/bf16 accumulate in fp32 and round once per reduction step; integer
// overflow wraps; integer avg truncates toward zero; min and max propagate NaN. Every rank ends
// with bit-identical results, whatever the algorithm (the owner's bytes are copied, never
// recomputed).
//
// Buffers: `send` and `recv` are host memory. In place: pass the same pointer (AllGather: send ==
// recv + rank * count elements). Counts are elements, not bytes. A count of 0 is a valid
// operation that still takes its place in the stream. Every call with a non-zero count needs
// non-null buffers.
//
// Asynchronous: the *Async functions return a Work (runtime/tidal/comm/work.h); the buffers
// belong to tidal until it finished. The blocking functions are Async + Wait(deadline).
// Operations on a communicator run and finish in issue order; different communicators progress
// independently (ordered_task.h).
//
// Errors: kInvalidArgument naming rank, operation and argument for bad arguments (null buffer
// with count > 0, unknown type or op, root or peer out of range, counts that do not fit); a
// peer's death, a timeout or an abort as described in communicator.h. With
// TIDAL_CHECK_COLLECTIVES=1 the members first compare each operation's signature (kind, count,
// type, op, root) and fail with kInvalidArgument naming the first rank that disagrees.
//
// Thread safety: as Communicator: one thread at a time issues operations on a communicator.
// Owned-shard callbacks run on whichever thread drives the engine (the caller's, or the
// progress thread for asynchronous calls).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "tidal/coll/algorithm.h"
#include "tidal/coll/schedule/schedule.h"
#include "tidal/coll/types.h"
#include "tidal/comm/communicator.h"
#include "tidal/comm/work.h"
#include "tidal/core/status.h"
#include "tidal/core/time.h"

namespace tidal::coll {

struct CollOptions {
  // kAuto: selection (algorithm.h); anything else forces that algorithm (kInvalidArgument when
  // the collective does not have it).
  Algorithm algorithm = Algorithm::kAuto;
  // Blocking calls: their deadline (default: now + comm.timeout()).
  std::optional<Deadline> deadline;
  // > 0: this rank's part of the operation starts no earlier than `delay` after it was issued
  // (and after the operations before it), as if its link added that latency. The wait happens
  // on whichever thread drives the engine, so an asynchronous operation hides it behind the
  // caller's compute while a blocking one pays it. For benchmarks of stragglers and slow links.
  std::chrono::microseconds delay{0};
  // When set: this rank's part starts only once ready() returns true (polled by the engine's
  // driver, after the operations before it finished and the delay passed); an error fails the
  // operation with it. For inputs that something outside tidal still produces (a device-to-host
  // copy on a CUDA stream). Runs on the engine's driving thread; must not block.
  std::function<Result<bool>()> ready;
  // When set: called once on the engine's driving thread with this rank's final status when the
  // operation finished, successfully or not. After a success it has run before the Work reports
  // finished; after a failure or a timed-out Wait it may run later, once the engine has stopped
  // the operation (Work::task()->finished()). For releasing a consumer outside tidal (queuing the
  // CUDA copy of the result). Must not block or issue operations.
  std::function<void(const Status&)> on_finish;
};

// recv[i] = op over ranks of send[i], i < count, on every rank.
Status AllReduce(Communicator& comm, const void* send, void* recv, size_t count, DataType type,
                 ReduceOp op, const CollOptions& options = {});
Result<Work> AllReduceAsync(Communicator& comm, const void* send, void* recv, size_t count,
                            DataType type, ReduceOp op, const CollOptions& options = {});

// The owned-shard AllReduce (ALGORITHMS.md §0; the fused optimizers stand on it). Reduce-scatter,
// then `on_shard(range, shard)` on this rank's fully reduced owned range, then all-gather of the
// result: every rank ends with the bytes each owner left in its range. The range is
// OwnedRange(comm.ring_position(), comm.size(), count) for every algorithm (ring, direct, shm,
// hier); `shard` points at recv + range.begin elements (avg is already divided). A non-OK return
// fails the operation on this rank (the others then fail or time out).
using ShardFn = std::function<Status(ElementRange range, void* shard)>;
Status AllReduceOwned(Communicator& comm, const void* send, void* recv, size_t count, DataType type,
                      ReduceOp op, ShardFn on_shard, const CollOptions& options = {});
Result<Work> AllReduceOwnedAsync(Communicator& comm, const void* send, void* recv, size_t count,
                                 DataType type, ReduceOp op, ShardFn on_shard,
                                 const CollOptions& options = {});

// send holds size() * recv_count elements; rank r receives the reduction of block r.
Status ReduceScatter(Communicator& comm, const void* send, void* recv, size_t recv_count,
                     DataType type, ReduceOp op, const CollOptions& options = {});
Result<Work> ReduceScatterAsync(Communicator& comm, const void* send, void* recv, size_t recv_count,
                                DataType type, ReduceOp op, const CollOptions& options = {});

// recv holds size() * send_count elements; block r is rank r's send buffer.
Status AllGather(Communicator& comm, const void* send, void* recv, size_t send_count, DataType type,
                 const CollOptions& options = {});
Result<Work> AllGatherAsync(Communicator& comm, const void* send, void* recv, size_t send_count,
                            DataType type, const CollOptions& options = {});

// Rank r contributes recv_counts[r] elements (its send_count must equal it), placed at
// displs[r] in recv (empty displs: packed in rank order). recv_counts and displs have size()
// entries, identical on every rank; the blocks must not overlap.
Status AllGatherV(Communicator& comm, const void* send, size_t send_count, void* recv,
                  std::span<const size_t> recv_counts, std::span<const size_t> displs,
                  DataType type, const CollOptions& options = {});
Result<Work> AllGatherVAsync(Communicator& comm, const void* send, size_t send_count, void* recv,
                             std::span<const size_t> recv_counts, std::span<const size_t> displs,
                             DataType type, const CollOptions& options = {});

// recv = root's send on every rank (the root: in place when send == recv; other ranks ignore
// send).
Status Broadcast(Communicator& comm, const void* send, void* recv, size_t count, DataType type,
                 int root, const CollOptions& options = {});
Result<Work> BroadcastAsync(Communicator& comm, const void* send, void* recv, size_t count,
                            DataType type, int root, const CollOptions& options = {});

// The root's recv = op over ranks of send; other ranks' recv is not touched (may be null).
Status Reduce(Communicator& comm, const void* send, void* recv, size_t count, DataType type,
              ReduceOp op, int root, const CollOptions& options = {});
Result<Work> ReduceAsync(Communicator& comm, const void* send, void* recv, size_t count,
                         DataType type, ReduceOp op, int root, const CollOptions& options = {});

// Block r of send (count elements) goes to rank r; block s of recv comes from rank s. send and
// recv may overlap (in place): the send buffer is then first copied to scratch.
Status AllToAll(Communicator& comm, const void* send, void* recv, size_t count, DataType type,
                const CollOptions& options = {});
Result<Work> AllToAllAsync(Communicator& comm, const void* send, void* recv, size_t count,
                           DataType type, const CollOptions& options = {});

// send_counts[r] elements at send_displs[r] go to rank r; recv_counts[s] elements from rank s
// land at recv_displs[s]. Each span has size() entries; recv_counts[s] on this rank must equal
// send_counts[this rank] on rank s (a mismatch fails with kIoError or, with
// TIDAL_CHECK_COLLECTIVES, is named).
Status AllToAllV(Communicator& comm, const void* send, std::span<const size_t> send_counts,
                 std::span<const size_t> send_displs, void* recv,
                 std::span<const size_t> recv_counts, std::span<const size_t> recv_displs,
                 DataType type, const CollOptions& options = {});
Result<Work> AllToAllVAsync(Communicator& comm, const void* send,
                            std::span<const size_t> send_counts,
                            std::span<const size_t> send_displs, void* recv,
                            std::span<const size_t> recv_counts,
                            std::span<const size_t> recv_displs, DataType type,
                            const CollOptions& options = {});

Status Barrier(Communicator& comm, const CollOptions& options = {});
Result<Work> BarrierAsync(Communicator& comm, const CollOptions& options = {});

// Typed point-to-point messages (Communicator::Send/Recv count bytes). FIFO per (peer, tag).
// From `options` they take only the deadline: a delay, ready or on_finish is kInvalidArgument.
Status Send(Communicator& comm, const void* buf, size_t count, DataType type, int peer,
            uint32_t tag = 0, const CollOptions& options = {});
Result<Work> SendAsync(Communicator& comm, const void* buf, size_t count, DataType type, int peer,
                       uint32_t tag = 0);
Status Recv(Communicator& comm, void* buf, size_t count, DataType type, int peer, uint32_t tag = 0,
            const CollOptions& options = {});
Result<Work> RecvAsync(Communicator& comm, void* buf, size_t count, DataType type, int peer,
                       uint32_t tag = 0);

}  // namespace tidal::coll

#include "tidal/coll/allreduce_inline.h"

#include "tidal/coll/launch.h"
#include "tidal/coll/shm/shm_allreduce.h"
#include "tidal/coll/shm/shm_oneshot.h"
#include "tidal/core/knobs.h"

namespace tidal::coll::internal {

std::optional<Status> TryAllReduceInline(Communicator& comm, const void* send, void* recv,
                                         size_t count, DataType type, ReduceOp op,
                                         const CollOptions& options) {
  // Hooks need the engine (ordered_task.h): only a plain operation may run inline.
  if (options.delay.count() > 0 || options.ready || options.on_finish) return std::nullopt;
  if (options.algorithm != Algorithm::kAuto && options.algorithm != Algorithm::kShm) {
    return std::nullopt;
  }
  // Only the on-host path keeps state in coll_state() (shm_allreduce.h), and only on one host.
  auto* state = static_cast<ShmState*>(comm.coll_state().get());
  if (state == nullptr || state->broken) return std::nullopt;
  const CollKind kind = CollKind::kAllReduce;
  if (!CheckType(comm, kind, type).ok() || !CheckOp(comm, kind, op).ok()) return std::nullopt;
  const size_t bytes = count * DataTypeSize(type);
  if (!UsesOneShot(*state, bytes, /*owned=*/false) || !Aligned(recv, type)) return std::nullopt;
  if (!CheckBuffer(comm, kind, send, count, "send").ok() ||
      !CheckBuffer(comm, kind, recv, count, "recv").ok()) {
    return std::nullopt;  // the ordinary path reports it
  }
  // Without TIDAL_ALGO* and TIDAL_CHECK_COLLECTIVES in the environment (one pass over it), the
  // selection is shm (a one-host communicator) and there is no signature check: skip reading
  // the knobs, which would cost several getenv calls per operation.
  if (AnyEnvWithPrefix("TIDAL_ALGO") || AnyEnvWithPrefix("TIDAL_CHECK_COLLECTIVES")) {
    HostShape one_host;
    one_host.hosts = 1;
    one_host.ranks_per_host = comm.size();
    Result<Algorithm> chosen =
        SelectAlgorithm(kind, options.algorithm, bytes, comm.size(), one_host);
    if (!chosen.ok() || *chosen != Algorithm::kShm) return std::nullopt;
    Result<bool> check = KnobBool(Knob::kCheckCollectives, false);
    if (!check.ok() || *check) return std::nullopt;
  }
  if (!comm.idle()) return std::nullopt;
  InlineOneShot args;
  args.type = type;
  args.op = op;
  args.count = count;
  args.send = send;
  args.recv = recv;
  args.seq = comm.NextOpSeq();
  return RunOneShotInline(comm, *state, args,
                          options.deadline ? *options.deadline : comm.NextDeadline());
}

}  // namespace tidal::coll::internal

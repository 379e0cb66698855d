#include "tidal/coll/shm/shm_oneshot.h"

#include <atomic>
#include <cstring>

#include "tidal/coll/reduce.h"
#include "tidal/coll/shm/shm_allreduce.h"
#include "tidal/transport/wait.h"

namespace tidal::coll {
namespace {

std::string Name(const Communicator& comm, const InlineOneShot& a) {
  return StrCat("allreduce #", a.seq, " of comm ", comm.id(), " (", a.count, " x ",
                DataTypeName(a.type), ", ", ReduceOpName(a.op), ", shm one-shot)");
}

// Waits until every rank's counter reaches `round`. Spins (or yields, when oversubscribed or in
// cooperative mode) and every 256 polls checks the deadline, an abort and deaths of members.
Status AwaitAll(Communicator& comm, ShmState& state, bool posted, uint64_t round, Deadline deadline,
                const InlineOneShot& args) {
  ShmSegment& seg = *state.segment;
  MemoryWaitBackoff backoff(state.oversubscribed);
  const size_t deaths = comm.engine().learned_death_count();
  int q = 0;
  for (uint32_t polls = 0;; ++polls) {
    q = seg.FirstBelow(posted, round, q);
    if (q < 0) return Status::Ok();
    backoff.Pause();
    if ((polls & 255) != 255) continue;
    if (comm.engine().aborted()) {
      return AbortedError("rank ", comm.rank(), ": ", Name(comm, args), ": aborted");
    }
    if (comm.engine().learned_death_count() != deaths) {
      for (const Death& death : comm.engine().LearnedDeaths()) {
        for (int r = 0; r < comm.size(); ++r) {
          if (comm.world_rank(r) == death.rank) {
            return Status(death.why.code(), StrCat("rank ", comm.rank(), ": ", Name(comm, args),
                                                   ": ", death.why.message()));
          }
        }
      }
    }
    if (deadline.Expired()) {
      return TimedOutError("rank ", comm.rank(), ": timed out in ", Name(comm, args),
                           " waiting for rank ", q, posted ? " to post its data" : " to finish",
                           " (round ", round, ")");
    }
  }
}

}  // namespace

void OneShotWrite(ShmSegment& seg, int me, int set, const void* src, size_t bytes) {
  if (bytes > 0) std::memcpy(seg.slot(me, set), src, bytes);
}

Status OneShotReduce(ShmSegment& seg, int set, DataType type, ReduceOp op, void* out,
                     size_t count) {
  if (count == 0) return Status::Ok();
  TIDAL_RETURN_IF_ERROR(ReduceInRankOrder(
      type, op, out, seg.size(), [&](int q) { return seg.slot(q, set); }, count));
  if (op == ReduceOp::kAvg) TIDAL_RETURN_IF_ERROR(FinishAvg(type, out, count, seg.size()));
  return Status::Ok();
}

bool UsesOneShot(const ShmState& state, size_t bytes, bool owned) {
  // Every rank reads all n slots: past four times the threshold in total, the fused two-round
  // protocol costs less. Measured 2026-11-26 with vectorized reductions (interleaved, 3 rounds):
  // 8 ranks at 16 KiB 33-66 us one-shot against 54-121 us fused, 4 ranks at 32 KiB 13-21 us
  // against 21-45 us. (Twice the threshold, the earlier rule, was tuned with scalar reductions.)
  const size_t n = static_cast<size_t>(state.segment->size());
  return !owned && bytes <= state.one_shot_bytes && bytes * n <= 4 * state.one_shot_bytes &&
         bytes <= state.segment->slot_bytes();
}

Status RunOneShotInline(Communicator& comm, ShmState& state, const InlineOneShot& args,
                        Deadline deadline) {
  ShmSegment& seg = *state.segment;
  const int me = comm.rank();
  const uint64_t t = ++state.rounds_issued;
  const int set = static_cast<int>(t % 2);
  Status st;
  if (t > 2) st = AwaitAll(comm, state, /*posted=*/false, t - 2, deadline, args);
  if (st.ok()) {
    OneShotWrite(seg, me, set, args.send, args.count * DataTypeSize(args.type));
    seg.posted(me).store(t, std::memory_order_release);
    st = AwaitAll(comm, state, /*posted=*/true, t, deadline, args);
  }
  if (st.ok()) {
    st = OneShotReduce(seg, set, args.type, args.op, args.recv, args.count);
    if (!st.ok())
      st = Status(st.code(), StrCat("rank ", me, ": ", Name(comm, args), ": ", st.message()));
  }
  if (!st.ok()) {
    state.broken = true;
    return st;
  }
  seg.done(me).store(t, std::memory_order_release);
  return Status::Ok();
}

}  // namespace tidal::coll

#include "tidal/coll/shm/shm_oneshot.h"

#include <atomic>
#include <cstring>

#include "tidal/coll/reduce.h"
#include "tidal/coll/shm/shm_allreduce.h"
#include "tidal/transport/wait.h"

namespace tidal::coll {
namespace {

std::string Name(const Communicator& comm, const ShmState& state, const InlineOneShot& a) {
  return StrCat("allreduce #", a.seq, " of comm ", comm.id(), " (", a.count, " x ",
                DataTypeName(a.type), ", ", ReduceOpName(a.op), ", shm one-shot",
                state.last_arriver ? ", last arriver reduces" : "", ")");
}

// Polls `blocker` (which returns the rank still awaited, kResult for the last arriver's result,
// or -1 when nothing is left to wait for) until it returns -1. Spins (or yields, when
// oversubscribed or in cooperative mode) and every 256 polls checks the deadline, an abort and
// deaths of members.
constexpr int kResult = -2;

template <class Blocker>
Status Await(Communicator& comm, ShmState& state, Blocker blocker, std::string_view waiting_for,
             uint64_t round, Deadline deadline, const InlineOneShot& args) {
  MemoryWaitBackoff backoff(state.oversubscribed);
  const size_t deaths = comm.engine().learned_death_count();
  for (uint32_t polls = 0;; ++polls) {
    const int q = blocker();
    if (q == -1) return Status::Ok();
    backoff.Pause();
    if ((polls & 255) != 255) continue;
    if (comm.engine().aborted()) {
      return AbortedError("rank ", comm.rank(), ": ", Name(comm, state, args), ": aborted");
    }
    if (comm.engine().learned_death_count() != deaths) {
      for (const Death& death : comm.engine().LearnedDeaths()) {
        for (int r = 0; r < comm.size(); ++r) {
          if (comm.world_rank(r) == death.rank) {
            return Status(death.why.code(),
                          StrCat("rank ", comm.rank(), ": ", Name(comm, state, args), ": ",
                                 death.why.message()));
          }
        }
      }
    }
    if (deadline.Expired()) {
      // Waiting for the result: name a rank that has not posted, if one has not.
      const int late = q == kResult ? state.segment->FirstBelow(true, round) : q;
      const std::string who = late < 0
                                  ? std::string("the last rank to arrive to publish the result")
                              : q == kResult ? StrCat("rank ", late, " to post its data")
                                             : StrCat("rank ", late, " ", waiting_for);
      return TimedOutError("rank ", comm.rank(), ": timed out in ", Name(comm, state, args),
                           " waiting for ", who, " (round ", round, ")");
    }
  }
}

// Waits until every rank's posted (or done) counter reaches `round`.
Status AwaitAll(Communicator& comm, ShmState& state, bool posted, uint64_t round, Deadline deadline,
                const InlineOneShot& args) {
  ShmSegment& seg = *state.segment;
  int from = 0;  // -1 ends the wait, so FirstBelow never sees it
  auto blocker = [&] { return from = seg.FirstBelow(posted, round, from); };
  return Await(comm, state, blocker, posted ? "to post its data" : "to finish", round, deadline,
               args);
}

// Waits until the last arriver has published round `round`'s result.
Status AwaitResult(Communicator& comm, ShmState& state, uint64_t round, Deadline deadline,
                   const InlineOneShot& args) {
  ShmSegment& seg = *state.segment;
  auto blocker = [&] {
    return seg.reduced().load(std::memory_order_acquire) >= round ? -1 : kResult;
  };
  return Await(comm, state, blocker, "", round, deadline, args);
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

bool OneShotArrive(ShmSegment& seg, uint64_t k) {
  const uint64_t n = static_cast<uint64_t>(seg.size());
  return seg.arrivals().fetch_add(1, std::memory_order_acq_rel) + 1 == n * (k + 1);
}

Status OneShotLastReduce(ShmSegment& seg, int set, uint64_t t, DataType type, ReduceOp op,
                         size_t count) {
  TIDAL_RETURN_IF_ERROR(OneShotReduce(seg, set, type, op, seg.result(set), count));
  seg.reduced().store(t, std::memory_order_release);
  return Status::Ok();
}

void OneShotCopyResult(ShmSegment& seg, int set, void* out, size_t bytes) {
  if (bytes > 0) std::memcpy(out, seg.result(set), bytes);
}

bool UsesOneShot(const ShmState& state, size_t bytes, bool owned) {
  return !owned && OneShotFits(bytes, state.segment->size(), state.one_shot_bytes,
                               state.segment->slot_bytes(), state.last_arriver);
}

bool OneShotFits(size_t bytes, int n, size_t one_shot_bytes, size_t slot_bytes, bool last_arriver) {
  // Every rank reads all n slots: past four times the threshold in total, the fused two-round
  // protocol costs less. Measured 2026-11-26 with vectorized reductions (interleaved, 3 rounds):
  // 8 ranks at 16 KiB 33-66 us one-shot against 54-121 us fused, 4 ranks at 32 KiB 13-21 us
  // against 21-45 us. (Twice the threshold, the earlier rule, was tuned with scalar reductions.)
  // The last-arriver variant reads each slot once; it serves buffers up to twice the threshold,
  // whatever n. Measured 2026-11-26 (5 interleaved rounds, 8 ranks on 2 cores): 32 KiB 42 us
  // against 122 us fused, 64 KiB 65 against 166; at 256 KiB even (239 against 229-256), at 1 MiB
  // worse (2036 against 1312-1450): one rank's reduction of n buffers then outweighs the second
  // synchronization of the fused protocol. With 4 ranks, 64 KiB 68 against 57-76 us fused.
  if (bytes > slot_bytes) return false;
  if (last_arriver) return bytes <= 2 * one_shot_bytes;
  return bytes <= one_shot_bytes && bytes * static_cast<size_t>(n) <= 4 * one_shot_bytes;
}

Status RunOneShotInline(Communicator& comm, ShmState& state, const InlineOneShot& args,
                        Deadline deadline) {
  ShmSegment& seg = *state.segment;
  const int me = comm.rank();
  const uint64_t t = ++state.rounds_issued;
  const int set = static_cast<int>(t % 2);
  const size_t bytes = args.count * DataTypeSize(args.type);
  auto named = [&](Status why) {
    return Status(why.code(),
                  StrCat("rank ", me, ": ", Name(comm, state, args), ": ", why.message()));
  };
  Status st;
  if (t > 2) st = AwaitAll(comm, state, /*posted=*/false, t - 2, deadline, args);
  if (st.ok()) {
    OneShotWrite(seg, me, set, args.send, bytes);
    seg.posted(me).store(t, std::memory_order_release);  // what timeouts name a late rank by
  }
  if (st.ok() && state.last_arriver) {
    if (OneShotArrive(seg, state.last_arriver_rounds++)) {
      st = OneShotLastReduce(seg, set, t, args.type, args.op, args.count);
      if (!st.ok()) st = named(st);
    }
    if (st.ok()) st = AwaitResult(comm, state, t, deadline, args);
    if (st.ok()) OneShotCopyResult(seg, set, args.recv, bytes);
  } else if (st.ok()) {
    st = AwaitAll(comm, state, /*posted=*/true, t, deadline, args);
    if (st.ok()) {
      st = OneShotReduce(seg, set, args.type, args.op, args.recv, args.count);
      if (!st.ok()) st = named(st);
    }
  }
  if (!st.ok()) {
    state.broken = true;
    return st;
  }
  seg.done(me).store(t, std::memory_order_release);
  return Status::Ok();
}

}  // namespace tidal::coll

// The one-shot on-host AllReduce: the small-message protocol of the shared-memory path.
//
// Design note. For a buffer that fits one slot, the reduce-scatter/all-gather of
// shm_allreduce.h costs two synchronizations; the one-shot costs one. Each rank copies its whole
// buffer into its slot of the round's slot set and posts the round; once every rank has posted,
// every rank reduces all n slots, in rank order, into its own result and marks the round done.
// Every rank applies the same operations to the same inputs in the same order, so the results are
// bit-identical without an all-gather (avg divides the whole result the same way everywhere).
// There is no owned shard in this protocol, so it serves AllReduce only, never AllReduceOwned.
// Traffic per rank: one copy in, n slot reads: it wins while synchronization dominates, i.e.
// for buffers up to TIDAL_SHM_ONESHOT_BYTES (default 32 KiB; 0 disables it) whose n copies
// together stay within four times that (2 and 4 ranks: 32 KiB, 8: 16 KiB, 16: 8 KiB); the
// last-arriver variant below, up to twice that, whatever n. Which protocol a call uses must be
// the same on every rank; it depends only on the byte count, n, the knobs and the host's CPU
// count, and the rounds it takes come from the same counter (ShmState::rounds_issued) as the other
// protocol's.
//
// The last-arriver variant (TIDAL_SHM_REDUCER; by default when the host's ranks outnumber its
// CPUs). With 8 ranks on 2 cores, n ranks each reducing n slots is n^2 slot reads on a machine
// whose cores run one rank at a time: the CPU time, not the latency of one reduction, is what
// the operation costs. So each rank, after writing its slot, counts itself in on the segment's
// arrivals counter (fetch_add: the release sequence carries every earlier arrival's slot write to
// the last one; it also posts as usual, which is how a timeout names a late rank); the rank that
// completes the count reduces the n slots once, in rank order, into the round's result slot and
// publishes the round in `reduced`; every rank then copies the result out and marks the round done.
// n slot reads in all instead of n^2, the same one synchronization, and the reducing rank is the
// one already running. All copy the same bytes: bit-identical. The count is cumulative: a rank's
// k-th last-arriver round (k from 0) is complete when the counter reaches n (k + 1); every rank
// issues the same protocol sequence, so k agrees (ShmState). Reuse: the input slots follow the
// usual rule (set t % 2, rewritten once every rank's done passed t - 2); result slot t % 2 is
// rewritten only by round t + 2's reducer, after every rank arrived at t + 2, which each does
// only after it copied round t's result out.
//
// The round runs either inside an engine Task (ShmAllReduceTask) or inline on the caller's thread
// (RunOneShotInline): a blocking call on an idle communicator skips the engine altogether, which
// is what makes small-message latency a few hundred nanoseconds rather than microseconds. Both
// execute the same protocol, so ranks may mix them.
//
// Waiting: the flags live in shared memory, so nothing wakes a sleeper; the inline path polls
// them with MemoryWaitBackoff (transport/wait.h): a short spin while this host's ranks fit its
// CPUs (none when oversubscribed: the peer we wait for may need our core), then sched_yield, then
// short sleeps. It checks the deadline, aborts and deaths every 256 polls.
//
// Thread safety: called by the thread that issues operations on the communicator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tidal/coll/reduce.h"
#include "tidal/coll/shm/segment.h"
#include "tidal/coll/types.h"
#include "tidal/comm/communicator.h"
#include "tidal/core/status.h"
#include "tidal/core/time.h"

namespace tidal::coll {

struct ShmState;

// out = source(0) op source(1) op ... op source(n-1), left to right: the fixed rank order that
// makes every reduction of the on-host protocols the same bits on every rank and run, whatever the
// timing. `source(q)` returns rank q's `count` elements. REQUIRES: n >= 2; `out` aligned to the
// element size.
template <class Source>
Status ReduceInRankOrder(DataType type, ReduceOp op, void* out, int n, Source source,
                         size_t count) {
  TIDAL_RETURN_IF_ERROR(ReduceInto(type, op, out, source(0), source(1), count));
  for (int q = 2; q < n; ++q) TIDAL_RETURN_IF_ERROR(Reduce(type, op, out, source(q), count));
  return Status::Ok();
}

// Copies `bytes` of `src` into `me`'s slot of `set`.
void OneShotWrite(ShmSegment& seg, int me, int set, const void* src, size_t bytes);
// out = slot(0) op slot(1) op ... op slot(n-1) of `set` (rank order), then / n for avg.
// REQUIRES: seg.size() >= 2; `out` aligned to the element size.
Status OneShotReduce(ShmSegment& seg, int set, DataType type, ReduceOp op, void* out, size_t count);

// Whether an AllReduce of `bytes` uses the one-shot protocol under `state`.
bool UsesOneShot(const ShmState& state, size_t bytes, bool owned);
// The rule itself, for a plain AllReduce of `bytes` over n ranks (tidal-info prints it).
bool OneShotFits(size_t bytes, int n, size_t one_shot_bytes, size_t slot_bytes, bool last_arriver);

// The last-arriver variant (design note), in three steps. OneShotArrive counts this rank in for
// its `k`-th last-arriver round (after OneShotWrite) and says whether it completed the count.
// The rank that did runs OneShotLastReduce, which reduces the n slots of `set` into result slot
// `set` and publishes round `t`; every rank, once seg.reduced() >= t, runs OneShotCopyResult.
bool OneShotArrive(ShmSegment& seg, uint64_t k);
Status OneShotLastReduce(ShmSegment& seg, int set, uint64_t t, DataType type, ReduceOp op,
                         size_t count);
void OneShotCopyResult(ShmSegment& seg, int set, void* out, size_t bytes);

// Runs a whole one-shot AllReduce (op sequence `seq`) on the calling thread. Errors name the
// rank, the operation and the peer waited for; after a failure the state is marked broken (the
// ranks' round counters disagree from then on). REQUIRES: UsesOneShot(state, ...); recv aligned
// to the element size; comm.idle().
struct InlineOneShot {
  DataType type = DataType::kFloat32;
  ReduceOp op = ReduceOp::kSum;
  size_t count = 0;
  const void* send = nullptr;
  void* recv = nullptr;
  uint32_t seq = 0;
};
Status RunOneShotInline(Communicator& comm, ShmState& state, const InlineOneShot& args,
                        Deadline deadline);

}  // namespace tidal::coll

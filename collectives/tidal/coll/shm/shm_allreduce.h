// The on-host AllReduce: reduce-scatter and all-gather through a shared-memory segment
// (segment.h), for communicators whose members all live on one host.
//
// Design note. The buffer is cut into the owned ranges R_p = OwnedRange(p, n, count) (ring
// positions = ranks here: one host), the same ranges as every other algorithm, so the owned-shard
// contract holds unchanged. The operation is a sequence of rounds, each a write then a read:
//   reduce-scatter round j: every rank copies piece j of every R_p (P = slot/n bytes each) into
//     its slot; once all have posted, owner p reduces piece j of R_p across the n slots in rank
//     order, straight into its own buffer. The fixed order makes the result independent of timing.
//   then: avg is divided and the owned-shard callback runs on the whole reduced R_p;
//   all-gather round j: every owner copies piece j of R_p (now a whole slot each) into its slot;
//     once all have posted, every rank copies every other owner's piece into its buffer. Every
//     rank ends with the owner's bytes: results are bit-identical on all ranks.
// Memory traffic per rank and byte: copy in (2), reduce (1 + 1/n), publish (2/n), copy out
// (2 (n-1)/n): about 5 passes, against the ring's message copies plus reductions, and no
// syscalls. Rounds alternate between two slot sets so that round t+1's writes overlap round t's
// reads; a slot set is rewritten only when every rank's done counter passed its previous round.
// Waiting is polling: the task reports polls_memory() so that the engine yields the CPU between
// polls instead of sleeping on the transport (which never hears of these writes).
//
// The fused protocol (plain AllReduce: no owned shard, no shard callback). Nothing needs the
// whole R_p reduced before the all-gather, so each piece goes through both halves at once, in
// two rounds: round 2j+1 (contributions): every rank copies piece j of every other owner's R_q
// into its slot of set A (it never copies its own piece: the owner reads that straight from its
// own send buffer). Round 2j+2 (results): owner p reduces piece j of R_p in rank order from the n
// sources into its slot of set B (the other set), divides for avg and posts; then every rank
// copies every owner's result piece, its own included, from set B straight into its recv buffer.
// Per rank and byte: copy in ((n-1)/n), reduce (1 + 1/n, mostly from cache), copy out (1): about
// 3 passes instead of 5, of which memory sees a read of the send buffer and a write of the recv
// buffer; the copy out uses streaming stores (stream_copy.h) when the buffer is at least
// TIDAL_SHM_STREAM_BYTES, so the write does not first read the cold line. No send-to-recv copy
// either: the contributions come from `send` and the results go to `recv`. A contributions round
// leaves the done counter alone: set A is read until the owner's reduce, which the results
// round's done (2j+2) covers, and set B is written only once every rank's done reached 2j.
//
// Small buffers use the one-shot protocol of shm_oneshot.h instead: one round, no owned shards.
//
// Failure: a timeout or a member's death stops the operation; the members' round counters then
// disagree, so the communicator's segment is marked broken and later on-host AllReduces fail with
// kAborted (abort the communicator).
//
// Thread safety: a Task, driven by the engine's driver; the ShmState belongs to its communicator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tidal/coll/collectives.h"
#include "tidal/coll/shm/segment.h"
#include "tidal/progress/task.h"

namespace tidal::coll {

// Per-communicator state of the on-host path (kept in Communicator::coll_state()).
struct ShmState {
  std::unique_ptr<ShmSegment> segment;
  uint64_t rounds_issued = 0;  // rounds used by the operations issued so far
  bool broken = false;
  size_t one_shot_bytes = 0;         // TIDAL_SHM_ONESHOT_BYTES (shm_oneshot.h)
  size_t stream_bytes = 0;           // TIDAL_SHM_STREAM_BYTES (SIZE_MAX: never)
  bool oversubscribed = false;       // more ranks on this host than CPUs this process may use
  bool last_arriver = false;         // one-shot rounds use the last-arriver variant (shm_oneshot.h)
  uint64_t last_arriver_rounds = 0;  // last-arriver rounds issued so far
};

// The on-host path's settings (TIDAL_SHM_* knobs; the reducer also on the host's CPU count) for a
// communicator of n ranks on this host. Every rank of a host computes the same.
// Errors: kInvalidArgument for a malformed TIDAL_SHM_REDUCER, naming `rank`.
struct ShmConfig {
  size_t slot_bytes = 0;
  size_t one_shot_bytes = 0;
  size_t stream_bytes = 0;  // SIZE_MAX: never
  bool last_arriver = false;
};
Result<ShmConfig> ReadShmConfig(int n, int rank);

// Which protocol a plain AllReduce of `bytes` runs under `config`: "one-shot" (every rank
// reduces), "last" (the one-shot's last-arriver variant) or "fused".
const char* ShmProtocolName(const ShmConfig& config, int n, size_t bytes);

// The communicator's ShmState, attaching the segment at the first call (collective: every member
// must make the same call). REQUIRES: every member on this host.
Result<ShmState*> GetShmState(Communicator& comm, Deadline deadline);

struct ShmAllReduceArgs {
  DataType type = DataType::kFloat32;
  ReduceOp op = ReduceOp::kSum;
  size_t count = 0;
  const uint8_t* send = nullptr;  // copied to `work` when the operation starts
  uint8_t* recv = nullptr;        // `work` is copied here at the end (when they differ)
  uint8_t* work = nullptr;        // the buffer reduced in place (aligned to the element size)
  ShardFn on_shard;               // may be empty
  bool owned = false;             // AllReduceOwned (never the one-shot protocol)
  // The signature check (TIDAL_CHECK_COLLECTIVES), issued just before; its failure fails this.
  std::shared_ptr<Task> precheck;
  std::shared_ptr<void> keep_alive;  // scratch the pointers above may point into
  std::string what;
};

class ShmAllReduceTask : public Task {
 public:
  // Reserves this operation's rounds in `state` (at issue time, in issue order).
  // REQUIRES: comm.size() >= 2 (selection runs shm only then: HostShape::one_host()).
  ShmAllReduceTask(Communicator& comm, ShmState& state, ShmAllReduceArgs args);

  bool Poll(Transport& transport) override;
  void Stop(Transport& transport, const Status& why) override;
  void OnDeath(Transport& transport, int rank, const Status& why) override;
  bool polls_memory() const override { return !stopped_; }

 private:
  // The first Poll: the signature check's verdict, then the send buffer (false: stopped).
  bool Start();
  // Round t (the k-th of this operation, slot set `set`): this rank's writes, its post, and for
  // the last-arriver one-shot its arrival (and the reduction, when it completes the count).
  Status Post(size_t k, int set, uint64_t t);
  // Whether round t's data may be read: every rank posted, or the last arriver published.
  bool Readable(uint64_t t) const;
  bool AllAtLeast(bool posted, uint64_t round) const;
  Status Write(size_t k, int set);
  Status Read(size_t k, int set);
  Status Middle();
  void FusedWrite(size_t j, int set);
  Status FusedReduce(size_t j, int set);
  void FusedCopyOut(size_t j, int set);
  void Abandon(Status why);

  ShmState& state_;
  ShmSegment& seg_;
  ShmAllReduceArgs args_;
  int n_;
  int me_;
  std::vector<int> members_;  // world ranks
  std::vector<ElementRange> ranges_;
  size_t elem_;
  size_t rs_piece_;  // elements per owner per reduce-scatter round
  size_t ag_piece_;  // elements per all-gather round
  size_t rs_rounds_ = 0;
  size_t ag_rounds_ = 0;
  uint64_t base_ = 0;
  size_t k_ = 0;  // the current round, 0 .. rs_rounds_ + ag_rounds_
  bool started_ = false;
  bool wrote_ = false;
  bool middle_done_ = false;
  bool stopped_ = false;
  bool one_shot_ = false;       // shm_oneshot.h: one round, every rank reduces every slot
  bool last_arriver_ = false;   // ... or only the last rank to arrive (shm_oneshot.h)
  uint64_t arrival_index_ = 0;  // which last-arriver round of the communicator this is
  bool fused_ = false;          // the fused protocol (design note): rounds come in pairs
  bool stream_ = false;         // copy results out with streaming stores
  // This rank's contribution: send itself (one-shot; fused when element-aligned), else work.
  const uint8_t* source_ = nullptr;
};

}  // namespace tidal::coll

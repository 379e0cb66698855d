// AllReduce and the owned-shard AllReduce (collectives.h).
//
// Design note. AllReduce is planned as reduce-scatter, a local step on the owned range, then
// all-gather, on one working buffer (recv, or an aligned copy when recv is not aligned to the
// element size):
//   ring    RingReduceScatterSchedule + RingAllGatherSchedule (schedule/ring.h): 2(n-1) steps,
//           2(n-1)/n of the buffer sent per rank, pipelined in TIDAL_SEGMENT_BYTES segments.
//   direct  the direct reduce-scatter and all-gather (schedule/direct.h): 2 steps, the same
//           bytes, n-1 messages per step: the latency choice for small buffers.
//   chain   pipelined chain reduce to ring position 0, then chain broadcast from it.
// The local step divides kAvg once (FinishAvg on the owned range only) and calls the owned-shard
// callback; the all-gather then copies the owner's bytes everywhere, so every rank holds
// bit-identical results. The chain algorithm has no owned shards: AllReduceOwned selects among
// ring, direct, shm and hier only.
//   shm     every member on one host: reduce-scatter and all-gather through shared memory
//           (shm/shm_allreduce.h), the default there.
//   hier    several hosts, the same number of members on each: host-local reduce-scatter, a ring
//           across hosts among members of equal local index, the local step, then the cross-host
//           and local all-gathers (hier.h, schedule/hier.h); the owned range is the ring's.
#include <optional>
#include <utility>

#include "tidal/coll/allreduce_inline.h"
#include "tidal/coll/collectives.h"
#include "tidal/coll/hier.h"
#include "tidal/coll/launch.h"
#include "tidal/coll/reduce.h"
#include "tidal/coll/schedule/chain.h"
#include "tidal/coll/schedule/direct.h"
#include "tidal/coll/schedule/ring.h"
#include "tidal/coll/shm/shm_allreduce.h"

namespace tidal::coll {
namespace {

using internal::Call;
using internal::Scratch;

std::vector<ElementRange> OwnedChunks(int n, size_t count) {
  std::vector<ElementRange> chunks;
  for (int p = 0; p < n; ++p) chunks.push_back(OwnedRange(p, n, count));
  return chunks;
}

// The local step between the reduce-scatter and the all-gather.
Stage ShardStage(const Call& call, uint8_t* work, ElementRange range, ShardFn on_shard) {
  const size_t elem = DataTypeSize(call.type);
  return Stage::Local([type = call.type, op = call.op, n = call.comm.size(), work, range, elem,
                       on_shard = std::move(on_shard)]() -> Status {
    void* shard = work + range.begin * elem;
    if (op == ReduceOp::kAvg) TIDAL_RETURN_IF_ERROR(FinishAvg(type, shard, range.count, n));
    if (on_shard) return on_shard(range, shard);
    return Status::Ok();
  });
}

void PlanShards(const Call& call, uint8_t* work, ShardFn on_shard, std::vector<Stage>& stages) {
  const int n = call.comm.size();
  const int p = call.comm.ring_position();
  const size_t seg = internal::SegmentElems(call.type);
  const std::vector<ElementRange> chunks = OwnedChunks(n, call.count);
  const std::vector<int> peers = internal::RingPeers(call.comm);
  const bool ring = call.algorithm == Algorithm::kRing;
  Schedule rs =
      ring ? RingReduceScatterChunks(p, chunks, seg) : DirectReduceScatterSchedule(p, chunks, seg);
  Schedule ag =
      ring ? RingAllGatherChunks(p, chunks, seg) : DirectAllGatherSchedule(p, chunks, seg);
  stages.push_back(Stage::Run(std::move(rs), peers, work, work));
  stages.push_back(ShardStage(call, work, chunks[static_cast<size_t>(p)], std::move(on_shard)));
  stages.push_back(Stage::Run(std::move(ag), peers, work, work));
}

void PlanChain(const Call& call, uint8_t* work, std::vector<Stage>& stages) {
  const int n = call.comm.size();
  const int p = call.comm.ring_position();
  const size_t seg = internal::SegmentElems(call.type);
  const std::vector<int> peers = internal::RingPeers(call.comm);
  stages.push_back(Stage::Run(ChainReduceSchedule(p, n, 0, call.count, seg), peers, work, work));
  if (p == 0) stages.push_back(ShardStage(call, work, ElementRange{0, call.count}, nullptr));
  stages.push_back(Stage::Run(ChainBroadcastSchedule(p, n, 0, call.count, seg), peers, work, work));
}

// The on-host path: shm/shm_allreduce.h, after the signature check when it is on.
Result<Work> StartShm(Call& call, const void* send, void* recv, ShardFn on_shard, bool owned,
                      bool async) {
  Communicator& comm = call.comm;
  TIDAL_ASSIGN_OR_RETURN(ShmState * state, GetShmState(comm, comm.NextDeadline()));
  const size_t bytes = call.count * DataTypeSize(call.type);
  auto scratch = std::make_shared<Scratch>();
  std::vector<Stage> check;
  TIDAL_RETURN_IF_ERROR(internal::AddSignatureCheck(call, *scratch, check));
  std::shared_ptr<Task> precheck;
  if (!check.empty()) {
    // The signature exchange reads no data and is not the user's operation: it keeps the delay
    // but neither waits for the start condition nor reports its finish.
    internal::Call check_call = call;
    check_call.hooks.ready = nullptr;
    check_call.hooks.on_finish = nullptr;
    TIDAL_ASSIGN_OR_RETURN(Work checked,
                           internal::Launch(check_call, std::move(check), scratch, async));
    precheck = checked.task();
  }
  ShmAllReduceArgs args;
  args.type = call.type;
  args.op = call.op;
  args.count = call.count;
  args.send = static_cast<const uint8_t*>(send);
  args.recv = static_cast<uint8_t*>(recv);
  args.work =
      internal::Aligned(recv, call.type) ? static_cast<uint8_t*>(recv) : scratch->Alloc(bytes);
  args.owned = owned;
  args.on_shard = std::move(on_shard);
  args.precheck = std::move(precheck);
  args.keep_alive = scratch;
  args.what = call.what;
  auto task = std::make_shared<ShmAllReduceTask>(comm, *state, std::move(args));
  return comm.Enqueue(std::move(task), Communicator::OpClass::kCollective, call.what, async,
                      call.hooks);
}

Result<Work> StartAllReduce(Communicator& comm, const void* send, void* recv, size_t count,
                            DataType type, ReduceOp op, ShardFn on_shard, bool owned,
                            const CollOptions& options, bool async) {
  Call call{comm, CollKind::kAllReduce, type, op, count};
  call.hosts = HostShapeOf(comm);
  TIDAL_RETURN_IF_ERROR(internal::CheckType(comm, call.kind, type));
  TIDAL_RETURN_IF_ERROR(internal::CheckOp(comm, call.kind, op));
  TIDAL_RETURN_IF_ERROR(internal::CheckBuffer(comm, call.kind, send, count, "send"));
  TIDAL_RETURN_IF_ERROR(internal::CheckBuffer(comm, call.kind, recv, count, "recv"));
  const size_t bytes = count * DataTypeSize(type);
  Algorithm requested = options.algorithm;
  if (owned) {
    // The owned-shard contract needs owned ranges: chain has none.
    if (requested == Algorithm::kChain) {
      return InvalidArgumentError("rank ", comm.rank(),
                                  ": allreduce_owned: algorithm chain keeps no owned shards "
                                  "(use ring, direct, shm or hier)");
    }
    Result<Algorithm> chosen =
        SelectAlgorithm(call.kind, requested, bytes, comm.size(), call.hosts);
    if (chosen.ok() && *chosen == Algorithm::kChain) requested = Algorithm::kRing;
  }
  TIDAL_RETURN_IF_ERROR(internal::Prepare(call, requested, bytes, options));
  if (call.algorithm == Algorithm::kShm)
    return StartShm(call, send, recv, std::move(on_shard), owned, async);
  auto scratch = std::make_shared<Scratch>();
  std::vector<Stage> stages;
  TIDAL_RETURN_IF_ERROR(internal::AddSignatureCheck(call, *scratch, stages));
  uint8_t* work =
      internal::Aligned(recv, type) ? static_cast<uint8_t*>(recv) : scratch->Alloc(bytes);
  stages.push_back(internal::CopyStage(send, work, bytes));
  if (call.algorithm == Algorithm::kChain) {
    PlanChain(call, work, stages);
  } else if (call.algorithm == Algorithm::kHier) {
    const ElementRange mine = OwnedRange(comm.ring_position(), comm.size(), count);
    TIDAL_RETURN_IF_ERROR(
        PlanHier(call, work, ShardStage(call, work, mine, std::move(on_shard)), stages));
  } else {
    PlanShards(call, work, std::move(on_shard), stages);
  }
  stages.push_back(internal::CopyStage(work, recv, bytes));
  return internal::Launch(call, std::move(stages), std::move(scratch), async);
}

}  // namespace

Status AllReduce(Communicator& comm, const void* send, void* recv, size_t count, DataType type,
                 ReduceOp op, const CollOptions& options) {
  if (std::optional<Status> done =
          internal::TryAllReduceInline(comm, send, recv, count, type, op, options)) {
    return *std::move(done);
  }
  return internal::Block(
      StartAllReduce(comm, send, recv, count, type, op, nullptr, false, options, false), options);
}

Result<Work> AllReduceAsync(Communicator& comm, const void* send, void* recv, size_t count,
                            DataType type, ReduceOp op, const CollOptions& options) {
  return StartAllReduce(comm, send, recv, count, type, op, nullptr, false, options, true);
}

Status AllReduceOwned(Communicator& comm, const void* send, void* recv, size_t count, DataType type,
                      ReduceOp op, ShardFn on_shard, const CollOptions& options) {
  return internal::Block(
      StartAllReduce(comm, send, recv, count, type, op, std::move(on_shard), true, options, false),
      options);
}

Result<Work> AllReduceOwnedAsync(Communicator& comm, const void* send, void* recv, size_t count,
                                 DataType type, ReduceOp op, ShardFn on_shard,
                                 const CollOptions& options) {
  return StartAllReduce(comm, send, recv, count, type, op, std::move(on_shard), true, options,
                        true);
}

}  // namespace tidal::coll

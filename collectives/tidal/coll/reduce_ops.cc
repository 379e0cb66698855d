// ReduceScatter and Reduce (collectives.h).
//
// Design note.
//   ReduceScatter: the reduction runs on a scratch copy of the whole send buffer (the send buffer
//   is the caller's and stays untouched), with chunk c of ring position c being the block of rank
//   ring_order[c]: ring (n-1 steps, (n-1)/n of the buffer per rank) or direct (1 step). The owner
//   divides kAvg and copies its block to recv.
//   Reduce: chain (pipelined along the ring towards the root: every rank sends the buffer once,
//   the bandwidth optimum for one root) or direct (every rank sends straight to the root, which
//   reduces in rank order: 1 step). Non-root ranks reduce into scratch under the chain (their
//   partial sums must not land in the caller's buffers) and send straight from `send` under
//   direct. The root works in recv (or an aligned copy) and divides kAvg at the end.
#include <utility>

#include "tidal/coll/collectives.h"
#include "tidal/coll/launch.h"
#include "tidal/coll/reduce.h"
#include "tidal/coll/schedule/chain.h"
#include "tidal/coll/schedule/direct.h"
#include "tidal/coll/schedule/ring.h"

namespace tidal::coll {
namespace {

using internal::Call;
using internal::Scratch;

Status CheckReduction(const Call& call, const void* send, size_t send_count, const void* recv,
                      size_t recv_count) {
  TIDAL_RETURN_IF_ERROR(internal::CheckType(call.comm, call.kind, call.type));
  TIDAL_RETURN_IF_ERROR(internal::CheckOp(call.comm, call.kind, call.op));
  TIDAL_RETURN_IF_ERROR(internal::CheckBuffer(call.comm, call.kind, send, send_count, "send"));
  return internal::CheckBuffer(call.comm, call.kind, recv, recv_count, "recv");
}

Result<Work> StartReduceScatter(Communicator& comm, const void* send, void* recv, size_t count,
                                DataType type, ReduceOp op, const CollOptions& options,
                                bool async) {
  Call call{comm, CollKind::kReduceScatter, type, op, count};
  const size_t n = static_cast<size_t>(comm.size());
  TIDAL_RETURN_IF_ERROR(CheckReduction(call, send, count * n, recv, count));
  const size_t elem = DataTypeSize(type);
  TIDAL_RETURN_IF_ERROR(internal::Prepare(call, options.algorithm, count * elem, options));
  auto scratch = std::make_shared<Scratch>();
  std::vector<Stage> stages;
  TIDAL_RETURN_IF_ERROR(internal::AddSignatureCheck(call, *scratch, stages));
  uint8_t* work = scratch->Alloc(count * n * elem);
  stages.push_back(internal::CopyStage(send, work, count * n * elem));
  std::vector<ElementRange> chunks;
  for (int r : comm.ring_order()) chunks.push_back({static_cast<size_t>(r) * count, count});
  const int p = comm.ring_position();
  const size_t seg = internal::SegmentElems(type);
  Schedule schedule = call.algorithm == Algorithm::kRing
                          ? RingReduceScatterChunks(p, chunks, seg)
                          : DirectReduceScatterSchedule(p, chunks, seg);
  stages.push_back(Stage::Run(std::move(schedule), internal::RingPeers(comm), work, work));
  uint8_t* mine = work + static_cast<size_t>(comm.rank()) * count * elem;
  stages.push_back(Stage::Local([type, op, n, mine, count]() -> Status {
    if (op != ReduceOp::kAvg) return Status::Ok();
    return FinishAvg(type, mine, count, static_cast<int>(n));
  }));
  stages.push_back(internal::CopyStage(mine, recv, count * elem));
  return internal::Launch(call, std::move(stages), std::move(scratch), async);
}

Result<Work> StartReduce(Communicator& comm, const void* send, void* recv, size_t count,
                         DataType type, ReduceOp op, int root, const CollOptions& options,
                         bool async) {
  Call call{comm, CollKind::kReduce, type, op, count, root};
  TIDAL_RETURN_IF_ERROR(internal::CheckRoot(comm, call.kind, root));
  const bool is_root = comm.rank() == root;
  TIDAL_RETURN_IF_ERROR(CheckReduction(call, send, count, recv, is_root ? count : 0));
  const size_t bytes = count * DataTypeSize(type);
  TIDAL_RETURN_IF_ERROR(internal::Prepare(call, options.algorithm, bytes, options));
  auto scratch = std::make_shared<Scratch>();
  std::vector<Stage> stages;
  TIDAL_RETURN_IF_ERROR(internal::AddSignatureCheck(call, *scratch, stages));
  const bool chain = call.algorithm == Algorithm::kChain;
  uint8_t* work = nullptr;
  if (is_root) {
    work = internal::Aligned(recv, type) ? static_cast<uint8_t*>(recv) : scratch->Alloc(bytes);
  } else if (chain) {
    work = scratch->Alloc(bytes);
  }
  if (work != nullptr) stages.push_back(internal::CopyStage(send, work, bytes));
  const int n = comm.size();
  const int p = comm.ring_position();
  const int root_position = [&] {
    const std::vector<int>& ring = comm.ring_order();
    return static_cast<int>(std::find(ring.begin(), ring.end(), root) - ring.begin());
  }();
  const size_t seg = internal::SegmentElems(type);
  Schedule schedule = chain ? ChainReduceSchedule(p, n, root_position, count, seg)
                            : DirectReduceSchedule(p, n, root_position, count, seg);
  const void* source = work != nullptr ? work : send;
  stages.push_back(Stage::Run(std::move(schedule), internal::RingPeers(comm), source, work));
  if (is_root) {
    stages.push_back(Stage::Local([type, op, n, work, count]() -> Status {
      if (op != ReduceOp::kAvg) return Status::Ok();
      return FinishAvg(type, work, count, n);
    }));
    stages.push_back(internal::CopyStage(work, recv, bytes));
  }
  return internal::Launch(call, std::move(stages), std::move(scratch), async);
}

}  // namespace

Status ReduceScatter(Communicator& comm, const void* send, void* recv, size_t recv_count,
                     DataType type, ReduceOp op, const CollOptions& options) {
  return internal::Block(StartReduceScatter(comm, send, recv, recv_count, type, op, options, false),
                         options);
}

Result<Work> ReduceScatterAsync(Communicator& comm, const void* send, void* recv, size_t recv_count,
                                DataType type, ReduceOp op, const CollOptions& options) {
  return StartReduceScatter(comm, send, recv, recv_count, type, op, options, true);
}

Status Reduce(Communicator& comm, const void* send, void* recv, size_t count, DataType type,
              ReduceOp op, int root, const CollOptions& options) {
  return internal::Block(StartReduce(comm, send, recv, count, type, op, root, options, false),
                         options);
}

Result<Work> ReduceAsync(Communicator& comm, const void* send, void* recv, size_t count,
                         DataType type, ReduceOp op, int root, const CollOptions& options) {
  return StartReduce(comm, send, recv, count, type, op, root, options, true);
}

}  // namespace tidal::coll

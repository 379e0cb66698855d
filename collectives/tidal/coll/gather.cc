// AllGather, AllGatherV and Broadcast (collectives.h): the collectives that only copy.
//
// Design note.
//   AllGather(V): the caller's block is copied to its place in recv (nothing in place), then
//   ring (n-1 steps, every rank forwards what it just received: (n-1)/n of the output sent per
//   rank) or direct (1 step, every rank sends its block to every other) over chunks where ring
//   position c holds the block of rank ring_order[c]. Every copy of a block is its owner's bytes.
//   Broadcast: chain (pipelined along the ring from the root: every rank receives and forwards
//   the buffer once, about (n-1+S) segment times for S segments) or direct (the root sends to
//   every rank: 1 step, n-1 times the bytes at the root).
#include <numeric>
#include <utility>

#include "tidal/coll/collectives.h"
#include "tidal/coll/launch.h"
#include "tidal/coll/schedule/chain.h"
#include "tidal/coll/schedule/direct.h"
#include "tidal/coll/schedule/ring.h"
#include "tidal/core/random.h"

namespace tidal::coll {
namespace {

using internal::Call;
using internal::Scratch;

// Blocks of rank r at [displs[r], +counts[r]); checks they fit and do not overlap.
Status CheckBlocks(const Communicator& comm, std::span<const size_t> counts,
                   std::span<const size_t> displs) {
  const size_t n = static_cast<size_t>(comm.size());
  if (counts.size() != n || displs.size() != n) {
    return InvalidArgumentError("rank ", comm.rank(), ": allgatherv: recv_counts and displs need ",
                                n, " entries, got ", counts.size(), " and ", displs.size());
  }
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return displs[a] < displs[b]; });
  for (size_t i = 1; i < n; ++i) {
    const size_t a = order[i - 1];
    const size_t b = order[i];
    if (counts[a] > 0 && counts[b] > 0 && displs[a] + counts[a] > displs[b]) {
      return InvalidArgumentError("rank ", comm.rank(), ": allgatherv: the blocks of ranks ", a,
                                  " and ", b, " overlap");
    }
  }
  return Status::Ok();
}

Result<Work> StartGather(Call call, const void* send, void* recv, std::vector<size_t> counts,
                         std::vector<size_t> displs, const CollOptions& options, bool async) {
  Communicator& comm = call.comm;
  const size_t me = static_cast<size_t>(comm.rank());
  size_t total = 0;
  for (size_t r = 0; r < counts.size(); ++r) total = std::max(total, displs[r] + counts[r]);
  TIDAL_RETURN_IF_ERROR(internal::CheckType(comm, call.kind, call.type));
  TIDAL_RETURN_IF_ERROR(internal::CheckBuffer(comm, call.kind, send, counts[me], "send"));
  TIDAL_RETURN_IF_ERROR(internal::CheckBuffer(comm, call.kind, recv, total, "recv"));
  const size_t elem = DataTypeSize(call.type);
  // Select on a size every rank computes alike (AllGatherV counts differ between ranks).
  size_t all = 0;
  for (size_t c : counts) all += c;
  TIDAL_RETURN_IF_ERROR(
      internal::Prepare(call, options.algorithm, all / counts.size() * elem, options));
  auto scratch = std::make_shared<Scratch>();
  std::vector<Stage> stages;
  TIDAL_RETURN_IF_ERROR(internal::AddSignatureCheck(call, *scratch, stages));
  auto* out = static_cast<uint8_t*>(recv);
  stages.push_back(internal::CopyStage(send, out + displs[me] * elem, counts[me] * elem));
  std::vector<ElementRange> chunks;
  for (int r : comm.ring_order()) {
    chunks.push_back({displs[static_cast<size_t>(r)], counts[static_cast<size_t>(r)]});
  }
  const int p = comm.ring_position();
  const size_t seg = internal::SegmentElems(call.type);
  Schedule schedule = call.algorithm == Algorithm::kRing ? RingAllGatherChunks(p, chunks, seg)
                                                         : DirectAllGatherSchedule(p, chunks, seg);
  stages.push_back(Stage::Run(std::move(schedule), internal::RingPeers(comm), out, out));
  return internal::Launch(call, std::move(stages), std::move(scratch), async);
}

Result<Work> StartAllGather(Communicator& comm, const void* send, void* recv, size_t count,
                            DataType type, const CollOptions& options, bool async) {
  const size_t n = static_cast<size_t>(comm.size());
  std::vector<size_t> displs(n);
  for (size_t r = 0; r < n; ++r) displs[r] = r * count;
  return StartGather(Call{comm, CollKind::kAllGather, type, ReduceOp::kSum, count}, send, recv,
                     std::vector<size_t>(n, count), std::move(displs), options, async);
}

Result<Work> StartAllGatherV(Communicator& comm, const void* send, size_t send_count, void* recv,
                             std::span<const size_t> recv_counts, std::span<const size_t> displs,
                             DataType type, const CollOptions& options, bool async) {
  std::vector<size_t> packed;
  if (displs.empty() && recv_counts.size() == static_cast<size_t>(comm.size())) {
    packed.resize(recv_counts.size());
    std::exclusive_scan(recv_counts.begin(), recv_counts.end(), packed.begin(), size_t{0});
    displs = packed;
  }
  TIDAL_RETURN_IF_ERROR(CheckBlocks(comm, recv_counts, displs));
  const size_t me = static_cast<size_t>(comm.rank());
  if (send_count != recv_counts[me]) {
    return InvalidArgumentError("rank ", comm.rank(), ": allgatherv: send_count ", send_count,
                                " differs from recv_counts[", me, "] = ", recv_counts[me]);
  }
  uint64_t hash = 0x7a11;
  for (size_t r = 0; r < recv_counts.size(); ++r) {
    hash = MixBits(hash ^ (recv_counts[r] * 0x9E3779B97F4A7C15ull) ^ (displs[r] << 1));
  }
  Call call{comm, CollKind::kAllGatherV, type, ReduceOp::kSum, 0};
  call.count = std::accumulate(recv_counts.begin(), recv_counts.end(), size_t{0});
  call.extra = hash;
  return StartGather(call, send, recv, {recv_counts.begin(), recv_counts.end()},
                     {displs.begin(), displs.end()}, options, async);
}

Result<Work> StartBroadcast(Communicator& comm, const void* send, void* recv, size_t count,
                            DataType type, int root, const CollOptions& options, bool async) {
  Call call{comm, CollKind::kBroadcast, type, ReduceOp::kSum, count, root};
  TIDAL_RETURN_IF_ERROR(internal::CheckType(comm, call.kind, type));
  TIDAL_RETURN_IF_ERROR(internal::CheckRoot(comm, call.kind, root));
  const bool is_root = comm.rank() == root;
  if (is_root) TIDAL_RETURN_IF_ERROR(internal::CheckBuffer(comm, call.kind, send, count, "send"));
  TIDAL_RETURN_IF_ERROR(internal::CheckBuffer(comm, call.kind, recv, count, "recv"));
  const size_t bytes = count * DataTypeSize(type);
  TIDAL_RETURN_IF_ERROR(internal::Prepare(call, options.algorithm, bytes, options));
  auto scratch = std::make_shared<Scratch>();
  std::vector<Stage> stages;
  TIDAL_RETURN_IF_ERROR(internal::AddSignatureCheck(call, *scratch, stages));
  if (is_root) stages.push_back(internal::CopyStage(send, recv, bytes));
  const std::vector<int>& ring = comm.ring_order();
  const int root_position =
      static_cast<int>(std::find(ring.begin(), ring.end(), root) - ring.begin());
  const int p = comm.ring_position();
  const size_t seg = internal::SegmentElems(type);
  Schedule schedule = call.algorithm == Algorithm::kChain
                          ? ChainBroadcastSchedule(p, comm.size(), root_position, count, seg)
                          : DirectBroadcastSchedule(p, comm.size(), root_position, count, seg);
  stages.push_back(Stage::Run(std::move(schedule), internal::RingPeers(comm), recv, recv));
  return internal::Launch(call, std::move(stages), std::move(scratch), async);
}

}  // namespace

Status AllGather(Communicator& comm, const void* send, void* recv, size_t send_count, DataType type,
                 const CollOptions& options) {
  return internal::Block(StartAllGather(comm, send, recv, send_count, type, options, false),
                         options);
}

Result<Work> AllGatherAsync(Communicator& comm, const void* send, void* recv, size_t send_count,
                            DataType type, const CollOptions& options) {
  return StartAllGather(comm, send, recv, send_count, type, options, true);
}

Status AllGatherV(Communicator& comm, const void* send, size_t send_count, void* recv,
                  std::span<const size_t> recv_counts, std::span<const size_t> displs,
                  DataType type, const CollOptions& options) {
  return internal::Block(
      StartAllGatherV(comm, send, send_count, recv, recv_counts, displs, type, options, false),
      options);
}

Result<Work> AllGatherVAsync(Communicator& comm, const void* send, size_t send_count, void* recv,
                             std::span<const size_t> recv_counts, std::span<const size_t> displs,
                             DataType type, const CollOptions& options) {
  return StartAllGatherV(comm, send, send_count, recv, recv_counts, displs, type, options, true);
}

Status Broadcast(Communicator& comm, const void* send, void* recv, size_t count, DataType type,
                 int root, const CollOptions& options) {
  return internal::Block(StartBroadcast(comm, send, recv, count, type, root, options, false),
                         options);
}

Result<Work> BroadcastAsync(Communicator& comm, const void* send, void* recv, size_t count,
                            DataType type, int root, const CollOptions& options) {
  return StartBroadcast(comm, send, recv, count, type, root, options, true);
}

}  // namespace tidal::coll

// AllToAll(V), Barrier and typed Send/Recv (collectives.h).
//
// Design note.
//   AllToAll(V): pairwise exchange (schedule/alltoall.h): the caller's own block is copied
//   locally, then n-1 steps; at step s rank r sends its block for r+s and receives the block of
//   r-s, so every rank sends and receives exactly once per step and no link carries two messages
//   at once. Sends read the send buffer, receives write the recv buffer; when they overlap (in
//   place) the send buffer is first copied to scratch.
//   Barrier: a dissemination barrier as a schedule on a (rounds+1)-byte scratch buffer: round k
//   sends byte k to rank r+2^k and receives byte k+1 from r-2^k; round k+1's send reads the
//   byte round k received, so the executor's read-after-write rule orders the rounds.
//   ceil(log2 n) rounds of one byte.
#include <algorithm>
#include <utility>

#include "tidal/coll/collectives.h"
#include "tidal/coll/launch.h"
#include "tidal/coll/schedule/alltoall.h"

namespace tidal::coll {
namespace {

using internal::Call;
using internal::Scratch;

Status CheckCounts(const Communicator& comm, std::span<const size_t> counts,
                   std::span<const size_t> displs, std::string_view what) {
  const size_t n = static_cast<size_t>(comm.size());
  if (counts.size() == n && displs.size() == n) return Status::Ok();
  return InvalidArgumentError("rank ", comm.rank(), ": alltoallv: ", what,
                              " counts and displacements need ", n, " entries, got ", counts.size(),
                              " and ", displs.size());
}

size_t Extent(std::span<const size_t> counts, std::span<const size_t> displs) {
  size_t end = 0;
  for (size_t r = 0; r < counts.size(); ++r) {
    if (counts[r] > 0) end = std::max(end, displs[r] + counts[r]);
  }
  return end;
}

Result<Work> StartAllToAllV(Call call, const void* send, std::span<const size_t> send_counts,
                            std::span<const size_t> send_displs, void* recv,
                            std::span<const size_t> recv_counts,
                            std::span<const size_t> recv_displs, const CollOptions& options,
                            bool async) {
  Communicator& comm = call.comm;
  TIDAL_RETURN_IF_ERROR(internal::CheckType(comm, call.kind, call.type));
  TIDAL_RETURN_IF_ERROR(CheckCounts(comm, send_counts, send_displs, "send"));
  TIDAL_RETURN_IF_ERROR(CheckCounts(comm, recv_counts, recv_displs, "recv"));
  const size_t elem = DataTypeSize(call.type);
  const size_t send_extent = Extent(send_counts, send_displs);
  const size_t recv_extent = Extent(recv_counts, recv_displs);
  TIDAL_RETURN_IF_ERROR(internal::CheckBuffer(comm, call.kind, send, send_extent, "send"));
  TIDAL_RETURN_IF_ERROR(internal::CheckBuffer(comm, call.kind, recv, recv_extent, "recv"));
  // Before Prepare: a rejected call must not take an op sequence number.
  const size_t me = static_cast<size_t>(comm.rank());
  if (send_counts[me] != recv_counts[me]) {
    return InvalidArgumentError("rank ", comm.rank(), ": alltoallv: send_counts[", me,
                                "] = ", send_counts[me], " but recv_counts[", me,
                                "] = ", recv_counts[me]);
  }
  size_t total = 0;
  for (size_t c : send_counts) total += c;
  TIDAL_RETURN_IF_ERROR(internal::Prepare(call, options.algorithm, total * elem, options));
  auto scratch = std::make_shared<Scratch>();
  std::vector<Stage> stages;
  TIDAL_RETURN_IF_ERROR(internal::AddSignatureCheck(call, *scratch, stages));
  const auto* in = static_cast<const uint8_t*>(send);
  auto* out = static_cast<uint8_t*>(recv);
  const bool overlap = send_extent > 0 && recv_extent > 0 && in < out + recv_extent * elem &&
                       out < in + send_extent * elem;
  if (overlap) {
    uint8_t* copy = scratch->Alloc(send_extent * elem);
    stages.push_back(internal::CopyStage(in, copy, send_extent * elem));
    in = copy;
  }
  stages.push_back(internal::CopyStage(in + send_displs[me] * elem, out + recv_displs[me] * elem,
                                       send_counts[me] * elem));
  std::vector<ElementRange> sends;
  std::vector<ElementRange> recvs;
  for (size_t r = 0; r < send_counts.size(); ++r) {
    sends.push_back({send_displs[r], send_counts[r]});
    recvs.push_back({recv_displs[r], recv_counts[r]});
  }
  Schedule schedule =
      PairwiseAllToAllSchedule(comm.rank(), sends, recvs, internal::SegmentElems(call.type));
  stages.push_back(Stage::Run(std::move(schedule), internal::RankPeers(comm), in, out));
  return internal::Launch(call, std::move(stages), std::move(scratch), async);
}

Result<Work> StartAllToAll(Communicator& comm, const void* send, void* recv, size_t count,
                           DataType type, const CollOptions& options, bool async) {
  const size_t n = static_cast<size_t>(comm.size());
  std::vector<size_t> counts(n, count);
  std::vector<size_t> displs(n);
  for (size_t r = 0; r < n; ++r) displs[r] = r * count;
  return StartAllToAllV(Call{comm, CollKind::kAllToAll, type, ReduceOp::kSum, count}, send, counts,
                        displs, recv, counts, displs, options, async);
}

Schedule DisseminationSchedule(int rank, int n) {
  Schedule schedule;
  uint32_t round = 0;
  for (int distance = 1; distance < n; distance *= 2, ++round) {
    const ElementRange mine{round, 1};
    const ElementRange next{round + 1, 1};
    schedule.ops.push_back({Op::kSend, (rank + distance) % n, mine, round, 0});
    schedule.ops.push_back({Op::kRecv, (rank - distance % n + n) % n, next, round, 0});
  }
  schedule.num_steps = round;
  schedule.segments_per_step = 1;
  return schedule;
}

Result<Work> StartBarrier(Communicator& comm, const CollOptions& options, bool async) {
  Call call{comm, CollKind::kBarrier, DataType::kUint8, ReduceOp::kSum, 0};
  TIDAL_RETURN_IF_ERROR(internal::Prepare(call, options.algorithm, 0, options));
  auto scratch = std::make_shared<Scratch>();
  std::vector<Stage> stages;
  TIDAL_RETURN_IF_ERROR(internal::AddSignatureCheck(call, *scratch, stages));
  uint8_t* bytes = scratch->Alloc(34);
  std::fill(bytes, bytes + 34, uint8_t{1});
  Stage stage = Stage::Run(DisseminationSchedule(comm.rank(), comm.size()),
                           internal::RankPeers(comm), bytes, bytes);
  stage.elem_bytes = 1;
  stages.push_back(std::move(stage));
  return internal::Launch(call, std::move(stages), std::move(scratch), async);
}

Status CheckMessage(const Communicator& comm, CollKind kind, const void* buf, size_t count,
                    DataType type) {
  TIDAL_RETURN_IF_ERROR(internal::CheckType(comm, kind, type));
  return internal::CheckBuffer(comm, kind, buf, count, "message");
}

// Point-to-point messages take only a deadline from CollOptions: refuse what would be ignored.
Status CheckMessageOptions(const Communicator& comm, CollKind kind, const CollOptions& options) {
  if (options.delay.count() == 0 && !options.ready && !options.on_finish) return Status::Ok();
  return InvalidArgumentError("rank ", comm.rank(), ": ", CollKindName(kind),
                              ": CollOptions delay, ready and on_finish apply to collectives; a "
                              "point-to-point message takes only a deadline");
}

}  // namespace

Status AllToAll(Communicator& comm, const void* send, void* recv, size_t count, DataType type,
                const CollOptions& options) {
  return internal::Block(StartAllToAll(comm, send, recv, count, type, options, false), options);
}

Result<Work> AllToAllAsync(Communicator& comm, const void* send, void* recv, size_t count,
                           DataType type, const CollOptions& options) {
  return StartAllToAll(comm, send, recv, count, type, options, true);
}

Status AllToAllV(Communicator& comm, const void* send, std::span<const size_t> send_counts,
                 std::span<const size_t> send_displs, void* recv,
                 std::span<const size_t> recv_counts, std::span<const size_t> recv_displs,
                 DataType type, const CollOptions& options) {
  // Counts legitimately differ between ranks: the signature compares kind and type only.
  return internal::Block(
      StartAllToAllV(Call{comm, CollKind::kAllToAllV, type, ReduceOp::kSum, 0}, send, send_counts,
                     send_displs, recv, recv_counts, recv_displs, options, false),
      options);
}

Result<Work> AllToAllVAsync(Communicator& comm, const void* send,
                            std::span<const size_t> send_counts,
                            std::span<const size_t> send_displs, void* recv,
                            std::span<const size_t> recv_counts,
                            std::span<const size_t> recv_displs, DataType type,
                            const CollOptions& options) {
  return StartAllToAllV(Call{comm, CollKind::kAllToAllV, type, ReduceOp::kSum, 0}, send,
                        send_counts, send_displs, recv, recv_counts, recv_displs, options, true);
}

Status Barrier(Communicator& comm, const CollOptions& options) {
  return internal::Block(StartBarrier(comm, options, false), options);
}

Result<Work> BarrierAsync(Communicator& comm, const CollOptions& options) {
  return StartBarrier(comm, options, true);
}

Status Send(Communicator& comm, const void* buf, size_t count, DataType type, int peer,
            uint32_t tag, const CollOptions& options) {
  TIDAL_RETURN_IF_ERROR(CheckMessage(comm, CollKind::kSend, buf, count, type));
  TIDAL_RETURN_IF_ERROR(CheckMessageOptions(comm, CollKind::kSend, options));
  return internal::Block(comm.SendAsync(peer, buf, count * DataTypeSize(type), tag), options);
}

Result<Work> SendAsync(Communicator& comm, const void* buf, size_t count, DataType type, int peer,
                       uint32_t tag) {
  TIDAL_RETURN_IF_ERROR(CheckMessage(comm, CollKind::kSend, buf, count, type));
  return comm.SendAsync(peer, buf, count * DataTypeSize(type), tag);
}

Status Recv(Communicator& comm, void* buf, size_t count, DataType type, int peer, uint32_t tag,
            const CollOptions& options) {
  TIDAL_RETURN_IF_ERROR(CheckMessage(comm, CollKind::kRecv, buf, count, type));
  TIDAL_RETURN_IF_ERROR(CheckMessageOptions(comm, CollKind::kRecv, options));
  return internal::Block(comm.RecvAsync(peer, buf, count * DataTypeSize(type), tag), options);
}

Result<Work> RecvAsync(Communicator& comm, void* buf, size_t count, DataType type, int peer,
                       uint32_t tag) {
  TIDAL_RETURN_IF_ERROR(CheckMessage(comm, CollKind::kRecv, buf, count, type));
  return comm.RecvAsync(peer, buf, count * DataTypeSize(type), tag);
}

}  // namespace tidal::coll

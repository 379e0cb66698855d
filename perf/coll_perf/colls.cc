#include "coll_perf/colls.h"

#include <cstring>
#include <utility>

#include "tidal/core/check.h"

namespace tidal::perf {
namespace {

using coll::CollKind;

constexpr CollSpec kSpecs[] = {
    {PerfColl::kAllReduce, "all_reduce_perf", "AllReduce", CollKind::kAllReduce, true, true, false},
    {PerfColl::kReduceScatter, "reduce_scatter_perf", "ReduceScatter", CollKind::kReduceScatter,
     true, true, false},
    {PerfColl::kAllGather, "all_gather_perf", "AllGather", CollKind::kAllGather, false, false,
     false},
    {PerfColl::kBroadcast, "broadcast_perf", "Broadcast", CollKind::kBroadcast, false, false, true},
    {PerfColl::kReduce, "reduce_perf", "Reduce", CollKind::kReduce, true, true, true},
    {PerfColl::kAllToAll, "alltoall_perf", "AlltoAll", CollKind::kAllToAll, false, false, false},
    {PerfColl::kSendRecv, "sendrecv_perf", "SendRecv", CollKind::kSend, true, false, false},
};

size_t ElemBytes(const CollCase& c) { return coll::DataTypeSize(c.type); }

Status Push(Result<Work> work, std::vector<Work>& works) {
  TIDAL_RETURN_IF_ERROR(work);
  works.push_back(std::move(work).value());
  return Status::Ok();
}

// The sendrecv ring: send to rank + 1, receive from rank - 1.
Status StartSendRecv(Communicator& comm, const CollCase& c, const CollBuffers& buffers,
                     std::vector<Work>& works) {
  const int n = comm.size();
  const int next = (comm.rank() + 1) % n;
  const int prev = (comm.rank() + n - 1) % n;
  const void* src = c.in_place ? buffers.recv : buffers.send;
  void* dst = c.in_place ? buffers.staging : buffers.recv;
  TIDAL_RETURN_IF_ERROR(Push(coll::RecvAsync(comm, dst, c.counts.param, c.type, prev), works));
  return Push(coll::SendAsync(comm, src, c.counts.param, c.type, next), works);
}

}  // namespace

const CollSpec& SpecOf(PerfColl coll) {
  for (const CollSpec& spec : kSpecs) {
    if (spec.coll == coll) {
      return spec;
    }
  }
  TIDAL_CHECK(false) << "unknown collective " << static_cast<int>(coll);
  return kSpecs[0];
}

CollCounts CountsFor(PerfColl coll, size_t count, int n) {
  const auto ranks = static_cast<size_t>(n);
  const size_t block = count / ranks;
  switch (coll) {
    case PerfColl::kReduceScatter:
      return {block * ranks, block, block};
    case PerfColl::kAllGather:
      return {block, block * ranks, block};
    case PerfColl::kAllToAll:
      return {block * ranks, block * ranks, block};
    default:
      return {count, count, count};
  }
}

Bandwidth BandwidthFor(PerfColl coll, const CollCounts& counts, size_t elem_bytes, int n,
                       double seconds) {
  const double dn = n;
  double elems = static_cast<double>(counts.param);
  double factor = 1;
  switch (coll) {
    case PerfColl::kAllReduce:
      factor = 2 * (dn - 1) / dn;
      break;
    case PerfColl::kReduceScatter:
    case PerfColl::kAllGather:
    case PerfColl::kAllToAll:
      elems *= dn;
      factor = (dn - 1) / dn;
      break;
    default:
      break;
  }
  Bandwidth bw;
  if (seconds > 0) {
    bw.alg = elems * static_cast<double>(elem_bytes) / 1e9 / seconds;
  }
  bw.bus = bw.alg * factor;
  return bw;
}

CheckPlan PlanCheck(PerfColl coll, const CollCase& c, const CollBuffers& buffers,
                    const Communicator& comm, int expected_table) {
  const int r = comm.rank();
  const int n = comm.size();
  const size_t p = c.counts.param;
  const auto rank = static_cast<size_t>(r);
  CheckPlan plan;
  plan.recv_ptr = buffers.recv;
  plan.send_ptr = c.in_place ? buffers.recv : buffers.send;
  switch (coll) {
    case PerfColl::kAllReduce:
      plan.inputs = {{0, p, r, 0}};
      plan.outputs = {{0, p, expected_table, 0}};
      break;
    case PerfColl::kReduceScatter:
      plan.inputs = {{0, c.counts.send, r, 0}};
      plan.outputs = {{0, p, expected_table, rank * p}};
      break;
    case PerfColl::kAllGather:
      if (c.in_place) {
        plan.send_ptr = buffers.recv + rank * p * ElemBytes(c);
      }
      plan.inputs = {{0, p, r, 0}};
      for (int s = 0; s < n; ++s) {
        plan.outputs.push_back({static_cast<size_t>(s) * p, p, s, 0});
      }
      break;
    case PerfColl::kBroadcast:
      if (r == c.root) {
        plan.inputs = {{0, p, r, 0}};
      }
      plan.outputs = {{0, p, c.root, 0}};
      break;
    case PerfColl::kReduce:
      plan.inputs = {{0, p, r, 0}};
      if (r == c.root) {
        plan.outputs = {{0, p, expected_table, 0}};
      } else if (c.in_place) {
        plan.outputs = {{0, p, r, 0}};  // the input stays
      } else {
        plan.outputs = {{0, p, expected_table, 0, /*untouched=*/true}};
      }
      break;
    case PerfColl::kAllToAll:
      plan.inputs = {{0, c.counts.send, r, 0}};
      for (int s = 0; s < n; ++s) {
        plan.outputs.push_back({static_cast<size_t>(s) * p, p, s, rank * p});
      }
      break;
    case PerfColl::kSendRecv:
      plan.inputs = {{0, p, r, 0}};
      plan.outputs = {{0, p, (r + n - 1) % n, 0}};
      break;
  }
  return plan;
}

Status RunOneBlocking(PerfColl coll, Communicator& comm, const CollCase& c,
                      const CollBuffers& buffers, const coll::CollOptions& options) {
  if (coll == PerfColl::kAllReduce) {
    uint8_t* recv = buffers.recv;
    const uint8_t* send = c.in_place ? recv : buffers.send;
    return coll::AllReduce(comm, send, recv, c.counts.param, c.type, c.op, options);
  }
  std::vector<Work> works;
  TIDAL_RETURN_IF_ERROR(StartOne(coll, comm, c, buffers, options, works));
  for (Work& work : works) TIDAL_RETURN_IF_ERROR(work.Wait());
  return Status::Ok();
}

Status StartOne(PerfColl coll, Communicator& comm, const CollCase& c, const CollBuffers& buffers,
                const coll::CollOptions& options, std::vector<Work>& works) {
  const size_t p = c.counts.param;
  uint8_t* recv = buffers.recv;
  const uint8_t* send = c.in_place ? recv : buffers.send;
  switch (coll) {
    case PerfColl::kAllReduce:
      return Push(coll::AllReduceAsync(comm, send, recv, p, c.type, c.op, options), works);
    case PerfColl::kReduceScatter:
      return Push(coll::ReduceScatterAsync(comm, send, recv, p, c.type, c.op, options), works);
    case PerfColl::kAllGather:
      if (c.in_place) {
        send = recv + static_cast<size_t>(comm.rank()) * p * ElemBytes(c);
      }
      return Push(coll::AllGatherAsync(comm, send, recv, p, c.type, options), works);
    case PerfColl::kBroadcast:
      return Push(coll::BroadcastAsync(comm, send, recv, p, c.type, c.root, options), works);
    case PerfColl::kReduce:
      return Push(coll::ReduceAsync(comm, send, recv, p, c.type, c.op, c.root, options), works);
    case PerfColl::kAllToAll:
      return Push(
          coll::AllToAllAsync(comm, send, c.in_place ? buffers.staging : recv, p, c.type, options),
          works);
    case PerfColl::kSendRecv:
      return StartSendRecv(comm, c, buffers, works);
  }
  return InternalError("rank ", comm.rank(), ": unknown collective ", static_cast<int>(coll));
}

void FinishOne(PerfColl coll, const CollCase& c, const CollBuffers& buffers) {
  if (!c.in_place) {
    return;
  }
  if (coll == PerfColl::kAllToAll || coll == PerfColl::kSendRecv) {
    std::memcpy(buffers.recv, buffers.staging, RecvBytes(c));
  }
}

bool RunsOneAtATime(PerfColl coll, const CollCase& c) {
  return coll == PerfColl::kSendRecv || (coll == PerfColl::kAllToAll && c.in_place);
}

size_t SendBytes(const CollCase& c) { return c.counts.send * ElemBytes(c); }
size_t RecvBytes(const CollCase& c) { return c.counts.recv * ElemBytes(c); }

}  // namespace tidal::perf

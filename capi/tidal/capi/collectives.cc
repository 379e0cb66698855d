// tidal.h's collectives over tidal/coll/collectives.h. Each collective has one implementation
// here that serves both C forms: blocking (the C++ blocking call) and _async (the C++ *Async
// call, its Work moved into a new tidal_work). The C layer checks only what C++ cannot see: NULL
// handles and out-pointers, NULL count arrays, and enum values that do not fit the C++ enums
// (its messages name rank and operation as the collectives' do); everything else (NULL buffers
// with count > 0, unknown types and ops, roots and peers out of range) is checked by the
// collectives.
#include <memory>
#include <span>
#include <string_view>
#include <utility>

#include "tidal/capi/internal.h"
#include "tidal/core/strcat.h"

namespace {

using tidal::Communicator;
using tidal::Result;
using tidal::Status;
using tidal::Work;
using tidal::capi::CheckNotNull;
using tidal::capi::Run;
using tidal::coll::CollKind;
using tidal::coll::DataType;
using tidal::coll::ReduceOp;
namespace coll = tidal::coll;

// Which form was called: blocking, or _async with its out-pointer.
struct Out {
  bool async = false;
  tidal_work_t* work = nullptr;
};
constexpr Out kBlocking{};
Out Async(tidal_work_t* work) { return Out{true, work}; }

// What every collective starts from.
struct Issue {
  Communicator* comm;
  CollKind kind;
  coll::CollOptions options;
};

// Checks the handle and, for the _async form, the out-pointer (set to NULL first, so that it is
// NULL on every failure).
Result<Issue> Begin(tidal_comm_t comm, CollKind kind, Out out) {
  if (out.async) {
    TIDAL_RETURN_IF_ERROR(CheckNotNull(out.work, "work"));
    *out.work = nullptr;
  }
  TIDAL_ASSIGN_OR_RETURN(Communicator * c, tidal::capi::GetComm(comm));
  return Issue{c, kind, tidal::capi::OptionsFor(*comm, kind)};
}

// The C layer's own argument errors, naming rank and operation as the collectives' messages do.
Status Named(const Issue& is, const Status& status) {
  return status.WithContext(
      tidal::StrCat("rank ", is.comm->rank(), ": ", coll::CollKindName(is.kind)));
}

Result<DataType> TypeOf(const Issue& is, tidal_datatype_t type) {
  Result<DataType> t = tidal::capi::ToDataType(type);
  if (!t.ok()) return Named(is, t.status());
  return t;
}

Result<ReduceOp> OpOf(const Issue& is, tidal_redop_t op) {
  Result<ReduceOp> o = tidal::capi::ToReduceOp(op);
  if (!o.ok()) return Named(is, o.status());
  return o;
}

Status NotNull(const Issue& is, const void* p, std::string_view what) {
  return Named(is, CheckNotNull(p, what));
}

// Hands an _async call's Work to the caller.
Status Finish(Out out, Result<Work> work) {
  if (!work.ok()) return std::move(work).status();
  *out.work = new tidal_work{std::move(work).value()};
  return Status::Ok();
}

// `n` entries at `p`; NULL gives an empty span.
std::span<const size_t> Entries(const size_t* p, const Communicator& comm) {
  if (p == nullptr) return {};
  return {p, static_cast<size_t>(comm.size())};
}

tidal_result_t AllReduce(std::string_view fn, Out out, tidal_comm_t comm, const void* send,
                         void* recv, size_t count, tidal_datatype_t type, tidal_redop_t op) {
  return Run(fn, [&]() -> Status {
    TIDAL_ASSIGN_OR_RETURN(Issue is, Begin(comm, CollKind::kAllReduce, out));
    TIDAL_ASSIGN_OR_RETURN(DataType t, TypeOf(is, type));
    TIDAL_ASSIGN_OR_RETURN(ReduceOp o, OpOf(is, op));
    if (!out.async) return coll::AllReduce(*is.comm, send, recv, count, t, o, is.options);
    return Finish(out, coll::AllReduceAsync(*is.comm, send, recv, count, t, o, is.options));
  });
}

tidal_result_t ReduceScatter(std::string_view fn, Out out, tidal_comm_t comm, const void* send,
                             void* recv, size_t recv_count, tidal_datatype_t type,
                             tidal_redop_t op) {
  return Run(fn, [&]() -> Status {
    TIDAL_ASSIGN_OR_RETURN(Issue is, Begin(comm, CollKind::kReduceScatter, out));
    TIDAL_ASSIGN_OR_RETURN(DataType t, TypeOf(is, type));
    TIDAL_ASSIGN_OR_RETURN(ReduceOp o, OpOf(is, op));
    if (!out.async) {
      return coll::ReduceScatter(*is.comm, send, recv, recv_count, t, o, is.options);
    }
    return Finish(out,
                  coll::ReduceScatterAsync(*is.comm, send, recv, recv_count, t, o, is.options));
  });
}

tidal_result_t AllGather(std::string_view fn, Out out, tidal_comm_t comm, const void* send,
                         void* recv, size_t send_count, tidal_datatype_t type) {
  return Run(fn, [&]() -> Status {
    TIDAL_ASSIGN_OR_RETURN(Issue is, Begin(comm, CollKind::kAllGather, out));
    TIDAL_ASSIGN_OR_RETURN(DataType t, TypeOf(is, type));
    if (!out.async) return coll::AllGather(*is.comm, send, recv, send_count, t, is.options);
    return Finish(out, coll::AllGatherAsync(*is.comm, send, recv, send_count, t, is.options));
  });
}

tidal_result_t AllGatherV(std::string_view fn, Out out, tidal_comm_t comm, const void* send,
                          size_t send_count, void* recv, const size_t* recv_counts,
                          const size_t* displs, tidal_datatype_t type) {
  return Run(fn, [&]() -> Status {
    TIDAL_ASSIGN_OR_RETURN(Issue is, Begin(comm, CollKind::kAllGatherV, out));
    TIDAL_ASSIGN_OR_RETURN(DataType t, TypeOf(is, type));
    TIDAL_RETURN_IF_ERROR(NotNull(is, recv_counts, "recv_counts"));
    const std::span<const size_t> counts = Entries(recv_counts, *is.comm);
    const std::span<const size_t> at = Entries(displs, *is.comm);
    if (!out.async) {
      return coll::AllGatherV(*is.comm, send, send_count, recv, counts, at, t, is.options);
    }
    return Finish(
        out, coll::AllGatherVAsync(*is.comm, send, send_count, recv, counts, at, t, is.options));
  });
}

tidal_result_t Broadcast(std::string_view fn, Out out, tidal_comm_t comm, const void* send,
                         void* recv, size_t count, tidal_datatype_t type, int root) {
  return Run(fn, [&]() -> Status {
    TIDAL_ASSIGN_OR_RETURN(Issue is, Begin(comm, CollKind::kBroadcast, out));
    TIDAL_ASSIGN_OR_RETURN(DataType t, TypeOf(is, type));
    if (!out.async) return coll::Broadcast(*is.comm, send, recv, count, t, root, is.options);
    return Finish(out, coll::BroadcastAsync(*is.comm, send, recv, count, t, root, is.options));
  });
}

tidal_result_t Reduce(std::string_view fn, Out out, tidal_comm_t comm, const void* send, void* recv,
                      size_t count, tidal_datatype_t type, tidal_redop_t op, int root) {
  return Run(fn, [&]() -> Status {
    TIDAL_ASSIGN_OR_RETURN(Issue is, Begin(comm, CollKind::kReduce, out));
    TIDAL_ASSIGN_OR_RETURN(DataType t, TypeOf(is, type));
    TIDAL_ASSIGN_OR_RETURN(ReduceOp o, OpOf(is, op));
    if (!out.async) return coll::Reduce(*is.comm, send, recv, count, t, o, root, is.options);
    return Finish(out, coll::ReduceAsync(*is.comm, send, recv, count, t, o, root, is.options));
  });
}

tidal_result_t AllToAll(std::string_view fn, Out out, tidal_comm_t comm, const void* send,
                        void* recv, size_t count, tidal_datatype_t type) {
  return Run(fn, [&]() -> Status {
    TIDAL_ASSIGN_OR_RETURN(Issue is, Begin(comm, CollKind::kAllToAll, out));
    TIDAL_ASSIGN_OR_RETURN(DataType t, TypeOf(is, type));
    if (!out.async) return coll::AllToAll(*is.comm, send, recv, count, t, is.options);
    return Finish(out, coll::AllToAllAsync(*is.comm, send, recv, count, t, is.options));
  });
}

// The four arrays of AllToAllV, as spans of size() entries.
struct VLayout {
  std::span<const size_t> send_counts, send_displs, recv_counts, recv_displs;
};

Result<VLayout> AllToAllVLayout(const Issue& is, const size_t* send_counts,
                                const size_t* send_displs, const size_t* recv_counts,
                                const size_t* recv_displs) {
  TIDAL_RETURN_IF_ERROR(NotNull(is, send_counts, "send_counts"));
  TIDAL_RETURN_IF_ERROR(NotNull(is, send_displs, "send_displs"));
  TIDAL_RETURN_IF_ERROR(NotNull(is, recv_counts, "recv_counts"));
  TIDAL_RETURN_IF_ERROR(NotNull(is, recv_displs, "recv_displs"));
  const Communicator& comm = *is.comm;
  return VLayout{Entries(send_counts, comm), Entries(send_displs, comm), Entries(recv_counts, comm),
                 Entries(recv_displs, comm)};
}

tidal_result_t AllToAllV(std::string_view fn, Out out, tidal_comm_t comm, const void* send,
                         const size_t* send_counts, const size_t* send_displs, void* recv,
                         const size_t* recv_counts, const size_t* recv_displs,
                         tidal_datatype_t type) {
  return Run(fn, [&]() -> Status {
    TIDAL_ASSIGN_OR_RETURN(Issue is, Begin(comm, CollKind::kAllToAllV, out));
    TIDAL_ASSIGN_OR_RETURN(DataType t, TypeOf(is, type));
    TIDAL_ASSIGN_OR_RETURN(VLayout v,
                           AllToAllVLayout(is, send_counts, send_displs, recv_counts, recv_displs));
    if (!out.async) {
      return coll::AllToAllV(*is.comm, send, v.send_counts, v.send_displs, recv, v.recv_counts,
                             v.recv_displs, t, is.options);
    }
    return Finish(out, coll::AllToAllVAsync(*is.comm, send, v.send_counts, v.send_displs, recv,
                                            v.recv_counts, v.recv_displs, t, is.options));
  });
}

tidal_result_t Barrier(std::string_view fn, Out out, tidal_comm_t comm) {
  return Run(fn, [&]() -> Status {
    TIDAL_ASSIGN_OR_RETURN(Issue is, Begin(comm, CollKind::kBarrier, out));
    if (!out.async) return coll::Barrier(*is.comm, is.options);
    return Finish(out, coll::BarrierAsync(*is.comm, is.options));
  });
}

tidal_result_t Send(std::string_view fn, Out out, tidal_comm_t comm, const void* buf, size_t count,
                    tidal_datatype_t type, int peer, uint32_t tag) {
  return Run(fn, [&]() -> Status {
    TIDAL_ASSIGN_OR_RETURN(Issue is, Begin(comm, CollKind::kSend, out));
    TIDAL_ASSIGN_OR_RETURN(DataType t, TypeOf(is, type));
    if (!out.async) return coll::Send(*is.comm, buf, count, t, peer, tag, is.options);
    return Finish(out, coll::SendAsync(*is.comm, buf, count, t, peer, tag));
  });
}

tidal_result_t Recv(std::string_view fn, Out out, tidal_comm_t comm, void* buf, size_t count,
                    tidal_datatype_t type, int peer, uint32_t tag) {
  return Run(fn, [&]() -> Status {
    TIDAL_ASSIGN_OR_RETURN(Issue is, Begin(comm, CollKind::kRecv, out));
    TIDAL_ASSIGN_OR_RETURN(DataType t, TypeOf(is, type));
    if (!out.async) return coll::Recv(*is.comm, buf, count, t, peer, tag, is.options);
    return Finish(out, coll::RecvAsync(*is.comm, buf, count, t, peer, tag));
  });
}

}  // namespace

extern "C" {

tidal_result_t tidal_allreduce(tidal_comm_t comm, const void* send, void* recv, size_t count,
                               tidal_datatype_t type, tidal_redop_t op) {
  return AllReduce("tidal_allreduce", kBlocking, comm, send, recv, count, type, op);
}

tidal_result_t tidal_allreduce_async(tidal_comm_t comm, const void* send, void* recv, size_t count,
                                     tidal_datatype_t type, tidal_redop_t op, tidal_work_t* work) {
  return AllReduce("tidal_allreduce_async", Async(work), comm, send, recv, count, type, op);
}

tidal_result_t tidal_reduce_scatter(tidal_comm_t comm, const void* send, void* recv,
                                    size_t recv_count, tidal_datatype_t type, tidal_redop_t op) {
  return ReduceScatter("tidal_reduce_scatter", kBlocking, comm, send, recv, recv_count, type, op);
}

tidal_result_t tidal_reduce_scatter_async(tidal_comm_t comm, const void* send, void* recv,
                                          size_t recv_count, tidal_datatype_t type,
                                          tidal_redop_t op, tidal_work_t* work) {
  return ReduceScatter("tidal_reduce_scatter_async", Async(work), comm, send, recv, recv_count,
                       type, op);
}

tidal_result_t tidal_allgather(tidal_comm_t comm, const void* send, void* recv, size_t send_count,
                               tidal_datatype_t type) {
  return AllGather("tidal_allgather", kBlocking, comm, send, recv, send_count, type);
}

tidal_result_t tidal_allgather_async(tidal_comm_t comm, const void* send, void* recv,
                                     size_t send_count, tidal_datatype_t type, tidal_work_t* work) {
  return AllGather("tidal_allgather_async", Async(work), comm, send, recv, send_count, type);
}

tidal_result_t tidal_allgatherv(tidal_comm_t comm, const void* send, size_t send_count, void* recv,
                                const size_t* recv_counts, const size_t* displs,
                                tidal_datatype_t type) {
  return AllGatherV("tidal_allgatherv", kBlocking, comm, send, send_count, recv, recv_counts,
                    displs, type);
}

tidal_result_t tidal_allgatherv_async(tidal_comm_t comm, const void* send, size_t send_count,
                                      void* recv, const size_t* recv_counts, const size_t* displs,
                                      tidal_datatype_t type, tidal_work_t* work) {
  return AllGatherV("tidal_allgatherv_async", Async(work), comm, send, send_count, recv,
                    recv_counts, displs, type);
}

tidal_result_t tidal_broadcast(tidal_comm_t comm, const void* send, void* recv, size_t count,
                               tidal_datatype_t type, int root) {
  return Broadcast("tidal_broadcast", kBlocking, comm, send, recv, count, type, root);
}

tidal_result_t tidal_broadcast_async(tidal_comm_t comm, const void* send, void* recv, size_t count,
                                     tidal_datatype_t type, int root, tidal_work_t* work) {
  return Broadcast("tidal_broadcast_async", Async(work), comm, send, recv, count, type, root);
}

tidal_result_t tidal_reduce(tidal_comm_t comm, const void* send, void* recv, size_t count,
                            tidal_datatype_t type, tidal_redop_t op, int root) {
  return Reduce("tidal_reduce", kBlocking, comm, send, recv, count, type, op, root);
}

tidal_result_t tidal_reduce_async(tidal_comm_t comm, const void* send, void* recv, size_t count,
                                  tidal_datatype_t type, tidal_redop_t op, int root,
                                  tidal_work_t* work) {
  return Reduce("tidal_reduce_async", Async(work), comm, send, recv, count, type, op, root);
}

tidal_result_t tidal_alltoall(tidal_comm_t comm, const void* send, void* recv, size_t count,
                              tidal_datatype_t type) {
  return AllToAll("tidal_alltoall", kBlocking, comm, send, recv, count, type);
}

tidal_result_t tidal_alltoall_async(tidal_comm_t comm, const void* send, void* recv, size_t count,
                                    tidal_datatype_t type, tidal_work_t* work) {
  return AllToAll("tidal_alltoall_async", Async(work), comm, send, recv, count, type);
}

tidal_result_t tidal_alltoallv(tidal_comm_t comm, const void* send, const size_t* send_counts,
                               const size_t* send_displs, void* recv, const size_t* recv_counts,
                               const size_t* recv_displs, tidal_datatype_t type) {
  return AllToAllV("tidal_alltoallv", kBlocking, comm, send, send_counts, send_displs, recv,
                   recv_counts, recv_displs, type);
}

tidal_result_t tidal_alltoallv_async(tidal_comm_t comm, const void* send, const size_t* send_counts,
                                     const size_t* send_displs, void* recv,
                                     const size_t* recv_counts, const size_t* recv_displs,
                                     tidal_datatype_t type, tidal_work_t* work) {
  return AllToAllV("tidal_alltoallv_async", Async(work), comm, send, send_counts, send_displs, recv,
                   recv_counts, recv_displs, type);
}

tidal_result_t tidal_barrier(tidal_comm_t comm) {
  return Barrier("tidal_barrier", kBlocking, comm);
}

tidal_result_t tidal_barrier_async(tidal_comm_t comm, tidal_work_t* work) {
  return Barrier("tidal_barrier_async", Async(work), comm);
}

tidal_result_t tidal_send(tidal_comm_t comm, const void* buf, size_t count, tidal_datatype_t type,
                          int peer, uint32_t tag) {
  return Send("tidal_send", kBlocking, comm, buf, count, type, peer, tag);
}

tidal_result_t tidal_send_async(tidal_comm_t comm, const void* buf, size_t count,
                                tidal_datatype_t type, int peer, uint32_t tag, tidal_work_t* work) {
  return Send("tidal_send_async", Async(work), comm, buf, count, type, peer, tag);
}

tidal_result_t tidal_recv(tidal_comm_t comm, void* buf, size_t count, tidal_datatype_t type,
                          int peer, uint32_t tag) {
  return Recv("tidal_recv", kBlocking, comm, buf, count, type, peer, tag);
}

tidal_result_t tidal_recv_async(tidal_comm_t comm, void* buf, size_t count, tidal_datatype_t type,
                                int peer, uint32_t tag, tidal_work_t* work) {
  return Recv("tidal_recv_async", Async(work), comm, buf, count, type, peer, tag);
}

}  // extern "C"

// The seven collectives of the perf tools, as nccl-tests defines them: buffer sizes and the count
// passed to the call (getCollByteCount), bandwidth (getBw), where the in-place variant puts its
// buffers, what each rank's buffers hold before a check and what they must hold after it, and how
// one operation is issued through tidal's API (tidal/coll/collectives.h).
//
// nccl-tests conventions (size = the -b..-e value, count = size / type size, n ranks):
//   tool                 send         recv         "count" column   algbw bytes      busbw factor
//   all_reduce_perf      count        count        count            count            2(n-1)/n
//   reduce_scatter_perf  count/n*n    count/n      count/n          count/n*n        (n-1)/n
//   all_gather_perf      count/n      count/n*n    count/n          count/n*n        (n-1)/n
//   broadcast_perf       count        count        count            count            1
//   reduce_perf          count        count        count            count            1
//   alltoall_perf        count/n*n    count/n*n    count/n          count/n*n        (n-1)/n
//   sendrecv_perf        count        count        count            count            1
// The "size" column is max(send, recv) bytes; algbw = algbw bytes / time (1e9 B/s).
//
// In place, with tidal's conventions: AllReduce, Broadcast, Reduce and ReduceScatter pass one
// pointer as send and recv (ReduceScatter's result lands at the start of the buffer, where NCCL
// puts it at rank * recvcount); AllGather sends from recv + rank * count. tidal's AllToAll is out
// of place only (collectives.h) and a send and a receive may not share a buffer, so in-place
// alltoall and sendrecv have MPI_IN_PLACE semantics: the operation receives into a staging buffer
// that is copied back before the iteration ends (the copy is timed; nccl-tests runs these in place
// unchecked). Such iterations run one at a time, and so do all sendrecv iterations: tidal starts
// consecutive point-to-point operations together, so queued exchanges would overlap instead of
// following each other as on an NCCL stream.
//
// Thread safety: pure functions and one thread's buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tidal/coll/algorithm.h"
#include "tidal/coll/collectives.h"
#include "tidal/coll/types.h"
#include "tidal/comm/communicator.h"
#include "tidal/comm/work.h"
#include "tidal/core/status.h"

namespace tidal::perf {

enum class PerfColl : uint8_t {
  kAllReduce,
  kReduceScatter,
  kAllGather,
  kBroadcast,
  kReduce,
  kAllToAll,
  kSendRecv
};

struct CollSpec {
  PerfColl coll;
  std::string_view tool;  // "all_reduce_perf"
  std::string_view name;  // "AllReduce"
  coll::CollKind kind;    // for algorithm names and checks
  bool reduces;           // takes -o; prints the op (sendrecv prints it too, as nccl-tests)
  bool uses_op;           // the op changes the operation (and the check's data)
  bool rooted;            // takes -r; prints the root
};

const CollSpec& SpecOf(PerfColl coll);

// Elements per rank, from nccl-tests' getCollByteCount.
struct CollCounts {
  size_t send = 0;   // the send buffer
  size_t recv = 0;   // the receive buffer
  size_t param = 0;  // the count the call takes; the "count" column
};
CollCounts CountsFor(PerfColl coll, size_t count, int n);
// algbw and busbw in GB/s (1e9 B/s) for one operation of `seconds`.
struct Bandwidth {
  double alg = 0;
  double bus = 0;
};
Bandwidth BandwidthFor(PerfColl coll, const CollCounts& counts, size_t elem_bytes, int n,
                       double seconds);

// One row's operation on this rank.
struct CollCase {
  coll::DataType type = coll::DataType::kFloat32;
  coll::ReduceOp op = coll::ReduceOp::kSum;
  int root = 0;
  CollCounts counts;
  bool in_place = false;
};

// The buffers, allocated once at the largest size (every one at least max bytes).
struct CollBuffers {
  uint8_t* send = nullptr;
  uint8_t* recv = nullptr;
  uint8_t* staging = nullptr;  // alltoall and sendrecv only
};

// A region of a buffer and the pattern table (pattern.h) it holds: elements
// [offset, offset + count) equal table `table` from element `first` on. Output regions are
// poisoned with the table's inversion before the operation; an `untouched` output region must
// still hold that poison afterwards (Reduce's non-roots out of place).
struct Region {
  size_t offset = 0;
  size_t count = 0;
  int table = 0;
  size_t first = 0;
  bool untouched = false;
};

// A check: `send_ptr` gets `inputs`, then after the operation `recv_ptr` must hold `outputs`
// (offsets in elements). In place both point into `recv`, and the outputs are poisoned before
// the inputs are written; for the staged variants `recv_ptr` is where the copy back lands.
// `expected_table` is the pattern's reduced table.
struct CheckPlan {
  uint8_t* send_ptr = nullptr;
  uint8_t* recv_ptr = nullptr;
  std::vector<Region> inputs;
  std::vector<Region> outputs;
};
CheckPlan PlanCheck(PerfColl coll, const CollCase& c, const CollBuffers& buffers,
                    const Communicator& comm, int expected_table);

// Issues one operation of `c`: its Works are appended to `works` (sendrecv: two). Blocking
// callers wait on them and then call FinishOne.
Status StartOne(PerfColl coll, Communicator& comm, const CollCase& c, const CollBuffers& buffers,
                const coll::CollOptions& options, std::vector<Work>& works);
// After the works of one operation finished: the staged variants' copy back.
void FinishOne(PerfColl coll, const CollCase& c, const CollBuffers& buffers);
// One operation through the blocking API (AllReduce: coll::AllReduce, which may run inline;
// the others: the asynchronous call and its Wait), then FinishOne is up to the caller.
Status RunOneBlocking(PerfColl coll, Communicator& comm, const CollCase& c,
                      const CollBuffers& buffers, const coll::CollOptions& options);
// Whether iterations must run one at a time (start, wait, finish).
bool RunsOneAtATime(PerfColl coll, const CollCase& c);
// The bytes of send and recv that an operation of `c` touches (to clear them before timing).
size_t SendBytes(const CollCase& c);
size_t RecvBytes(const CollCase& c);

}  // namespace tidal::perf

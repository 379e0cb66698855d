// Bench: measures one row (size, type, op, root) of a collective perf tool, out of place and then
// in place, the way nccl-tests' BenchTime does:
//   time:  clear the buffers, one untimed operation, a barrier, then `iters` operations issued
//          back to back in the communicator's stream and waited for at the end (with -N: each
//          waited for and followed by a barrier; sendrecv and the staged in-place alltoall: each
//          waited for); the time per iteration is aggregated over ranks per -a.
//   check: -c times, fresh closed-form data (pattern.h) with a new seed: inputs written, outputs
//          poisoned, one operation, then every output element compared with the expectation.
// Per-rank figures meet on rank 0 through point-to-point messages (Communicator::Send/Recv, not
// the collectives under test), and rank 0 sends the totals back, so every rank learns whether a
// check failed anywhere.
//
// Thread safety: one thread drives a Bench (the thread that issues the communicator's operations).
#pragma once

#include <cstdint>
#include <vector>

#include "coll_perf/colls.h"
#include "tidal/coll/collectives.h"
#include "tidal/comm/communicator.h"
#include "tidal/comm/work.h"
#include "tidal/core/status.h"

namespace tidal::perf {

struct BenchConfig {
  int iters = 20;
  int warmup = 5;
  int checks = 1;
  int average = 1;  // 0 rank 0, 1 average, 2 minimum, 3 maximum
  bool blocking = false;
  coll::CollOptions options;
};

// One placement's result, aggregated over ranks.
struct Placed {
  double seconds = 0;        // per iteration
  int64_t wrong = -1;        // wrong elements summed over ranks; -1: not checked
  int64_t failed_ranks = 0;  // ranks whose check found a wrong element
};

struct RowResult {
  CollCase c;  // in_place unset
  Placed out_of_place;
  Placed in_place;
};

class Bench {
 public:
  // `comm` and the buffers outlive the Bench; the buffers hold at least the bytes of every case
  // measured (and `staging` is set for alltoall and sendrecv).
  Bench(PerfColl coll, Communicator& comm, const CollBuffers& buffers, const BenchConfig& config);

  // nccl-tests' warm-up before each (type, op, root): `warmup` operations of `largest`, then of
  // `smallest`.
  Status Warmup(const CollCase& largest, const CollCase& smallest);
  // Times and checks `c` out of place and in place. Collective over the communicator.
  Result<RowResult> Measure(const CollCase& c);

 private:
  Status Run(const CollCase& c, int iters);
  Status WaitAll();
  Result<double> Time(const CollCase& c);
  Result<uint64_t> Check(const CollCase& c, uint64_t seed);
  // Aggregates both placements' local figures over the ranks into `row`.
  Status Tally(const double seconds[2], const uint64_t wrong[2], RowResult& row);

  PerfColl coll_;
  Communicator& comm_;
  CollBuffers buffers_;
  BenchConfig config_;
  uint64_t checks_run_ = 0;
  std::vector<Work> works_;
};

}  // namespace tidal::perf

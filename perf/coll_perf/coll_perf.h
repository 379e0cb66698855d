// The collective perf tools: all_reduce_perf, reduce_scatter_perf, all_gather_perf,
// broadcast_perf, reduce_perf, alltoall_perf and sendrecv_perf, nccl-tests' tools on tidal's
// collectives (tidal/coll/collectives.h) over host memory. Same flags (options.h), same sizes,
// counts and bandwidth formulas (colls.h), same table (report.h), so the numbers compare with
// published NCCL tables:
//
//   tidalrun -n 4 all_reduce_perf -b 8 -e 256M -f 2 -c 1 [-d all] [-o all] [-A ring] [-J out.json]
//
// Each rank joins the world (Communicator::CreateWorld: tidalrun, torchrun, Open MPI, Slurm, or
// alone), allocates its buffers once at -e, and runs, for every type, op and root, nccl-tests'
// warm-up and then every size out of place and in place (bench.h). Rank 0 prints. Every rank exits
// non-zero on an error or when a check found a wrong element on any rank.
//
// Not a library: it prints, and owns the process (the world communicator).
//
// Thread safety: one thread.
#pragma once

#include "coll_perf/colls.h"

namespace tidal::perf {

// The whole tool: parses argv, runs, prints; returns the process's exit code.
int CollPerfMain(PerfColl coll, int argc, char** argv);

}  // namespace tidal::perf

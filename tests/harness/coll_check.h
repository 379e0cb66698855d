// One collective call, run on one rank and checked against the reference of coll_data.h: the
// building block of the collectives' correctness matrix (multirank/collectives_matrix_test.cc,
// cooperative mode) and of its sample over real UCX (ucx/collectives_ucx_test.cc, processes).
//
//   CollCase c;
//   c.kind = CollKind::kAllReduce; c.type = DataType::kBFloat16; c.op = ReduceOp::kAvg;
//   c.count = 1023; c.algorithm = Algorithm::kRing; c.in_place = true;
//   RunWorld(world, [&](RankEnv& env) { RunCollective(*MakeCommunicator(env), c); });
//
// What is checked, besides the result being bit-identical to the reference on every rank: the
// send buffer of an out-of-place call is unchanged, bytes outside the result (guard bytes around
// every buffer, the gaps between V-variant blocks, a non-root's recv of Reduce) are not written,
// and a failing status is reported with the case's description. Failures are gtest failures
// (non-fatal for data, fatal for a non-OK status: the caller should stop issuing collectives when
// ::testing::Test::HasFailure(), since its peers are no longer in step).
//
// Buffers: each lives in its own allocation, `*_offset` bytes past an 8-byte-aligned address (an
// offset of 1 misaligns every multi-byte type; an offset of one element keeps alignment but moves
// the boundaries). In place: AllReduce/Reduce/Broadcast pass the same pointer; ReduceScatter's
// recv is send + rank * count (NCCL's convention); AllGather's send is recv + rank * count;
// AllGatherV's send is recv + displs[rank]; AllToAll passes the same pointer (collectives.h: the
// send buffer is then copied to scratch). AllToAllV, Barrier and Send/Recv have no in-place form
// here (in_place is ignored).
//
// Thread safety: RunCollective runs on the rank's own thread or fiber; RunCases and ScopedEnv on
// the test's main thread; the functions are otherwise pure.
#pragma once

#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "harness/comm_world.h"
#include "harness/world.h"
#include "tidal/coll/algorithm.h"
#include "tidal/coll/types.h"
#include "tidal/comm/communicator.h"

namespace tidal::testing {

struct CollCase {
  // kSend means a ring of typed Send/Recv: rank r sends to r + 1 and receives from r - 1.
  coll::CollKind kind = coll::CollKind::kAllReduce;
  coll::DataType type = coll::DataType::kFloat32;
  coll::ReduceOp op = coll::ReduceOp::kSum;  // reductions only
  // Elements per rank: AllReduce/Reduce/Broadcast/Send count, ReduceScatter's recv_count,
  // AllGather's send_count, AllToAll's count per peer; the V variants derive their uneven counts
  // (zeros included) from it.
  size_t count = 0;
  int root = 0;  // Broadcast, Reduce
  coll::Algorithm algorithm = coll::Algorithm::kAuto;
  bool in_place = false;
  // V variants: explicit displacements with gaps, blocks in reverse rank order (else packed; for
  // AllGatherV an empty displs span).
  bool gaps = false;
  size_t send_offset = 0;  // bytes past an aligned address
  size_t recv_offset = 0;
  // Run on a one-host communicator (RunCases): shm needs it, and kAuto then picks shm for
  // AllReduce. Implied by algorithm == kShm.
  bool one_host = false;
};

// "allreduce n=4 bfloat16 avg count=1023 algo=ring in-place" (and root, gaps, offsets when set).
std::string Describe(const CollCase& c, int n);

bool IsReduction(coll::CollKind kind);

// The reference elements a reduction case needs: Expected(type, op, n, 0, ReferenceCount(c, n))
// (count, or n * count for ReduceScatter).
size_t ReferenceCount(const CollCase& c, int n);

// The counts of the V variants, from the base count: AllGatherV rank r contributes
// GatherVCount(r, count); AllToAllV sends AllToAllVCount(src, dst, count) elements from src to dst.
// Zero for some ranks/pairs whenever count > 0, and uneven otherwise.
size_t GatherVCount(int rank, size_t count);
size_t AllToAllVCount(int src, int dst, size_t count);

// Runs `c` on this rank of `comm` and checks it (see the note above). `expected`: the reduction
// reference, precomputed once per world to save time; nullptr: computed here.
void RunCollective(Communicator& comm, const CollCase& c,
                   const std::vector<uint8_t>* expected = nullptr);

// Layouts. shm runs only when every member is on one host (n >= 2): its cases get a
// Layout::kOneHost communicator. Every other case runs on two interleaved synthetic hosts, where
// ring order differs from rank order (comm_world.h).
bool NeedsOneHost(coll::Algorithm algorithm);
bool NeedsOneHost(const CollCase& c);
CommSetup SetupFor(coll::Algorithm algorithm);
// Whether `algorithm` can run in an n-rank world in its layout (shm needs n >= 2; hier equal ranks
// on the two interleaved hosts: n even, or 1).
bool Runnable(coll::Algorithm algorithm, int n);
// kAuto, then AlgorithmsFor(kind), less those that cannot run with n ranks.
std::vector<coll::Algorithm> AlgorithmsWithAuto(coll::CollKind kind, int n);

// Runs `cases` in order on every rank of a world made from `world` and stops at the first failure:
// the interleaved-host cases in one world, then the one-host cases (NeedsOneHost) in another.
// `expected` maps a case's index to its precomputed reduction reference (see RunCollective).
void RunCases(const WorldOptions& world, const std::vector<CollCase>& cases,
              const std::map<size_t, std::vector<uint8_t>>& expected = {});

// Sets an environment knob (TIDAL_SEGMENT_BYTES, TIDAL_CHECK_COLLECTIVES, ...) for the duration of
// a scope and restores it after. Knobs are read at each call; set them outside RunWorld, while no
// other thread reads the environment.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

// Every rank's `bytes` at `data` hash alike (an AllGather of the hashes, compared with rank 0's):
// the collectives' bit-identity promise. Collective over `comm`; failures are gtest failures.
void ExpectSameEverywhere(Communicator& comm, const void* data, size_t bytes);
inline void ExpectSameEverywhere(Communicator& comm, std::span<const float> x) {
  ExpectSameEverywhere(comm, x.data(), x.size_bytes());
}

}  // namespace tidal::testing

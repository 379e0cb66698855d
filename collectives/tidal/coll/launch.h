// Internal plumbing shared by the collectives' entry points (collectives.h): argument checks,
// the scratch memory an operation owns, the signature check of TIDAL_CHECK_COLLECTIVES, and
// launching a plan (executor.h) in the communicator's stream.
//
// Thread safety: functions of one call; the Scratch belongs to its operation's task.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tidal/coll/algorithm.h"
#include "tidal/coll/buffer_pool.h"
#include "tidal/coll/collectives.h"
#include "tidal/coll/executor.h"
#include "tidal/coll/types.h"

namespace tidal::coll::internal {

// Memory an operation owns until its task is destroyed (64-byte aligned blocks).
class Scratch {
 public:
  uint8_t* Alloc(size_t bytes);

 private:
  std::vector<PooledBuffer> blocks_;
};

// What every entry point knows about its call.
struct Call {
  Call(Communicator& c, CollKind k, DataType t, ReduceOp o, size_t n, int r = -1)
      : comm(c), kind(k), type(t), op(o), count(n), root(r) {}

  Communicator& comm;
  CollKind kind;
  DataType type = DataType::kUint8;
  ReduceOp op = ReduceOp::kSum;
  size_t count = 0;  // elements; the signature's count
  int root = -1;
  uint64_t extra = 0;  // a hash of V-variant counts, for the signature
  Algorithm algorithm = Algorithm::kDirect;
  HostShape hosts;  // where the members run (shm needs one host, hier equal ranks per host)
  uint32_t seq = 0;
  OpHooks hooks;  // CollOptions::delay, ready and on_finish
  std::string what;
};

// kInvalidArgument naming rank and operation, or OK.
Status CheckType(const Communicator& comm, CollKind kind, DataType type);
Status CheckOp(const Communicator& comm, CollKind kind, ReduceOp op);
Status CheckBuffer(const Communicator& comm, CollKind kind, const void* buffer, size_t count,
                   std::string_view name);
Status CheckRoot(const Communicator& comm, CollKind kind, int root);

// Selects the algorithm, takes the op sequence number and names the call.
// Takes delay, ready and on_finish from `options` into call.hooks.
Status Prepare(Call& call, Algorithm requested, size_t bytes, const CollOptions& options);

// Pipeline parameters from the knobs.
size_t SegmentElems(DataType type);
int PipelineDepth();

// Position -> world rank in ring order; rank -> world rank.
std::vector<int> RingPeers(const Communicator& comm);
std::vector<int> RankPeers(const Communicator& comm);

// True when `p` is aligned to the element size of `type` (the reduction kernels need it).
bool Aligned(const void* p, DataType type);

// Appends the signature exchange and comparison when TIDAL_CHECK_COLLECTIVES=1.
Status AddSignatureCheck(const Call& call, Scratch& scratch, std::vector<Stage>& stages);

// Queues the plan in the communicator's stream and returns its Work.
Result<Work> Launch(const Call& call, std::vector<Stage> stages, std::shared_ptr<Scratch> scratch,
                    bool async);

// Waits for a blocking call.
Status Block(Result<Work> work, const CollOptions& options);

// A local stage copying `bytes` from `src` to `dst` (nothing when equal or empty).
Stage CopyStage(const void* src, void* dst, size_t bytes);

}  // namespace tidal::coll::internal

#include "tidal/coll/launch.h"

#include <cstdlib>
#include <cstring>
#include <utility>

#include "tidal/coll/reduce.h"
#include "tidal/coll/schedule/ring.h"
#include "tidal/core/check.h"
#include "tidal/core/knobs.h"

namespace tidal::coll::internal {
namespace {

// One rank's view of an operation, as the members compare it (TIDAL_CHECK_COLLECTIVES).
struct WireSignature {
  uint8_t kind;
  uint8_t type;
  uint8_t op;
  uint8_t algorithm;
  int32_t root;
  uint64_t count;
  uint64_t extra;
};
static_assert(sizeof(WireSignature) == 24, "signatures travel as 24 raw bytes");

bool Reduces(CollKind kind) {
  return kind == CollKind::kAllReduce || kind == CollKind::kReduceScatter ||
         kind == CollKind::kReduce;
}

std::string Describe(const WireSignature& s) {
  std::string text = StrCat(CollKindName(static_cast<CollKind>(s.kind)), "(count=", s.count,
                            ", type=", DataTypeName(static_cast<DataType>(s.type)));
  if (Reduces(static_cast<CollKind>(s.kind))) {
    text += StrCat(", op=", ReduceOpName(static_cast<ReduceOp>(s.op)));
  }
  if (s.root >= 0) text += StrCat(", root=", s.root);
  if (s.extra != 0) text += StrCat(", counts hash=", s.extra);
  return text + StrCat(", algorithm=", AlgorithmName(static_cast<Algorithm>(s.algorithm)), ")");
}

Status CompareSignatures(const Call& call, const uint8_t* table, const std::vector<int>& ring) {
  const int n = call.comm.size();
  std::vector<WireSignature> by_rank(static_cast<size_t>(n));
  for (int p = 0; p < n; ++p) {
    std::memcpy(&by_rank[static_cast<size_t>(ring[static_cast<size_t>(p)])], table + p * 24, 24);
  }
  for (int r = 1; r < n; ++r) {
    if (std::memcmp(&by_rank[static_cast<size_t>(r)], &by_rank[0], 24) == 0) continue;
    return InvalidArgumentError("rank ", call.comm.rank(), ": ", call.what,
                                ": TIDAL_CHECK_COLLECTIVES: the ranks disagree: rank ", r,
                                " called ", Describe(by_rank[static_cast<size_t>(r)]),
                                " but rank 0 called ", Describe(by_rank[0]));
  }
  return Status::Ok();
}

}  // namespace

uint8_t* Scratch::Alloc(size_t bytes) {
  blocks_.push_back(AcquireBuffer(bytes));
  return blocks_.back().get();
}

Status CheckType(const Communicator& comm, CollKind kind, DataType type) {
  if (static_cast<uint8_t>(type) <= static_cast<uint8_t>(DataType::kInt64)) return Status::Ok();
  return InvalidArgumentError("rank ", comm.rank(), ": ", CollKindName(kind),
                              ": unknown data type ", static_cast<int>(type));
}

Status CheckOp(const Communicator& comm, CollKind kind, ReduceOp op) {
  if (static_cast<uint8_t>(op) <= static_cast<uint8_t>(ReduceOp::kAvg)) return Status::Ok();
  return InvalidArgumentError("rank ", comm.rank(), ": ", CollKindName(kind),
                              ": unknown reduction op ", static_cast<int>(op));
}

Status CheckBuffer(const Communicator& comm, CollKind kind, const void* buffer, size_t count,
                   std::string_view name) {
  if (buffer != nullptr || count == 0) return Status::Ok();
  return InvalidArgumentError("rank ", comm.rank(), ": ", CollKindName(kind), ": ", name,
                              " buffer is null with count ", count);
}

Status CheckRoot(const Communicator& comm, CollKind kind, int root) {
  if (root >= 0 && root < comm.size()) return Status::Ok();
  return InvalidArgumentError("rank ", comm.rank(), ": ", CollKindName(kind), ": root ", root,
                              " is not in [0, ", comm.size(), ")");
}

Status Prepare(Call& call, Algorithm requested, size_t bytes, const CollOptions& options) {
  call.hooks.delay = options.delay;
  call.hooks.ready = options.ready;
  call.hooks.on_finish = options.on_finish;
  Result<Algorithm> chosen =
      SelectAlgorithm(call.kind, requested, bytes, call.comm.size(), call.hosts);
  if (!chosen.ok()) {
    return Status(chosen.status().code(),
                  StrCat("rank ", call.comm.rank(), ": ", chosen.status().message()));
  }
  call.algorithm = *chosen;
  call.seq = call.comm.NextOpSeq();
  call.what = StrCat(CollKindName(call.kind), " #", call.seq, " of comm ", call.comm.id(), " (",
                     call.count, " x ", DataTypeName(call.type));
  if (Reduces(call.kind)) call.what += StrCat(", ", ReduceOpName(call.op));
  if (call.root >= 0) call.what += StrCat(", root ", call.root);
  call.what += StrCat(", ", AlgorithmName(call.algorithm), ")");
  return Status::Ok();
}

size_t SegmentElems(DataType type) {
  Result<int64_t> bytes = KnobInt(Knob::kSegmentBytes, 262144);
  const int64_t b = bytes.ok() && *bytes > 0 ? *bytes : 262144;
  return std::max<size_t>(1, static_cast<size_t>(b) / DataTypeSize(type));
}

int PipelineDepth() {
  Result<int64_t> depth = KnobInt(Knob::kPipelineDepth, 4);
  return depth.ok() && *depth > 0 ? static_cast<int>(std::min<int64_t>(*depth, 64)) : 4;
}

std::vector<int> RingPeers(const Communicator& comm) {
  std::vector<int> peers;
  for (int r : comm.ring_order()) peers.push_back(comm.world_rank(r));
  return peers;
}

std::vector<int> RankPeers(const Communicator& comm) {
  std::vector<int> peers;
  for (int r = 0; r < comm.size(); ++r) peers.push_back(comm.world_rank(r));
  return peers;
}

bool Aligned(const void* p, DataType type) {
  return reinterpret_cast<uintptr_t>(p) % DataTypeSize(type) == 0;
}

Status AddSignatureCheck(const Call& call, Scratch& scratch, std::vector<Stage>& stages) {
  Result<bool> enabled = KnobBool(Knob::kCheckCollectives, false);
  if (!enabled.ok()) return enabled.status();
  if (!*enabled) return Status::Ok();
  const int n = call.comm.size();
  const int position = call.comm.ring_position();
  const WireSignature mine{static_cast<uint8_t>(call.kind),
                           static_cast<uint8_t>(call.type),
                           static_cast<uint8_t>(call.op),
                           static_cast<uint8_t>(call.algorithm),
                           static_cast<int32_t>(call.root),
                           static_cast<uint64_t>(call.count),
                           call.extra};
  uint8_t* table = scratch.Alloc(static_cast<size_t>(n) * 24);
  std::memcpy(table + position * 24, &mine, 24);
  const size_t bytes = static_cast<size_t>(n) * 24;
  Stage exchange = Stage::Run(RingAllGatherSchedule(position, n, bytes, bytes),
                              RingPeers(call.comm), table, table);
  exchange.elem_bytes = 1;
  stages.push_back(std::move(exchange));
  stages.push_back(Stage::Local([table, ring = call.comm.ring_order(), copy = call]() {
    return CompareSignatures(copy, table, ring);
  }));
  return Status::Ok();
}

Result<Work> Launch(const Call& call, std::vector<Stage> stages, std::shared_ptr<Scratch> scratch,
                    bool async) {
  ExecutorConfig config;
  config.type = call.type;
  config.op = call.op;
  config.comm_id = call.comm.id();
  config.seq = call.seq;
  config.rank = call.comm.rank();
  config.members = RankPeers(call.comm);
  config.depth = PipelineDepth();
  config.what = call.what;
  auto task =
      std::make_shared<CollectiveTask>(std::move(config), std::move(stages), std::move(scratch));
  return call.comm.Enqueue(std::move(task), Communicator::OpClass::kCollective, call.what, async,
                           call.hooks);
}

Status Block(Result<Work> work, const CollOptions& options) {
  if (!work.ok()) return work.status();
  return options.deadline ? work->Wait(*options.deadline) : work->Wait();
}

Stage CopyStage(const void* src, void* dst, size_t bytes) {
  return Stage::Local([src, dst, bytes]() {
    if (src != dst && bytes > 0) std::memmove(dst, src, bytes);
    return Status::Ok();
  });
}

}  // namespace tidal::coll::internal

#include "tidal/coll/shm/shm_allreduce.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "tidal/coll/reduce.h"
#include "tidal/coll/shm/shm_oneshot.h"
#include "tidal/coll/shm/stream_copy.h"
#include "tidal/core/knobs.h"

namespace tidal::coll {
namespace {

static_assert(std::atomic<uint64_t>::is_always_lock_free, "counters live in shared memory");

constexpr int64_t kDefaultSlotBytes = 1 << 20;
constexpr int64_t kDefaultOneShotBytes = 32 << 10;
constexpr int64_t kDefaultStreamBytes = 4 << 20;

int UsableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

// Elements of piece `j` (of `piece` elements) of a range of `count` elements.
size_t PieceCount(size_t count, size_t piece, size_t j) {
  const size_t begin = j * piece;
  return begin >= count ? 0 : std::min(piece, count - begin);
}

size_t Rounds(const std::vector<ElementRange>& ranges, size_t piece) {
  size_t most = 0;
  for (const ElementRange& r : ranges) most = std::max(most, r.count);
  return (most + piece - 1) / piece;
}

}  // namespace

Result<ShmConfig> ReadShmConfig(int n, int rank) {
  ShmConfig config;
  Result<int64_t> bytes = KnobInt(Knob::kShmSlotBytes, kDefaultSlotBytes);
  const int64_t b = bytes.ok() && *bytes >= 4096 ? *bytes : kDefaultSlotBytes;
  config.slot_bytes = static_cast<size_t>(b);
  Result<int64_t> one_shot = KnobInt(Knob::kShmOneShotBytes, kDefaultOneShotBytes);
  config.one_shot_bytes =
      static_cast<size_t>(one_shot.ok() && *one_shot >= 0 ? *one_shot : kDefaultOneShotBytes);
  Result<int64_t> stream = KnobInt(Knob::kShmStreamBytes, kDefaultStreamBytes);
  const int64_t from = stream.ok() && *stream >= -1 ? *stream : kDefaultStreamBytes;
  config.stream_bytes = from < 0 ? SIZE_MAX : static_cast<size_t>(from);
  // auto looks at the host's online CPUs, not at this process's affinity: every rank of the host
  // must choose the same protocol.
  const std::string reducer = KnobString(Knob::kShmReducer);
  if (reducer == "every" || reducer == "last") {
    config.last_arriver = reducer == "last";
  } else if (reducer.empty() || reducer == "auto") {
    config.last_arriver = static_cast<long>(n) > std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN));
  } else {
    return InvalidArgumentError("rank ", rank, ": TIDAL_SHM_REDUCER=", reducer,
                                ": expected auto, every or last");
  }
  return config;
}

const char* ShmProtocolName(const ShmConfig& config, int n, size_t bytes) {
  const size_t slot = ShmSegment::SlotBytesFor(config.slot_bytes);
  if (!OneShotFits(bytes, n, config.one_shot_bytes, slot, config.last_arriver)) return "fused";
  return config.last_arriver ? "last" : "one-shot";
}

Result<ShmState*> GetShmState(Communicator& comm, Deadline deadline) {
  std::shared_ptr<void>& slot = comm.coll_state();
  if (slot == nullptr) {
    TIDAL_ASSIGN_OR_RETURN(const ShmConfig config, ReadShmConfig(comm.size(), comm.rank()));
    TIDAL_ASSIGN_OR_RETURN(std::unique_ptr<ShmSegment> segment,
                           ShmSegment::Attach(comm, config.slot_bytes, deadline));
    auto state = std::make_shared<ShmState>();
    state->segment = std::move(segment);
    state->one_shot_bytes = config.one_shot_bytes;
    state->stream_bytes = config.stream_bytes;
    state->last_arriver = config.last_arriver;
    state->oversubscribed = comm.size() > UsableCpus();
    slot = state;
  }
  auto* state = static_cast<ShmState*>(slot.get());
  if (state->broken) {
    return AbortedError("rank ", comm.rank(),
                        ": the on-host AllReduce state was lost when an earlier one failed; "
                        "abort the communicator");
  }
  return state;
}

ShmAllReduceTask::ShmAllReduceTask(Communicator& comm, ShmState& state, ShmAllReduceArgs args)
    : state_(state),
      seg_(*state.segment),
      args_(std::move(args)),
      n_(comm.size()),
      me_(comm.rank()),
      elem_(DataTypeSize(args_.type)) {
  for (int r = 0; r < n_; ++r) {
    members_.push_back(comm.world_rank(r));
    ranges_.push_back(OwnedRange(r, n_, args_.count));
  }
  ag_piece_ = std::max<size_t>(1, seg_.slot_bytes() / elem_);
  rs_piece_ = std::max<size_t>(1, ag_piece_ / static_cast<size_t>(n_));
  one_shot_ = UsesOneShot(state, args_.count * elem_, args_.owned || args_.on_shard != nullptr);
  fused_ = !one_shot_ && !args_.owned && args_.on_shard == nullptr;
  stream_ = fused_ && args_.count * elem_ >= state.stream_bytes;
  if (one_shot_) {
    rs_rounds_ = 1;
    last_arriver_ = state.last_arriver;
    if (last_arriver_) arrival_index_ = state.last_arriver_rounds++;
  } else if (fused_) {
    rs_rounds_ = 2 * Rounds(ranges_, rs_piece_);
  } else {
    rs_rounds_ = Rounds(ranges_, rs_piece_);
    ag_rounds_ = Rounds(ranges_, ag_piece_);
  }
  base_ = state.rounds_issued;
  state.rounds_issued += rs_rounds_ + ag_rounds_;
}

bool ShmAllReduceTask::AllAtLeast(bool posted, uint64_t round) const {
  return seg_.FirstBelow(posted, round) < 0;
}

Status ShmAllReduceTask::Write(size_t k, int set) {
  if (one_shot_) {
    OneShotWrite(seg_, me_, set, source_, args_.count * elem_);
    return Status::Ok();
  }
  if (fused_) {
    if (k % 2 == 1) return FusedReduce(k / 2, set);
    FusedWrite(k / 2, set);
    return Status::Ok();
  }
  uint8_t* slot = seg_.slot(me_, set);
  if (k < rs_rounds_) {
    for (int p = 0; p < n_; ++p) {
      const ElementRange& r = ranges_[static_cast<size_t>(p)];
      const size_t c = PieceCount(r.count, rs_piece_, k);
      if (c == 0) continue;
      std::memcpy(slot + static_cast<size_t>(p) * rs_piece_ * elem_,
                  args_.work + (r.begin + k * rs_piece_) * elem_, c * elem_);
    }
    return Status::Ok();
  }
  const size_t j = k - rs_rounds_;
  const ElementRange& mine = ranges_[static_cast<size_t>(me_)];
  const size_t c = PieceCount(mine.count, ag_piece_, j);
  if (c > 0) std::memcpy(slot, args_.work + (mine.begin + j * ag_piece_) * elem_, c * elem_);
  return Status::Ok();
}

void ShmAllReduceTask::FusedWrite(size_t j, int set) {
  uint8_t* slot = seg_.slot(me_, set);
  for (int q = 0; q < n_; ++q) {
    if (q == me_) continue;  // the owner reads its own contribution from its buffer
    const ElementRange& r = ranges_[static_cast<size_t>(q)];
    const size_t c = PieceCount(r.count, rs_piece_, j);
    if (c == 0) continue;
    std::memcpy(slot + static_cast<size_t>(q) * rs_piece_ * elem_,
                source_ + (r.begin + j * rs_piece_) * elem_, c * elem_);
  }
}

Status ShmAllReduceTask::FusedReduce(size_t j, int set) {
  const ElementRange& mine = ranges_[static_cast<size_t>(me_)];
  const size_t c = PieceCount(mine.count, rs_piece_, j);
  if (c == 0) return Status::Ok();
  const size_t offset = static_cast<size_t>(me_) * rs_piece_ * elem_;
  uint8_t* out = seg_.slot(me_, set) + offset;
  // Contribution q: this rank's own from its buffer, the others' from the contributions round's
  // slot set (the other set).
  auto source = [&](int q) -> const uint8_t* {
    if (q == me_) return source_ + (mine.begin + j * rs_piece_) * elem_;
    return seg_.slot(q, 1 - set) + offset;
  };
  TIDAL_RETURN_IF_ERROR(ReduceInRankOrder(args_.type, args_.op, out, n_, source, c));
  if (args_.op == ReduceOp::kAvg) TIDAL_RETURN_IF_ERROR(FinishAvg(args_.type, out, c, n_));
  return Status::Ok();
}

void ShmAllReduceTask::FusedCopyOut(size_t j, int set) {
  for (int p = 0; p < n_; ++p) {
    const ElementRange& r = ranges_[static_cast<size_t>(p)];
    const size_t c = PieceCount(r.count, rs_piece_, j);
    if (c == 0) continue;
    uint8_t* to = args_.recv + (r.begin + j * rs_piece_) * elem_;
    const uint8_t* from = seg_.slot(p, set) + static_cast<size_t>(p) * rs_piece_ * elem_;
    if (stream_) {
      StreamCopy(to, from, c * elem_);
    } else {
      std::memcpy(to, from, c * elem_);
    }
  }
}

Status ShmAllReduceTask::Read(size_t k, int set) {
  if (one_shot_ && last_arriver_) {
    OneShotCopyResult(seg_, set, args_.work, args_.count * elem_);
    return Status::Ok();
  }
  if (one_shot_) return OneShotReduce(seg_, set, args_.type, args_.op, args_.work, args_.count);
  if (fused_) {
    if (k % 2 == 1) FusedCopyOut(k / 2, set);
    return Status::Ok();
  }
  if (k < rs_rounds_) {
    const ElementRange& mine = ranges_[static_cast<size_t>(me_)];
    const size_t c = PieceCount(mine.count, rs_piece_, k);
    if (c == 0) return Status::Ok();
    uint8_t* out = args_.work + (mine.begin + k * rs_piece_) * elem_;
    const size_t offset = static_cast<size_t>(me_) * rs_piece_ * elem_;
    return ReduceInRankOrder(
        args_.type, args_.op, out, n_, [&](int q) { return seg_.slot(q, set) + offset; }, c);
  }
  const size_t j = k - rs_rounds_;
  for (int p = 0; p < n_; ++p) {
    if (p == me_) continue;
    const ElementRange& r = ranges_[static_cast<size_t>(p)];
    const size_t c = PieceCount(r.count, ag_piece_, j);
    if (c > 0)
      std::memcpy(args_.work + (r.begin + j * ag_piece_) * elem_, seg_.slot(p, set), c * elem_);
  }
  return Status::Ok();
}

Status ShmAllReduceTask::Middle() {
  // One-shot: every rank already holds the whole (averaged) result; fused: no owned shard, and
  // each result piece was divided before it was published.
  if (one_shot_ || fused_) return Status::Ok();
  const ElementRange& mine = ranges_[static_cast<size_t>(me_)];
  void* shard = args_.work + mine.begin * elem_;
  if (args_.op == ReduceOp::kAvg) {
    TIDAL_RETURN_IF_ERROR(FinishAvg(args_.type, shard, mine.count, n_));
  }
  if (args_.on_shard) return args_.on_shard(mine, shard);
  return Status::Ok();
}

bool ShmAllReduceTask::Start() {
  started_ = true;
  if (args_.precheck != nullptr && !args_.precheck->status().ok()) {
    // The members disagree: they will not run the same rounds.
    stopped_ = true;
    state_.broken = true;
    SetResult(args_.precheck->status());
    return false;
  }
  const size_t bytes = args_.count * elem_;
  const bool send_aligned = reinterpret_cast<uintptr_t>(args_.send) % elem_ == 0;
  if (one_shot_ || (fused_ && send_aligned)) {
    // Read in place: the one-shot only copies it (any alignment), the fused protocol's results
    // go straight to recv.
    source_ = args_.send;
  } else if (bytes > 0 && args_.send != args_.work) {
    std::memmove(args_.work, args_.send, bytes);
  }
  if (source_ == nullptr) source_ = args_.work;
  return true;
}

Status ShmAllReduceTask::Post(size_t k, int set, uint64_t t) {
  TIDAL_RETURN_IF_ERROR(Write(k, set));
  seg_.posted(me_).store(t, std::memory_order_release);
  if (last_arriver_ && OneShotArrive(seg_, arrival_index_)) {
    return OneShotLastReduce(seg_, set, t, args_.type, args_.op, args_.count);
  }
  return Status::Ok();
}

bool ShmAllReduceTask::Readable(uint64_t t) const {
  if (last_arriver_) return seg_.reduced().load(std::memory_order_acquire) >= t;
  return AllAtLeast(true, t);
}

bool ShmAllReduceTask::Poll(Transport& /*transport*/) {
  if (!started_ && !stopped_ && !Start()) return true;
  while (!stopped_) {
    if (k_ == rs_rounds_ && !middle_done_) {
      middle_done_ = true;
      Status st = Middle();
      if (!st.ok()) {
        Abandon(std::move(st));
        return true;
      }
    }
    if (k_ == rs_rounds_ + ag_rounds_) {
      const size_t bytes = args_.count * elem_;
      if (!fused_ && bytes > 0 && args_.recv != args_.work) {
        std::memcpy(args_.recv, args_.work, bytes);
      }
      return true;
    }
    const uint64_t t = base_ + k_ + 1;
    const int set = static_cast<int>(t % 2);
    if (!wrote_) {
      if (t > 2 && !AllAtLeast(false, t - 2)) return false;
      Status st = Post(k_, set, t);
      if (!st.ok()) {
        Abandon(std::move(st));
        return true;
      }
      wrote_ = true;
      NoteProgress();
    }
    if (!Readable(t)) return false;
    Status st = Read(k_, set);
    if (!st.ok()) {
      Abandon(std::move(st));
      return true;
    }
    // A fused contributions round stays "being read" until the owners reduced it (design note).
    if (!fused_ || k_ % 2 == 1) seg_.done(me_).store(t, std::memory_order_release);
    wrote_ = false;
    ++k_;
    NoteProgress();
  }
  return true;
}

void ShmAllReduceTask::Abandon(Status why) {
  if (stopped_) return;
  stopped_ = true;
  state_.broken = true;
  SetResult(Status(why.code(), StrCat("rank ", me_, ": ", args_.what, ": ", why.message())));
}

void ShmAllReduceTask::Stop(Transport& /*transport*/, const Status& why) {
  if (stopped_) return;
  stopped_ = true;
  state_.broken = true;
  SetResult(why);
}

void ShmAllReduceTask::OnDeath(Transport& /*transport*/, int rank, const Status& why) {
  if (stopped_ || std::find(members_.begin(), members_.end(), rank) == members_.end()) return;
  Abandon(why);
  Fail(status());
}

}  // namespace tidal::coll

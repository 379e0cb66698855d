#include "tidal/coll/executor.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "tidal/coll/buffer_pool.h"
#include "tidal/coll/reduce.h"
#include "tidal/core/check.h"
#include "tidal/transport/tag.h"

namespace tidal::coll {
namespace {

enum class Phase : uint8_t { kIdle, kPosted, kReceived, kDone };

// Ops scanned past the first unfinished one, and requests in flight, per stage.
constexpr size_t kWindow = 64;
constexpr int kMaxRequests = 32;

bool Overlaps(const ElementRange& a, const ElementRange& b) {
  return !a.empty() && !b.empty() && a.begin < b.end() && b.begin < a.end();
}
bool IsRecv(Op::Kind kind) { return kind == Op::kRecv || kind == Op::kRecvReduce; }
bool Writes(Op::Kind kind) { return kind != Op::kSend; }

}  // namespace

Stage Stage::Local(std::function<Status()> fn) {
  Stage stage;
  stage.kind = Kind::kLocal;
  stage.local = std::move(fn);
  return stage;
}

Stage Stage::Run(Schedule schedule, std::vector<int> peers, const void* send_base,
                 void* recv_base) {
  Stage stage;
  stage.kind = Kind::kSchedule;
  stage.schedule = std::move(schedule);
  stage.peers = std::move(peers);
  stage.send_base = static_cast<const uint8_t*>(send_base);
  stage.recv_base = static_cast<uint8_t*>(recv_base);
  return stage;
}

// The walk of one schedule stage (see the design note in executor.h).
struct CollectiveTask::StageRun {
  StageRun(const Stage& s, const ExecutorConfig& config, uint32_t tag_base)
      : stage(s),
        ops(s.schedule.ops),
        elem(s.elem_bytes != 0 ? s.elem_bytes : DataTypeSize(config.type)),
        phase(ops.size(), Phase::kIdle),
        slot_of(ops.size(), -1),
        request_of(ops.size(), -1),
        same_buffer(s.send_base == s.recv_base) {
    const int request_count = static_cast<int>(std::min<size_t>(kMaxRequests, ops.size()));
    requests.reset(new Request[static_cast<size_t>(request_count)]);
    for (int i = request_count - 1; i >= 0; --i) free_requests.push_back(i);
    for (size_t i = 0; i < ops.size(); ++i) {
      if (ops[i].kind != Op::kRecvReduce) continue;
      reduce_ops.push_back(i);
      slot_bytes = std::max(slot_bytes, ops[i].range.count * elem);
    }
    const int slot_count = std::max(1, config.depth);
    for (int i = slot_count - 1; i >= 0; --i) free_slots.push_back(i);
    slots.resize(static_cast<size_t>(slot_count));
    for (size_t i = 0; i < ops.size(); ++i) {
      tags.push_back(MakeTag(config.comm_id, config.seq,
                             tag_base + TagStep(ops[i], s.schedule.segments_per_step), 0));
    }
  }

  bool Finished() const { return first_open == ops.size(); }

  // Whether an earlier unfinished op conflicts with op i on the buffer.
  bool DataHazard(size_t i, bool apply) const {
    const Op& op = ops[i];
    for (size_t j = first_open; j < i; ++j) {
      if (phase[j] == Phase::kDone) continue;
      const Op& prior = ops[j];
      if (!Overlaps(prior.range, op.range)) continue;
      const bool op_reads_shared = op.kind == Op::kSend && same_buffer;
      const bool prior_reads_shared = prior.kind == Op::kSend && same_buffer;
      if (op.kind == Op::kSend) {
        if (Writes(prior.kind) && op_reads_shared) return true;
      } else if (apply || op.kind != Op::kRecvReduce) {
        if (Writes(prior.kind) || prior_reads_shared) return true;
      }
    }
    return false;
  }

  // Whether op i may be posted now.
  bool CanPost(size_t i) const {
    const Op& op = ops[i];
    if (op.kind != Op::kCopy && free_requests.empty()) return false;
    if (op.kind == Op::kRecvReduce && (free_slots.empty() || reduce_ops[next_reduce] != i)) {
      return false;
    }
    for (size_t j = first_open; j < i; ++j) {
      if (phase[j] != Phase::kIdle || ops[j].peer_position != op.peer_position) continue;
      if (IsRecv(ops[j].kind) == IsRecv(op.kind) && op.kind != Op::kCopy) return false;
    }
    return !DataHazard(i, /*apply=*/false);
  }

  uint8_t* SlotData(int slot) {
    PooledBuffer& data = slots[static_cast<size_t>(slot)];
    if (data == nullptr) data = AcquireBuffer(slot_bytes);
    return data.get();
  }

  void Release(size_t i) {
    if (request_of[i] >= 0) free_requests.push_back(request_of[i]);
    request_of[i] = -1;
    --pending;
  }

  void AdvanceFirstOpen() {
    while (first_open < ops.size() && phase[first_open] == Phase::kDone) ++first_open;
  }

  // Notes completed requests. Returns the number completed, or the first failure.
  Result<int> Collect(const ExecutorConfig& config) {
    int completed = 0;
    const size_t end = std::min(ops.size(), first_open + kWindow);
    for (size_t i = first_open; i < end; ++i) {
      if (phase[i] != Phase::kPosted) continue;
      Request& request = requests[request_of[i]];
      if (!request.done()) continue;
      const Status status = request.status();
      const size_t got = request.bytes();
      Release(i);
      ++completed;
      if (!status.ok()) {
        phase[i] = Phase::kDone;  // its request is back in the pool; nothing left to cancel
        return OpError(config, i, status.code(), status.message());
      }
      if (IsRecv(ops[i].kind) && got != ops[i].range.count * elem) {
        phase[i] = Phase::kDone;
        if (slot_of[i] >= 0) free_slots.push_back(slot_of[i]);
        slot_of[i] = -1;
        return OpError(config, i, StatusCode::kIoError,
                       StrCat("received ", got, " bytes, expected ", ops[i].range.count * elem,
                              " (do the ranks agree on count and type?)"));
      }
      phase[i] = ops[i].kind == Op::kRecvReduce ? Phase::kReceived : Phase::kDone;
    }
    return completed;
  }

  // Applies received reductions whose range is free, in op order per range.
  Result<int> Apply(const ExecutorConfig& config) {
    int applied = 0;
    const size_t end = std::min(ops.size(), first_open + kWindow);
    for (size_t i = first_open; i < end; ++i) {
      if (phase[i] != Phase::kReceived || DataHazard(i, /*apply=*/true)) continue;
      const Op& op = ops[i];
      const int slot = slot_of[i];
      const Status reduced = Reduce(config.type, config.op, stage.recv_base + op.range.begin * elem,
                                    SlotData(slot), op.range.count);
      if (!reduced.ok()) return OpError(config, i, reduced.code(), reduced.message());
      free_slots.push_back(slot);
      slot_of[i] = -1;
      phase[i] = Phase::kDone;
      ++applied;
    }
    AdvanceFirstOpen();
    return applied;
  }

  // Posts every op that may go. Returns the number posted.
  Result<int> Post(const ExecutorConfig& config, Transport& transport) {
    int posted = 0;
    const size_t end = std::min(ops.size(), first_open + kWindow);
    for (size_t i = first_open; i < end; ++i) {
      if (phase[i] != Phase::kIdle || !CanPost(i)) continue;
      const Op& op = ops[i];
      const size_t bytes = op.range.count * elem;
      if (op.kind == Op::kCopy) {
        uint8_t* dst = stage.recv_base + op.range.begin * elem;
        const uint8_t* src = stage.send_base + op.range.begin * elem;
        if (dst != src && bytes > 0) std::memcpy(dst, src, bytes);
        phase[i] = Phase::kDone;
        ++posted;
        continue;
      }
      const int r = free_requests.back();
      free_requests.pop_back();
      Request* request = &requests[r];
      request->Reset();
      const int peer = stage.peers[static_cast<size_t>(op.peer_position)];
      Status st;
      if (op.kind == Op::kSend) {
        st = transport.PostSend(peer, tags[i], stage.send_base + op.range.begin * elem, bytes,
                                request);
      } else {
        uint8_t* into = stage.recv_base + op.range.begin * elem;
        if (op.kind == Op::kRecvReduce) {
          slot_of[i] = free_slots.back();
          free_slots.pop_back();
          ++next_reduce;
          into = SlotData(slot_of[i]);
        }
        st = transport.PostRecv(peer, tags[i], into, bytes, request);
      }
      if (!st.ok()) {
        free_requests.push_back(r);
        return OpError(config, i, st.code(), st.message());
      }
      request_of[i] = r;
      phase[i] = Phase::kPosted;
      ++pending;
      ++posted;
    }
    AdvanceFirstOpen();
    return posted;
  }

  // Cancels every pending request.
  void CancelAll(Transport& transport) {
    for (size_t i = first_open; i < ops.size(); ++i) {
      if (phase[i] == Phase::kPosted && requests[request_of[i]].pending()) {
        transport.Cancel(&requests[request_of[i]]);
      }
    }
  }

  // Forgets completed requests after a failure; true when none is pending.
  bool Drain() {
    for (size_t i = first_open; i < ops.size() && pending > 0; ++i) {
      if (phase[i] == Phase::kPosted && requests[request_of[i]].done()) {
        Release(i);
        phase[i] = Phase::kDone;
      }
    }
    return pending == 0;
  }

  Status OpError(const ExecutorConfig& config, size_t i, StatusCode code,
                 std::string_view message) const {
    const Op& op = ops[i];
    const int world_peer = stage.peers[static_cast<size_t>(op.peer_position)];
    const auto it = std::find(config.members.begin(), config.members.end(), world_peer);
    const long peer = it - config.members.begin();
    const bool send = op.kind == Op::kSend;
    return Status(code,
                  StrCat("rank ", config.rank, ": ", config.what, ": ",
                         send ? "send to" : "receive from", " rank ", peer, " (step ", op.step,
                         ", segment ", op.segment, ", ", op.range.count, " elements): ", message));
  }

  const Stage& stage;
  const std::vector<Op>& ops;
  const size_t elem;
  std::vector<Phase> phase;
  std::vector<int> slot_of;
  std::vector<int> request_of;
  std::vector<Tag> tags;
  std::unique_ptr<Request[]> requests;
  std::vector<int> free_requests;
  std::vector<PooledBuffer> slots;
  std::vector<int> free_slots;
  std::vector<size_t> reduce_ops;  // indices of kRecvReduce ops, in order
  size_t next_reduce = 0;          // reduce_ops[next_reduce] is the next one to post
  size_t slot_bytes = 0;
  size_t first_open = 0;
  int pending = 0;
  const bool same_buffer;
};

CollectiveTask::CollectiveTask(ExecutorConfig config, std::vector<Stage> stages,
                               std::shared_ptr<void> keep_alive)
    : config_(std::move(config)), stages_(std::move(stages)), keep_alive_(std::move(keep_alive)) {}

CollectiveTask::~CollectiveTask() = default;

bool CollectiveTask::Poll(Transport& transport) {
  while (true) {
    if (stopped_) return run_ == nullptr || run_->Drain();
    if (stage_ == stages_.size()) return true;
    Stage& stage = stages_[stage_];
    if (stage.kind == Stage::Kind::kLocal) {
      Status done = stage.local();
      if (!done.ok()) {
        SetResult(std::move(done));
        stopped_ = true;
        continue;
      }
      ++stage_;
      continue;
    }
    if (stage.schedule.ops.empty()) {  // e.g. one rank, or an empty buffer
      tag_base_ += stage.schedule.num_steps * stage.schedule.segments_per_step;
      ++stage_;
      continue;
    }
    if (run_ == nullptr) run_ = std::make_unique<StageRun>(stage, config_, tag_base_);
    int work = 0;
    for (auto step : {&StageRun::Collect, &StageRun::Apply}) {
      Result<int> n = (run_.get()->*step)(config_);
      if (!n.ok()) {
        Error(transport, n.status());
        break;
      }
      work += *n;
    }
    if (stopped_) continue;
    Result<int> posted = run_->Post(config_, transport);
    if (!posted.ok()) {
      Error(transport, posted.status());
      continue;
    }
    work += *posted;
    if (run_->Finished()) {
      tag_base_ += stage.schedule.num_steps * stage.schedule.segments_per_step;
      run_.reset();
      ++stage_;
      continue;
    }
    if (work == 0) return false;
  }
}

void CollectiveTask::Error(Transport& transport, Status why) {
  SetResult(std::move(why));
  stopped_ = true;
  if (run_ != nullptr) run_->CancelAll(transport);
}

void CollectiveTask::Stop(Transport& transport, const Status& why) {
  if (stopped_) return;
  Error(transport, why);
}

void CollectiveTask::OnDeath(Transport& transport, int rank, const Status& why) {
  if (std::find(config_.members.begin(), config_.members.end(), rank) == config_.members.end()) {
    return;
  }
  if (stage_ == stages_.size()) return;
  Error(transport,
        Status(why.code(), StrCat("rank ", config_.rank, ": ", config_.what, ": ", why.message())));
  Fail(status());
}

}  // namespace tidal::coll

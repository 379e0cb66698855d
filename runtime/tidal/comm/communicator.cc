#include "tidal/comm/communicator.h"

#include <algorithm>
#include <numeric>

#include "tidal/comm/barrier_task.h"
#include "tidal/comm/bootstrap.h"
#include "tidal/comm/ordered_task.h"
#include "tidal/comm/split.h"
#include "tidal/core/check.h"
#include "tidal/core/knobs.h"
#include "tidal/core/logging.h"
#include "tidal/topology/ring.h"
#include "tidal/transport/tag.h"

namespace tidal {
namespace {

std::string PlacementKey(uint32_t comm, int rank) {
  return StrCat("tidal/comm/", comm, "/placement/", rank);
}

Result<std::vector<Placement>> ExchangePlacements(Store& store, int rank, int size,
                                                  const Placement& mine, Deadline deadline) {
  const std::vector<uint8_t> blob = EncodePlacement(mine);
  TIDAL_RETURN_IF_ERROR(store.Set(PlacementKey(kWorldCommId, rank), blob, deadline));
  std::vector<Placement> placements;
  for (int r = 0; r < size; ++r) {
    Result<Bytes> peer = store.Get(PlacementKey(kWorldCommId, r), deadline);
    if (!peer.ok()) {
      return Status(peer.status().code(), StrCat("rank ", rank, ": placement of rank ", r, ": ",
                                                 peer.status().message()));
    }
    TIDAL_ASSIGN_OR_RETURN(Placement placement, DecodePlacement(*peer));
    placements.push_back(std::move(placement));
  }
  return placements;
}

}  // namespace

Result<CommOptions> CommOptions::FromEnv() {
  CommOptions options;
  TIDAL_ASSIGN_OR_RETURN(int64_t ms, KnobInt(Knob::kTimeoutMs, 300'000));
  if (ms <= 0) return InvalidArgumentError("TIDAL_TIMEOUT_MS=", ms, " must be positive");
  options.timeout = std::chrono::milliseconds(ms);
  return options;
}

Result<std::unique_ptr<Communicator>> Communicator::CreateOver(std::shared_ptr<Engine> engine,
                                                               Store& store,
                                                               const CommOptions& options) {
  TIDAL_CHECK(engine != nullptr);
  auto world = std::make_shared<CommWorld>();
  world->store = &store;
  world->size = engine->size();
  world->engine = std::move(engine);
  world->timeout = options.timeout;
  return Build(std::move(world), options);
}

Result<std::unique_ptr<Communicator>> Communicator::Build(std::shared_ptr<CommWorld> world,
                                                          const CommOptions& options) {
  const int rank = world->engine->rank();
  const int size = world->engine->size();
  const Placement mine =
      options.placement ? *options.placement : DetectPlacement(world->local_rank_hint);
  TIDAL_RETURN_IF_ERROR(ValidatePlacement(mine));
  TIDAL_ASSIGN_OR_RETURN(
      std::vector<Placement> placements,
      ExchangePlacements(*world->store, rank, size, mine, Deadline::After(options.timeout)));
  Members members{kWorldCommId, std::vector<int>(static_cast<size_t>(size)), std::move(placements),
                  rank};
  std::iota(members.world_ranks.begin(), members.world_ranks.end(), 0);
  return std::unique_ptr<Communicator>(
      new Communicator(std::move(world), std::move(members), options.timeout));
}

Communicator::Communicator(std::shared_ptr<CommWorld> world, Members members,
                           std::chrono::milliseconds timeout)
    : world_(std::move(world)),
      engine_(world_->engine),
      id_(members.id),
      rank_(members.rank),
      world_ranks_(std::move(members.world_ranks)),
      placements_(std::move(members.placements)),
      timeout_(timeout) {
  const HostLayout layout = ComputeHostLayout(placements_);
  ring_ = layout.ring;
  ring_position_ = static_cast<int>(std::find(ring_.begin(), ring_.end(), rank_) - ring_.begin());
  local_rank_ = layout.local_rank[static_cast<size_t>(rank_)];
  local_size_ = layout.local_size[static_cast<size_t>(rank_)];
  TIDAL_LOG(DEBUG, kComm) << "rank " << rank_ << "/" << size() << " of comm " << id_
                          << ": ring position " << ring_position_ << ", local " << local_rank_
                          << "/" << local_size_;
}

Communicator::~Communicator() = default;

const Placement& Communicator::placement(int r) const {
  TIDAL_CHECK(r >= 0 && r < size()) << "rank " << r << " of " << size();
  return placements_[static_cast<size_t>(r)];
}

int Communicator::world_rank(int r) const {
  TIDAL_CHECK(r >= 0 && r < size()) << "rank " << r << " of " << size();
  return world_ranks_[static_cast<size_t>(r)];
}

uint32_t Communicator::NextOpSeq() {
  const uint32_t seq = op_seq_;
  op_seq_ = (op_seq_ + 1) % kFirstReservedSeq;
  return seq;
}

Store& Communicator::store() const { return *world_->store; }

Result<std::unique_ptr<Communicator>> Communicator::Split(int color, int key) {
  const Deadline deadline = NextDeadline();
  const std::string prefix = StrCat("tidal/comm/", id_, "/split/", split_seq_++, "/");
  Store& store = *world_->store;
  TIDAL_RETURN_IF_ERROR(SetString(store, prefix + std::to_string(rank_),
                                  EncodeSplitEntry(SplitEntry{color, key}), deadline));
  std::vector<SplitEntry> entries;
  for (int r = 0; r < size(); ++r) {
    TIDAL_ASSIGN_OR_RETURN(std::string text,
                           GetString(store, prefix + std::to_string(r), deadline));
    TIDAL_ASSIGN_OR_RETURN(SplitEntry entry, DecodeSplitEntry(text));
    entries.push_back(entry);
  }
  if (color < 0) return std::unique_ptr<Communicator>();
  const std::vector<int> order = SplitMembers(entries, color);
  Members members;
  for (size_t i = 0; i < order.size(); ++i) {
    const size_t parent = static_cast<size_t>(order[i]);
    if (order[i] == rank_) members.rank = static_cast<int>(i);
    members.world_ranks.push_back(world_ranks_[parent]);
    members.placements.push_back(placements_[parent]);
  }
  TIDAL_ASSIGN_OR_RETURN(members.id, AgreeCommId(store, prefix + "id/" + std::to_string(color),
                                                 members.rank == 0, deadline));
  return std::unique_ptr<Communicator>(new Communicator(world_, std::move(members), timeout_));
}

Status Communicator::CheckPeer(int peer, uint32_t tag, std::string_view op) const {
  if (peer < 0 || peer >= size()) {
    return InvalidArgumentError("rank ", rank_, ": ", op, " peer ", peer, " is not in [0, ", size(),
                                ")");
  }
  if (tag > TagLayout::kStepMask) {
    return InvalidArgumentError("rank ", rank_, ": ", op, " tag ", tag, " is over 65535");
  }
  return Status::Ok();
}

Result<Work> Communicator::Enqueue(std::shared_ptr<Task> op, OpClass op_class, std::string what,
                                   bool async, OpHooks hooks) {
  std::shared_ptr<Task> ordered;
  const Clock::time_point not_before = hooks.delay > std::chrono::nanoseconds::zero()
                                           ? Clock::now() + hooks.delay
                                           : Clock::time_point{};
  {
    MutexLock lock(&order_mu_);
    std::shared_ptr<Task> start_after =
        op_class == OpClass::kPointToPoint ? last_collective_ : last_;
    ordered = std::make_shared<OrderedTask>(std::move(op), std::move(start_after), last_, what,
                                            not_before, std::move(hooks));
    last_ = ordered;
    if (op_class == OpClass::kCollective) last_collective_ = ordered;
  }
  TIDAL_RETURN_IF_ERROR(async ? engine_->Submit(ordered) : engine_->Start(ordered));
  return Work(engine_, std::move(ordered), std::move(what), timeout_);
}

Result<Work> Communicator::StartRequest(bool send, int peer, void* data, size_t bytes, uint32_t tag,
                                        size_t* transferred, bool async) {
  const std::string_view op = send ? "send" : "recv";
  TIDAL_RETURN_IF_ERROR(CheckPeer(peer, tag, op));
  auto task = std::make_shared<RequestTask>(
      send ? RequestTask::Kind::kSend : RequestTask::Kind::kRecv, world_rank(peer),
      MakeTag(id_, kP2pSeq, tag, 0), data, bytes, transferred);
  std::string what = StrCat(op, " of ", bytes, " bytes ", send ? "to" : "from", " rank ", peer,
                            " (comm ", id_, ", tag ", tag, ")");
  return Enqueue(std::move(task), OpClass::kPointToPoint, std::move(what), async);
}

Status Communicator::Send(int peer, const void* data, size_t bytes, uint32_t tag) {
  // The transport only reads a send buffer; RequestTask holds one pointer type for both.
  TIDAL_ASSIGN_OR_RETURN(
      Work work, StartRequest(true, peer, const_cast<void*>(data), bytes, tag, nullptr, false));
  return work.Wait();
}

Status Communicator::Recv(int peer, void* data, size_t capacity, uint32_t tag, size_t* received) {
  TIDAL_ASSIGN_OR_RETURN(Work work,
                         StartRequest(false, peer, data, capacity, tag, received, false));
  return work.Wait();
}

Result<Work> Communicator::SendAsync(int peer, const void* data, size_t bytes, uint32_t tag) {
  // The transport only reads a send buffer; RequestTask holds one pointer type for both.
  return StartRequest(true, peer, const_cast<void*>(data), bytes, tag, nullptr, true);
}

Result<Work> Communicator::RecvAsync(int peer, void* data, size_t capacity, uint32_t tag,
                                     size_t* received) {
  return StartRequest(false, peer, data, capacity, tag, received, true);
}

Status Communicator::Barrier() {
  auto task = std::make_shared<BarrierTask>(world_ranks_, rank_, id_);
  TIDAL_ASSIGN_OR_RETURN(Work work, Enqueue(std::move(task), OpClass::kCollective,
                                            StrCat("barrier of comm ", id_), false));
  return work.Wait();
}

Result<Work> Communicator::BarrierAsync() {
  auto task = std::make_shared<BarrierTask>(world_ranks_, rank_, id_);
  return Enqueue(std::move(task), OpClass::kCollective, StrCat("barrier of comm ", id_), true);
}

bool Communicator::idle() const {
  MutexLock lock(&order_mu_);
  return last_ == nullptr || last_->finished();
}

void Communicator::Abort(const Status& why) {
  const int me = world_rank(rank_);
  if (!engine_->aborted()) {
    engine_->PostDeath(me, StrCat("rank ", me, " aborted: ", why.message()));
  }
  engine_->Abort(why);
}

}  // namespace tidal

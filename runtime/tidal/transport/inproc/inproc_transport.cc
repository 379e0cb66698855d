// In-process transport (see inproc_transport.h). Design:
//
// - Each rank has a Mailbox and a CompletionQueue in the fabric (inproc_mailbox.h). A send locks
//   the destination's mailbox and either matches a posted receive (copying the data) or queues the
//   message; a receive locks its own mailbox and either matches a queued message or queues itself.
//   Matching emits Completions, which are pushed to the owners' queues after the mailbox lock is
//   released (a thread never holds two locks). Progress() delivers the owner's queue.
// - Eager (bytes <= eager_bytes): the payload is copied at post and the send's completion is queued
//   at once. Rendezvous: the message points at the sender's buffer; the send completes when a
//   receive matches it and the data has been copied. This is UCX's behaviour: writing to the send
//   buffer of a pending large send changes what the receiver gets.
// - Shuffle: Progress() permutes the completions it delivers and holds about one in four back for
//   the next call (each at most once). Matching is never reordered, so FIFO per (source, tag)
//   holds; only the order in which requests are seen to finish varies.
// - Between a match and the push of its completions a request is in neither a mailbox nor a queue;
//   the endpoint counts its outstanding requests, and its destructor waits for every one of them.
#include "tidal/transport/inproc/inproc_transport.h"

#include <sched.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tidal/core/check.h"
#include "tidal/core/knobs.h"
#include "tidal/core/logging.h"
#include "tidal/core/random.h"
#include "tidal/transport/inproc/inproc_mailbox.h"

namespace tidal {
namespace {

using inproc::Completion;
using inproc::CompletionQueue;
using inproc::Mailbox;

struct RankState {
  explicit RankState(int rank) : mailbox(rank) {}
  Mailbox mailbox;
  CompletionQueue cq;
};

class InProcFabricImpl : public InProcFabric,
                         public std::enable_shared_from_this<InProcFabricImpl> {
 public:
  InProcFabricImpl(int size, const InProcOptions& options) : options_(options) {
    ranks_.reserve(static_cast<size_t>(size));
    for (int r = 0; r < size; ++r) ranks_.push_back(std::make_unique<RankState>(r));
    created_.assign(static_cast<size_t>(size), false);
  }

  int size() const override { return static_cast<int>(ranks_.size()); }
  Result<std::unique_ptr<Transport>> CreateEndpoint(int rank) override;

  const InProcOptions& options() const { return options_; }
  RankState& rank_state(int rank) { return *ranks_[static_cast<size_t>(rank)]; }
  void Push(std::vector<Completion>& completions) {
    inproc::PushCompletions(completions,
                            [this](int owner) -> CompletionQueue& { return rank_state(owner).cq; });
  }

 private:
  const InProcOptions options_;
  std::vector<std::unique_ptr<RankState>> ranks_;
  Mutex mu_;
  std::vector<bool> created_ TIDAL_GUARDED_BY(mu_);
};

class InProcEndpoint final : public Transport {
 public:
  InProcEndpoint(std::shared_ptr<InProcFabricImpl> fabric, int rank)
      : fabric_(std::move(fabric)),
        rank_(rank),
        self_(fabric_->rank_state(rank)),
        rng_(fabric_->options().seed ^ (0xD1B54A32D192ED03ull * static_cast<uint64_t>(rank + 1))) {}
  ~InProcEndpoint() override;

  int rank() const override { return rank_; }
  int size() const override { return fabric_->size(); }
  std::string_view name() const override { return "inproc"; }

  Status PostSend(int peer, Tag tag, const void* data, size_t bytes, Request* request) override;
  Status PostRecv(int peer, Tag tag, void* data, size_t capacity, Request* request) override;
  void Cancel(Request* request) override;
  int Progress() override;

  int EventFd() const override { return self_.cq.event_fd(); }
  bool Arm() override { return held_.empty() && self_.cq.Arm(); }
  void Signal() override { self_.cq.Signal(); }

  void FailPeer(int peer, const Status& why) override;
  void Abort(const Status& why) override;
  bool aborted() const override { return !abort_status_.ok(); }

 private:
  Status Validate(std::string_view op, int peer, const void* data, size_t bytes,
                  const Request* request) const;
  // Queues a completion of this rank's `request` with `why` (a failure decided at post).
  void FailLocally(Request* request, const Status& why);
  // Delivers `ready` in the order the shuffle picks, holding some back in held_.
  int Deliver(std::vector<Completion>& ready);
  int DeliverOne(Completion& completion);

  const std::shared_ptr<InProcFabricImpl> fabric_;
  const int rank_;
  RankState& self_;
  SplitMix64 rng_;
  Status abort_status_;                           // non-OK after Abort()
  std::unordered_map<int, Status> failed_peers_;  // FailPeer(), first reason wins
  std::vector<Completion> held_;                  // held back by the shuffle
  std::vector<Completion> scratch_;
  int64_t outstanding_ = 0;  // posted and not yet delivered
};

Result<std::unique_ptr<Transport>> InProcFabricImpl::CreateEndpoint(int rank) {
  if (rank < 0 || rank >= size()) {
    return InvalidArgumentError("inproc: CreateEndpoint(", rank, ") in a world of ", size());
  }
  {
    MutexLock lock(&mu_);
    if (created_[static_cast<size_t>(rank)]) {
      return InvalidArgumentError("inproc: the endpoint of rank ", rank, " was already created");
    }
    created_[static_cast<size_t>(rank)] = true;
  }
  return std::unique_ptr<Transport>(new InProcEndpoint(shared_from_this(), rank));
}

InProcEndpoint::~InProcEndpoint() {
  if (!aborted()) Abort(AbortedError("rank ", rank_, ": in-process endpoint destroyed"));
  // Every pending request completes before its owner's Request objects may go away. Completions
  // matched by other threads may still be on their way to our queue: wait for them.
  while (outstanding_ > 0) {
    self_.cq.TakeAll(&held_);
    for (Completion& c : held_) DeliverOne(c);
    held_.clear();
    if (outstanding_ > 0) sched_yield();
  }
}

Status InProcEndpoint::Validate(std::string_view op, int peer, const void* data, size_t bytes,
                                const Request* request) const {
  if (peer < 0 || peer >= size()) {
    return InvalidArgumentError("rank ", rank_, " ", op, " rank ", peer, ": peer out of range [0, ",
                                size(), ")");
  }
  if (data == nullptr && bytes > 0) {
    return InvalidArgumentError("rank ", rank_, " ", op, " rank ", peer, ": null buffer of ", bytes,
                                " bytes");
  }
  if (request == nullptr) {
    return InvalidArgumentError("rank ", rank_, " ", op, " rank ", peer, ": null request");
  }
  if (request->pending()) {
    return InvalidArgumentError("rank ", rank_, " ", op, " rank ", peer,
                                ": the request is still pending");
  }
  return Status::Ok();
}

void InProcEndpoint::FailLocally(Request* request, const Status& why) {
  Completion c;
  c.owner = rank_;
  c.request = request;
  c.status = inproc::ForRequest(why, rank_, *request);
  self_.cq.Push(std::move(c));
}

Status InProcEndpoint::PostSend(int peer, Tag tag, const void* data, size_t bytes,
                                Request* request) {
  TIDAL_RETURN_IF_ERROR(Validate("send to", peer, data, bytes, request));
  TransportAccess::MarkPosted(request, Request::Kind::kSend, peer,
                              WithSource(tag, static_cast<uint32_t>(rank_)));
  ++outstanding_;
  if (aborted()) {
    FailLocally(request, abort_status_);
    return Status::Ok();
  }
  if (auto failed = failed_peers_.find(peer); failed != failed_peers_.end()) {
    FailLocally(request, failed->second);
    return Status::Ok();
  }
  inproc::Message message;
  message.source = rank_;
  message.tag = request->tag();
  message.bytes = bytes;
  message.rendezvous = bytes > fabric_->options().eager_bytes;
  if (message.rendezvous) {
    message.send_data = data;
    message.send_request = request;
  } else if (bytes > 0) {
    const auto* begin = static_cast<const std::byte*>(data);
    message.payload.assign(begin, begin + bytes);
  }
  Status dead;
  if (!fabric_->rank_state(peer).mailbox.Deliver(message, &scratch_, &dead)) {
    FailLocally(request, dead);
  } else if (!message.rendezvous) {
    Completion c;
    c.owner = rank_;
    c.request = request;
    c.bytes = bytes;
    scratch_.push_back(std::move(c));
  }
  fabric_->Push(scratch_);
  return Status::Ok();
}

Status InProcEndpoint::PostRecv(int peer, Tag tag, void* data, size_t capacity, Request* request) {
  TIDAL_RETURN_IF_ERROR(Validate("recv from", peer, data, capacity, request));
  TransportAccess::MarkPosted(request, Request::Kind::kRecv, peer,
                              WithSource(tag, static_cast<uint32_t>(peer)));
  ++outstanding_;
  if (aborted()) {
    FailLocally(request, abort_status_);
    return Status::Ok();
  }
  self_.mailbox.PostRecv(request->tag(), inproc::PostedRecv{data, capacity, request}, &scratch_);
  fabric_->Push(scratch_);
  return Status::Ok();
}

void InProcEndpoint::Cancel(Request* request) {
  if (request == nullptr || !request->pending()) return;
  if (request->kind() == Request::Kind::kRecv) {
    self_.mailbox.CancelRecv(request, &scratch_);
  } else if (request->peer() >= 0 && request->peer() < size()) {
    fabric_->rank_state(request->peer()).mailbox.CancelSend(request, &scratch_);
  }
  fabric_->Push(scratch_);
}

int InProcEndpoint::Progress() {
  std::vector<Completion> ready = std::move(held_);
  held_.clear();
  self_.cq.TakeAll(&ready);
  if (ready.empty()) return 0;
  return Deliver(ready);
}

int InProcEndpoint::Deliver(std::vector<Completion>& ready) {
  if (fabric_->options().shuffle) {
    for (size_t i = ready.size(); i > 1; --i) std::swap(ready[i - 1], ready[rng_.Below(i)]);
  }
  int delivered = 0;
  for (Completion& c : ready) {
    if (fabric_->options().shuffle && !c.held_once && rng_.Below(4) == 0) {
      c.held_once = true;
      held_.push_back(std::move(c));
    } else {
      delivered += DeliverOne(c);
    }
  }
  return delivered;
}

int InProcEndpoint::DeliverOne(Completion& completion) {
  TransportAccess::Complete(completion.request, std::move(completion.status), completion.bytes);
  --outstanding_;
  return 1;
}

void InProcEndpoint::FailPeer(int peer, const Status& why) {
  TIDAL_CHECK(!why.ok()) << "FailPeer with an OK status";
  if (peer < 0 || peer >= size()) {
    TIDAL_LOG(WARN, kTransport) << "rank " << rank_ << ": FailPeer(" << peer
                                << ") ignored: out of range";
    return;
  }
  if (!failed_peers_.try_emplace(peer, why).second) return;
  const Status their_sends =
      UnavailableError("rank ", rank_, " declared rank ", peer, " failed: ", why.message());
  self_.mailbox.FailSource(peer, why, their_sends, &scratch_);
  fabric_->rank_state(peer).mailbox.RemoveSendsFrom(rank_, why, &scratch_);
  fabric_->Push(scratch_);
}

void InProcEndpoint::Abort(const Status& why) {
  TIDAL_CHECK(!why.ok()) << "Abort with an OK status";
  if (aborted()) return;
  abort_status_ = why;
  const Status died = UnavailableError("rank ", rank_, " died: ", why.message());
  self_.mailbox.Kill(died, why, &scratch_);
  for (int peer = 0; peer < size(); ++peer) {
    if (peer == rank_) continue;
    fabric_->rank_state(peer).mailbox.FailSource(rank_, died, why, &scratch_);
  }
  self_.cq.OverrideAll(why);
  for (Completion& c : held_) c.status = inproc::ForRequest(why, rank_, *c.request);
  fabric_->Push(scratch_);
  TIDAL_LOG(DEBUG, kTransport) << "rank " << rank_ << ": inproc endpoint aborted: " << why;
}

}  // namespace

InProcOptions InProcOptions::FromEnv() {
  InProcOptions options;
  Result<int64_t> eager = KnobInt(Knob::kInprocEagerBytes, 8192);
  if (eager.ok() && *eager >= 0) {
    options.eager_bytes = static_cast<size_t>(*eager);
  } else {
    TIDAL_LOG(WARN, kTransport) << "ignoring TIDAL_INPROC_EAGER_BYTES: "
                                << (eager.ok() ? Status(InvalidArgumentError("negative"))
                                               : eager.status());
  }
  return options;
}

Result<std::shared_ptr<InProcFabric>> InProcFabric::Create(int size, const InProcOptions& options) {
  if (size < 1 || size > TagLayout::kMaxRanks) {
    return InvalidArgumentError("inproc: world size ", size, " is outside [1, ",
                                TagLayout::kMaxRanks, "]");
  }
  return std::shared_ptr<InProcFabric>(std::make_shared<InProcFabricImpl>(size, options));
}

}  // namespace tidal

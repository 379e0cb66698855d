// UcxTransport over the ucp tag API. Design notes:
// - Every posted request gets an Op (request->transport_slot_[0]) on the transport's pending
//   list. UCX completion callbacks, which run inside ucp_worker_progress or ucp_request_cancel,
//   only record UCX's status in the Op, free the UCX request and queue the Op; Progress()
//   delivers the queue (TransportAccess::Complete). Posts that UCX finishes at once, and posts
//   that fail locally (failed peer), are queued the same way, so nothing completes inline.
// - An Op whose UCX request is still alive (ucx_request != nullptr) means UCX owns the buffer;
//   FailPeer/Abort only mark such an Op (`override`) and make UCX give it back (cancel, force
//   close), never complete it before UCX's callback.
// - Endpoint error callbacks (PEER mode) run inside ucp_worker_progress; they record the failure
//   and the rest (cancel receives, force-close the endpoint) happens after progress returns.
#include "tidal/transport/ucx/ucx_transport.h"

#include <chrono>
#include <utility>

#include "tidal/core/check.h"
#include "tidal/core/logging.h"
#include "tidal/transport/ucx/ucx_internal.h"

namespace tidal {
namespace {

constexpr uint64_t kFullMask = ~uint64_t{0};
constexpr auto kDrainTimeout = std::chrono::seconds(2);

class UcxTransportImpl;

struct Op {
  UcxTransportImpl* owner = nullptr;
  Request* request = nullptr;
  void* ucx_request = nullptr;  // alive UCX request: UCX owns the buffer
  Op* prev = nullptr;           // pending list
  Op* next = nullptr;
  int peer = -1;
  bool is_send = false;
  Tag wire_tag = 0;
  size_t size = 0;
  bool queued = false;  // UCX let go; waiting for Progress() to deliver
  ucs_status_t ucs = UCS_OK;
  size_t bytes = 0;
  Status override;  // set by FailPeer/Abort: the status the request completes with
};

struct Peer {
  UcxTransportImpl* owner = nullptr;
  int rank = -1;
  ucp_ep_h ep = nullptr;
  bool peer_mode = false;
  Status failed;                   // non-OK once the peer failed
  bool failure_unhandled = false;  // set by the error callback, handled in Progress()
};

std::string Describe(const Op& op) {
  std::ostringstream os;
  os << (op.is_send ? "send to rank " : "recv from rank ") << op.peer << " "
     << ParseTag(op.wire_tag) << " (" << op.size << " bytes)";
  return std::move(os).str();
}

void SendCallback(void* request, ucs_status_t status, void* user_data);
void RecvCallback(void* request, ucs_status_t status, const ucp_tag_recv_info_t* info,
                  void* user_data);
void EndpointErrorCallback(void* arg, ucp_ep_h ep, ucs_status_t status);

class UcxTransportImpl final : public UcxTransport {
 public:
  UcxTransportImpl(std::shared_ptr<UcxContext> context, int rank, int size)
      : context_(std::move(context)), worker_(context_->worker()), rank_(rank), size_(size) {}
  ~UcxTransportImpl() override;

  Status Connect(std::span<const std::vector<uint8_t>> addresses);

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string_view name() const override { return "ucx"; }
  bool peer_error_handling(int peer) const override { return peers_.at(peer)->peer_mode; }
  const std::shared_ptr<UcxContext>& context() const override { return context_; }

  Status PostSend(int peer, Tag tag, const void* data, size_t bytes, Request* request) override;
  Status PostRecv(int peer, Tag tag, void* data, size_t capacity, Request* request) override;
  void Cancel(Request* request) override;
  int Progress() override;
  int EventFd() const override { return context_->event_fd(); }
  bool Arm() override;
  void Signal() override { context_->Signal(); }
  void FailPeer(int peer, const Status& why) override;
  void Abort(const Status& why) override;
  bool aborted() const override { return aborted_; }

  // Called by the UCX callbacks.
  void OnUcxDone(Op* op, ucs_status_t status, size_t bytes);
  void OnEndpointError(Peer* peer, ucs_status_t status);

 private:
  Status CheckPost(const char* what, int peer, const void* data, size_t bytes,
                   const Request* request) const;
  Op* StartOp(Request* request, Request::Kind kind, int peer, Tag tag, size_t size);
  void FinishPost(Op* op, void* ucx_result);
  void Unlink(Op* op);
  Status FinalStatus(const Op& op) const;
  int Deliver();
  void HandlePeerFailures();
  void CancelReceivesFrom(int peer);
  void ForceClose(Peer& peer);
  void DetachSendsTo(const Peer& peer);
  void Orphan(Op* op);
  void DrainOnDestruction();
  void CloseEndpoints();

  std::shared_ptr<UcxContext> context_;
  ucp_worker_h worker_;
  int rank_;
  int size_;
  std::vector<std::unique_ptr<Peer>> peers_;
  Op* pending_ = nullptr;  // head of the doubly linked list of undelivered Ops
  size_t pending_count_ = 0;
  std::vector<Op*> queued_;      // Ops UCX let go of, in completion order
  std::vector<Op*> delivering_;  // Deliver()'s scratch
  std::vector<void*> closing_;   // force-close requests still in flight
  bool peer_failures_unhandled_ = false;
  bool aborted_ = false;
  Status abort_status_;
};

void SendCallback(void* request, ucs_status_t status, void* user_data) {
  auto* op = static_cast<Op*>(user_data);
  ucp_request_free(request);
  op->ucx_request = nullptr;
  TIDAL_DCHECK(op->owner != nullptr);
  op->owner->OnUcxDone(op, status, status == UCS_OK ? op->size : 0);
}

void RecvCallback(void* request, ucs_status_t status, const ucp_tag_recv_info_t* info,
                  void* user_data) {
  auto* op = static_cast<Op*>(user_data);
  ucp_request_free(request);
  op->ucx_request = nullptr;
  TIDAL_DCHECK(op->owner != nullptr);
  op->owner->OnUcxDone(op, status, status == UCS_OK && info != nullptr ? info->length : 0);
}

void EndpointErrorCallback(void* arg, ucp_ep_h /*ep*/, ucs_status_t status) {
  auto* peer = static_cast<Peer*>(arg);
  if (peer->owner != nullptr) peer->owner->OnEndpointError(peer, status);
}

Status UcxTransportImpl::Connect(std::span<const std::vector<uint8_t>> addresses) {
  const UcxOptions::PeerErrors mode = context_->options().peer_errors;
  int with_peer_mode = 0;
  for (int r = 0; r < size_; ++r) {
    Result<ucx::DecodedAddress> address = ucx::DecodeAddress(addresses[r]);
    if (!address.ok()) {
      return address.status().WithContext(StrCat("rank ", rank_, ": address of rank ", r));
    }
    auto peer = std::make_unique<Peer>();
    peer->owner = this;
    peer->rank = r;
    // kAuto: a peer on this host is reached over shared memory when UCX_TLS allows it, and
    // asking for PEER mode there would make UCX fall back to (slower) TCP.
    const bool shared_memory = address->host_id == context_->host_id() && context_->shared_memory();
    const bool want_peer_mode = mode == UcxOptions::PeerErrors::kOn ||
                                (mode == UcxOptions::PeerErrors::kAuto && !shared_memory);
    ucp_ep_params_t params{};
    params.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE;
    params.address = reinterpret_cast<const ucp_address_t*>(address->ucp_address.data());
    ucs_status_t status = UCS_ERR_UNSUPPORTED;
    if (want_peer_mode) {
      params.field_mask |= UCP_EP_PARAM_FIELD_ERR_HANDLER;
      params.err_mode = UCP_ERR_HANDLING_MODE_PEER;
      params.err_handler.cb = EndpointErrorCallback;
      params.err_handler.arg = peer.get();
      status = ucp_ep_create(worker_, &params, &peer->ep);
      peer->peer_mode = status == UCS_OK;
      if (status != UCS_OK && mode == UcxOptions::PeerErrors::kOn) {
        peer->ep = nullptr;
        peers_.push_back(std::move(peer));
        return ucx::FromUcsAs(StatusCode::kUnavailable, status, rank_,
                              StrCat("endpoint to rank ", r,
                                     " with peer-failure handling (TIDAL_UCX_PEER_ERRORS=on)"));
      }
    }
    if (status != UCS_OK) {
      params.field_mask &= ~static_cast<uint64_t>(UCP_EP_PARAM_FIELD_ERR_HANDLER);
      params.err_mode = UCP_ERR_HANDLING_MODE_NONE;
      status = ucp_ep_create(worker_, &params, &peer->ep);
    }
    if (status != UCS_OK) {
      peer->ep = nullptr;
      peers_.push_back(std::move(peer));
      return ucx::FromUcsAs(StatusCode::kUnavailable, status, rank_,
                            StrCat("endpoint to rank ", r));
    }
    with_peer_mode += peer->peer_mode ? 1 : 0;
    peers_.push_back(std::move(peer));
  }
  TIDAL_LOG(INFO, kTransport) << "rank " << rank_ << ": " << size_ << " UCX endpoints, "
                              << with_peer_mode << " with peer-failure handling ("
                              << context_->Describe() << ", peer errors " << PeerErrorsName(mode)
                              << ")";
  return Status::Ok();
}

UcxTransportImpl::~UcxTransportImpl() {
  DrainOnDestruction();
  CloseEndpoints();
}

Status UcxTransportImpl::CheckPost(const char* what, int peer, const void* data, size_t bytes,
                                   const Request* request) const {
  if (peer < 0 || peer >= size_) {
    return InvalidArgumentError("rank ", rank_, ": ", what, " rank ", peer,
                                ": peer out of range [0, ", size_, ")");
  }
  if (data == nullptr && bytes > 0) {
    return InvalidArgumentError("rank ", rank_, ": ", what, " rank ", peer, ": null buffer of ",
                                bytes, " bytes");
  }
  if (request == nullptr || request->pending()) {
    return InvalidArgumentError("rank ", rank_, ": ", what, " rank ", peer,
                                request == nullptr ? ": null request" : ": request still pending");
  }
  if (aborted_) {
    return AbortedError("rank ", rank_, ": ", what, " rank ", peer,
                        " refused: the transport was aborted: ", abort_status_.message());
  }
  return Status::Ok();
}

Op* UcxTransportImpl::StartOp(Request* request, Request::Kind kind, int peer, Tag tag,
                              size_t size) {
  const uint32_t source = static_cast<uint32_t>(kind == Request::Kind::kSend ? rank_ : peer);
  const Tag wire_tag = WithSource(tag, source);
  auto* op = new Op();
  op->owner = this;
  op->request = request;
  op->peer = peer;
  op->is_send = kind == Request::Kind::kSend;
  op->wire_tag = wire_tag;
  op->size = size;
  TransportAccess::MarkPosted(request, kind, peer, wire_tag);
  request->transport_slot_[0] = op;
  op->next = pending_;
  if (pending_ != nullptr) pending_->prev = op;
  pending_ = op;
  ++pending_count_;
  return op;
}

void UcxTransportImpl::Unlink(Op* op) {
  if (op->prev != nullptr) op->prev->next = op->next;
  if (op->next != nullptr) op->next->prev = op->prev;
  if (pending_ == op) pending_ = op->next;
  op->prev = op->next = nullptr;
  --pending_count_;
}

void UcxTransportImpl::FinishPost(Op* op, void* ucx_result) {
  // With UCP_OP_ATTR_FLAG_NO_IMM_CMPL UCX may have run (and our callback freed) the request
  // already; the returned pointer must not be touched then.
  if (op->queued) return;
  if (ucx::PtrIsRequest(ucx_result)) {
    op->ucx_request = ucx_result;
    return;
  }
  const ucs_status_t status = ucx::PtrStatus(ucx_result);
  const size_t bytes = status == UCS_OK && op->is_send ? op->size : 0;
  OnUcxDone(op, status, bytes);
}

Status UcxTransportImpl::PostSend(int peer, Tag tag, const void* data, size_t bytes,
                                  Request* request) {
  TIDAL_RETURN_IF_ERROR(CheckPost("send to", peer, data, bytes, request));
  Op* op = StartOp(request, Request::Kind::kSend, peer, tag, bytes);
  Peer& p = *peers_[peer];
  if (!p.failed.ok() || p.ep == nullptr) {
    OnUcxDone(op, UCS_ERR_CONNECTION_RESET, 0);
    return Status::Ok();
  }
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
  param.cb.send = SendCallback;
  param.user_data = op;
  FinishPost(op, ucp_tag_send_nbx(p.ep, data, bytes, op->wire_tag, &param));
  return Status::Ok();
}

Status UcxTransportImpl::PostRecv(int peer, Tag tag, void* data, size_t capacity,
                                  Request* request) {
  TIDAL_RETURN_IF_ERROR(CheckPost("recv from", peer, data, capacity, request));
  Op* op = StartOp(request, Request::Kind::kRecv, peer, tag, capacity);
  if (!peers_[peer]->failed.ok()) {
    OnUcxDone(op, UCS_ERR_CONNECTION_RESET, 0);
    return Status::Ok();
  }
  ucp_request_param_t param{};
  // UCX 1.13 reports a length of 0 through recv_info when a receive completes at once (matched
  // an unexpected eager message), so completions always go through the callback.
  param.op_attr_mask =
      UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FLAG_NO_IMM_CMPL;
  param.cb.recv = RecvCallback;
  param.user_data = op;
  FinishPost(op, ucp_tag_recv_nbx(worker_, data, capacity, op->wire_tag, kFullMask, &param));
  return Status::Ok();
}

void UcxTransportImpl::OnUcxDone(Op* op, ucs_status_t status, size_t bytes) {
  op->ucs = status;
  op->bytes = bytes;
  op->queued = true;
  queued_.push_back(op);
}

void UcxTransportImpl::OnEndpointError(Peer* peer, ucs_status_t status) {
  if (peer->failed.ok()) {
    peer->failed = UnavailableError("peer rank ", peer->rank,
                                    " failed (UCX: ", ucs_status_string(status), ")");
    TIDAL_LOG(INFO, kTransport) << "rank " << rank_ << ": " << peer->failed;
  }
  peer->failure_unhandled = true;
  peer_failures_unhandled_ = true;
}

void UcxTransportImpl::Cancel(Request* request) {
  if (request == nullptr || !request->pending()) return;
  auto* op = static_cast<Op*>(request->transport_slot_[0]);
  if (op == nullptr || op->owner != this || op->ucx_request == nullptr) return;
  // Receives not yet matched complete with UCS_ERR_CANCELED (inside this call); UCX 1.13 ignores
  // cancellation of sends.
  ucp_request_cancel(worker_, op->ucx_request);
}

int UcxTransportImpl::Progress() {
  for (int i = 0; i < 64 && ucp_worker_progress(worker_) != 0; ++i) {
  }
  if (peer_failures_unhandled_) HandlePeerFailures();
  if (!closing_.empty()) {
    std::erase_if(closing_, [](void* close_request) {
      if (ucp_request_check_status(close_request) == UCS_INPROGRESS) return false;
      ucp_request_free(close_request);
      return true;
    });
  }
  return queued_.empty() ? 0 : Deliver();
}

Status UcxTransportImpl::FinalStatus(const Op& op) const {
  if (!op.override.ok()) return op.override;
  if (op.ucs == UCS_OK) return Status::Ok();
  const Status& peer_failed = peers_[op.peer]->failed;
  if (!peer_failed.ok()) return peer_failed.WithContext(StrCat("rank ", rank_, ": ", Describe(op)));
  if (op.ucs == UCS_ERR_MESSAGE_TRUNCATED) {
    return IoError("rank ", rank_, ": ", Describe(op),
                   ": message truncated: the sender's message is longer than the receive buffer");
  }
  if (op.ucs == UCS_ERR_CANCELED)
    return AbortedError("rank ", rank_, ": ", Describe(op), ": cancelled");
  return ucx::FromUcs(op.ucs, rank_, Describe(op));
}

int UcxTransportImpl::Deliver() {
  delivering_.swap(queued_);
  for (Op* op : delivering_) {
    Unlink(op);
    Status status = FinalStatus(*op);
    const size_t bytes = status.ok() ? op->bytes : 0;
    Request* request = op->request;
    delete op;
    TransportAccess::Complete(request, std::move(status), bytes);
  }
  const int count = static_cast<int>(delivering_.size());
  delivering_.clear();
  return count;
}

bool UcxTransportImpl::Arm() {
  if (!queued_.empty() || peer_failures_unhandled_) return false;
  const ucs_status_t status = ucp_worker_arm(worker_);
  if (status == UCS_OK) return true;
  if (status != UCS_ERR_BUSY) {
    TIDAL_LOG(WARN, kTransport) << ucx::FromUcs(status, rank_, "ucp_worker_arm");
  }
  return false;
}

void UcxTransportImpl::CancelReceivesFrom(int peer) {
  for (Op* op = pending_; op != nullptr; op = op->next) {
    if (op->peer == peer && !op->is_send && op->ucx_request != nullptr) {
      ucp_request_cancel(worker_, op->ucx_request);
    }
  }
}

void UcxTransportImpl::ForceClose(Peer& peer) {
  if (peer.ep == nullptr) return;
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
  param.flags = UCP_EP_CLOSE_FLAG_FORCE;
  void* result = ucp_ep_close_nbx(peer.ep, &param);
  peer.ep = nullptr;
  if (ucx::PtrIsRequest(result)) {
    closing_.push_back(result);
  } else if (ucx::PtrIsErr(result)) {
    TIDAL_LOG(DEBUG, kTransport) << ucx::FromUcs(
        ucx::PtrStatus(result), rank_, StrCat("closing the endpoint to rank ", peer.rank));
  }
}

// Gives an Op's UCX request back to UCX, which finishes (or drops) the operation without calling
// back, and frees the Op.
void UcxTransportImpl::Orphan(Op* op) {
  ucp_request_free(op->ucx_request);
  delete op;
}

// UCX 1.13 does not give back the unfinished sends (rendezvous waiting for the peer) of a
// force-closed endpoint without peer-failure handling. Their requests complete now, with the
// status FailPeer/Abort gave them; UCX only ever reads a send buffer, so its reuse cannot harm this
// process (a peer still alive could read changed bytes).
void UcxTransportImpl::DetachSendsTo(const Peer& peer) {
  if (peer.peer_mode) return;
  for (Op* op = pending_; op != nullptr;) {
    Op* next = op->next;
    if (op->peer == peer.rank && op->is_send && op->ucx_request != nullptr) {
      auto* fresh = new Op();
      fresh->owner = this;
      fresh->request = op->request;
      fresh->peer = op->peer;
      fresh->is_send = true;
      fresh->wire_tag = op->wire_tag;
      fresh->size = op->size;
      fresh->override = op->override;
      fresh->request->transport_slot_[0] = fresh;
      Unlink(op);
      fresh->next = pending_;
      if (pending_ != nullptr) pending_->prev = fresh;
      pending_ = fresh;
      ++pending_count_;
      Orphan(op);
      OnUcxDone(fresh, UCS_ERR_CANCELED, 0);
    }
    op = next;
  }
}

void UcxTransportImpl::HandlePeerFailures() {
  peer_failures_unhandled_ = false;
  for (const std::unique_ptr<Peer>& peer : peers_) {
    if (!peer->failure_unhandled) continue;
    peer->failure_unhandled = false;
    CancelReceivesFrom(peer->rank);
    ForceClose(*peer);  // UCX requires closing a failed endpoint; fails its remaining sends
  }
}

void UcxTransportImpl::FailPeer(int peer, const Status& why) {
  TIDAL_CHECK(!why.ok()) << "FailPeer with an OK status";
  if (peer < 0 || peer >= size_) return;
  Peer& p = *peers_[peer];
  if (p.failed.ok()) p.failed = why;
  for (Op* op = pending_; op != nullptr; op = op->next) {
    if (op->peer == peer && op->override.ok()) op->override = why;
  }
  CancelReceivesFrom(peer);
  ForceClose(p);
  DetachSendsTo(p);
}

void UcxTransportImpl::Abort(const Status& why) {
  TIDAL_CHECK(!why.ok()) << "Abort with an OK status";
  if (aborted_) return;
  aborted_ = true;
  abort_status_ = why;
  TIDAL_LOG(INFO, kTransport) << "rank " << rank_ << ": aborting the UCX transport ("
                              << pending_count_ << " pending requests): " << why;
  for (Op* op = pending_; op != nullptr; op = op->next) {
    op->override = why;
    if (!op->is_send && op->ucx_request != nullptr) ucp_request_cancel(worker_, op->ucx_request);
  }
  for (const std::unique_ptr<Peer>& peer : peers_) {
    ForceClose(*peer);
    DetachSendsTo(*peer);
  }
}

void UcxTransportImpl::DrainOnDestruction() {
  if (pending_count_ == 0) return;
  if (!aborted_) {
    Abort(AbortedError("rank ", rank_, ": the UCX transport was destroyed with ", pending_count_,
                       " pending requests"));
  }
  const Clock::time_point until = Clock::now() + kDrainTimeout;
  while (pending_count_ > 0 && Clock::now() < until) Progress();
  while (pending_ != nullptr) {
    Op* op = pending_;
    Unlink(op);
    TIDAL_LOG(WARN, kTransport) << "rank " << rank_ << ": " << Describe(*op)
                                << " still held by UCX at destruction; completing it anyway";
    TransportAccess::Complete(op->request, abort_status_, 0);
    if (op->ucx_request != nullptr && !op->queued) {
      Orphan(op);
    } else {
      delete op;
    }
  }
  queued_.clear();
}

void UcxTransportImpl::CloseEndpoints() {
  std::vector<void*> requests;
  for (const std::unique_ptr<Peer>& peer : peers_) {
    if (peer->ep == nullptr) continue;
    ucp_request_param_t param{};  // flush mode: let sent messages reach the peer
    void* result = ucp_ep_close_nbx(peer->ep, &param);
    peer->ep = nullptr;
    if (ucx::PtrIsRequest(result)) requests.push_back(result);
  }
  requests.insert(requests.end(), closing_.begin(), closing_.end());
  closing_.clear();
  const Clock::time_point until = Clock::now() + kDrainTimeout;
  while (!requests.empty() && Clock::now() < until) {
    ucp_worker_progress(worker_);
    std::erase_if(requests, [](void* request) {
      if (ucp_request_check_status(request) == UCS_INPROGRESS) return false;
      ucp_request_free(request);
      return true;
    });
  }
  for (void* request : requests) ucp_request_free(request);
  for (std::unique_ptr<Peer>& peer : peers_) {
    peer->owner = nullptr;
    // An endpoint whose close did not finish may still call back with its Peer: keep it.
    if (!requests.empty())
      context_->KeepUntilWorkerDestroyed(std::shared_ptr<Peer>(std::move(peer)));
  }
  if (!requests.empty()) {
    TIDAL_LOG(WARN, kTransport) << "rank " << rank_ << ": " << requests.size()
                                << " UCX endpoints did not close within 2 s";
  }
}

}  // namespace

Result<std::unique_ptr<UcxTransport>> UcxTransport::Create(
    std::shared_ptr<UcxContext> context, int rank, int size,
    std::span<const std::vector<uint8_t>> worker_addresses) {
  if (context == nullptr) return InvalidArgumentError("UcxTransport::Create: null context");
  if (size < 1 || size > TagLayout::kMaxRanks || rank < 0 || rank >= size) {
    return InvalidArgumentError("UcxTransport::Create: rank ", rank, " of ", size,
                                " is out of range");
  }
  if (worker_addresses.size() != static_cast<size_t>(size)) {
    return InvalidArgumentError("rank ", rank, ": UcxTransport::Create: ", worker_addresses.size(),
                                " worker addresses for ", size, " ranks");
  }
  for (int r = 0; r < size; ++r) {
    if (worker_addresses[r].empty()) {
      return InvalidArgumentError("rank ", rank, ": empty UCX worker address of rank ", r);
    }
  }
  auto transport = std::make_unique<UcxTransportImpl>(std::move(context), rank, size);
  TIDAL_RETURN_IF_ERROR(transport->Connect(worker_addresses));
  return std::unique_ptr<UcxTransport>(std::move(transport));
}

}  // namespace tidal

// UcxTransport: the Transport of one world over UCX's ucp tag API (shared memory, TCP, InfiniBand),
// on the process's shared UcxContext. It implements transport.h's contract; what is UCX-specific:
//
// - Endpoints: one per rank of the world (self included), all created by Create() from the
//   worker addresses the ranks published (ConnectUcxWorld does the store exchange). UCX wires them
//   up asynchronously, so Create() does not wait for peers.
// - Tags: sends carry the caller's tag with the source field set to rank(); receives match the
//   full 64 bits with the source field set to `peer` (tag.h). UCX matches on the tag alone, so two
//   live UcxTransports on one context must use disjoint comm ids.
// - Completion: UCX callbacks (inside ucp_worker_progress, or inside ucp_request_cancel) only
//   record the result; requests complete in the owning transport's next Progress(). A post that
//   UCX completes at once is also queued for the next Progress(), so nothing completes inline.
// - Errors of a completed request: truncation -> kIoError ("truncated"); cancellation ->
//   kAborted; a failed peer -> kUnavailable naming it; other UCX errors -> kIoError with UCX's
//   error string. Every message names this rank, the operation, the peer and the tag.
// - Peer failure: with PeerErrors::kAuto an endpoint asks UCX for UCP_ERR_HANDLING_MODE_PEER
//   unless the peer is on this host (same host id in its address) and UCX_TLS allows shared
//   memory: UCX 1.13 refuses PEER mode for sysv/posix (and self), and asking for it would make UCX
//   choose TCP over shared memory. Where UCX refuses PEER mode, the endpoint falls back to NONE.
//   peer_error_handling(peer) says which mode an endpoint got. On a PEER endpoint UCX reports a
//   dead peer (TCP connection reset, "Endpoint timeout"; measured: within ~50 ms of a SIGKILL) and
//   the transport fails every pending request involving that peer, and every later one, with
//   kUnavailable "peer rank P failed". On a NONE endpoint a dead peer is noticed only by deadlines
//   or by FailPeer (the liveness protocol).
// - FailPeer / Abort: receives still owned by UCX are cancelled (ucp_request_cancel) and the
//   endpoints concerned are closed in force mode. On PEER endpoints this makes UCX give back every
//   send it holds (UCS_ERR_CANCELED): a request completes only once UCX has let go of its buffer.
//   On NONE endpoints UCX 1.13 keeps unfinished (rendezvous) sends even then; those requests are
//   completed anyway and their UCX requests released to UCX: UCX only reads a send buffer, so
//   reusing it cannot corrupt this process (a peer still alive could read changed bytes; UCX warns
//   "not returned to mpool" when the worker is destroyed). A receive that already matched stays
//   pending until UCX finishes it.
// - Cancel: an unmatched receive completes with kAborted; a send is cancelled if UCX can (in UCX
//   1.13 usually not: it then completes normally once the peer receives it).
// - Destruction: pending requests are aborted and driven to completion for up to 2 s; endpoints
//   are then closed (flushed when healthy). Destroy transports before their requests' buffers.
//
// Thread safety: as transport.h: one thread at a time drives the transport (and the shared
// worker: when several transports share a context, one thread at a time drives all of them);
// Signal() from any thread.
#pragma once

#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "tidal/core/status.h"
#include "tidal/core/time.h"
#include "tidal/store/store.h"
#include "tidal/transport/transport.h"
#include "tidal/transport/ucx/ucx_context.h"

namespace tidal {

class UcxTransport : public Transport {
 public:
  // Creates the transport of rank `rank` in a world of `size` ranks; worker_addresses[r] is rank
  // r's UcxContext::worker_address() (this rank's own included). Returns kInvalidArgument for bad
  // ranks or a wrong number of addresses, kUnavailable when UCX cannot reach a peer's address
  // (or, with PeerErrors::kOn, cannot give it peer-failure handling).
  static Result<std::unique_ptr<UcxTransport>> Create(
      std::shared_ptr<UcxContext> context, int rank, int size,
      std::span<const std::vector<uint8_t>> worker_addresses);

  // Whether the endpoint to `peer` has UCX peer-failure handling. REQUIRES: 0 <= peer < size().
  virtual bool peer_error_handling(int peer) const = 0;
  virtual const std::shared_ptr<UcxContext>& context() const = 0;

 protected:
  UcxTransport() = default;
};

// Publishes this process's worker address in `store` under "<prefix>/ucx/<rank>", reads every
// other rank's (waiting for them until `deadline`: kTimedOut naming the missing rank) and creates
// the world's transport on UcxContext::ForProcess().
Result<std::unique_ptr<UcxTransport>> ConnectUcxWorld(Store& store, std::string_view prefix,
                                                      int rank, int size, Deadline deadline);

}  // namespace tidal

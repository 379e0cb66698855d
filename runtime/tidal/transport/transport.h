// Transport: the seam between tidal's algorithms and the wire. Point-to-point, tagged,
// non-blocking messages between the ranks of one world. Algorithms never name a backend.
//
// Implementations, each passing the same conformance suite (tests/harness/transport_conformance.h,
// run by tests/multirank/transport_conformance_test.cc and tests/ucx/ucx_conformance_test.cc):
//   transport/inproc/  ranks in one process (tests): UCX's ordering and copy semantics
//   transport/fault/   a wrapper injecting delay, rate limits, failures and kills around any other
//   transport/ucx/     UCX's ucp tag API over shared memory, TCP, InfiniBand (Foundation II)
//
// Contract, shared by every implementation:
// - Posts never block and never complete inline: a request completes only inside a later call to
//   Progress(), on the thread that calls it.
// - Matching is by (source, tag), first-posted receive with first-arrived message, so messages
//   from one source with one tag are received in the order they were sent. There is no ordering
//   between different sources or different tags.
// - The transport sets the source-rank field of the tag itself (to the sender on sends, to `peer`
//   on receives); callers leave it zero.
// - Copy semantics: the send buffer may be reused once the send request is done; the receive
//   buffer holds the message once the receive request is done. A message longer than the receive
//   buffer fails the receive with kIoError ("truncated"); a shorter one fills a prefix and
//   Request::bytes() says how much. Truncation is a caller bug: after a truncated rendezvous-sized
//   message, UCX 1.13 over TCP may also declare the link to that peer failed (kUnavailable).
// - Failures arrive through requests: a dead or failed peer completes the requests that involve
//   it with kUnavailable naming the peer; Abort() completes every pending request with kAborted.
//   Synchronous errors from posts are argument errors (kInvalidArgument): peer out of range, a
//   null buffer with a non-zero size, a request that is still pending.
//
// Thread safety: a Transport is driven by one thread at a time (post, cancel, progress, arm), as a
// UCX worker is. Signal() may be called from any thread. Ranks in one process each have their own
// Transport object and may run on different threads.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "tidal/core/status.h"
#include "tidal/transport/request.h"
#include "tidal/transport/tag.h"

namespace tidal {

class Transport {
 public:
  virtual ~Transport() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // "inproc", "ucx", "fault(inproc)", ...
  virtual std::string_view name() const = 0;

  // Posts a send of `bytes` bytes at `data` to `peer`.
  // REQUIRES: `data` (if bytes > 0) and `request` stay valid until request->done().
  // Returns kInvalidArgument (and posts nothing) for a bad peer, buffer or pending request.
  virtual Status PostSend(int peer, Tag tag, const void* data, size_t bytes, Request* request) = 0;

  // Posts a receive of at most `capacity` bytes from `peer` into `data`.
  // REQUIRES: as for PostSend.
  virtual Status PostRecv(int peer, Tag tag, void* data, size_t capacity, Request* request) = 0;

  // Asks a pending request to stop. A receive that has not matched completes with kAborted in a
  // later Progress(); one that already matched, and a send that has left, may still complete
  // normally. Either way the request completes: the caller keeps driving Progress() until done().
  // No effect on a request that is not pending.
  virtual void Cancel(Request* request) = 0;

  // Advances communication and completes requests. Never blocks. Returns the number of requests
  // it completed (0 when there was nothing to do).
  virtual int Progress() = 0;

  // Wake-up, for waiters that sleep instead of spinning:
  //   if (transport.Arm()) poll(transport.EventFd(), ...); else transport.Progress();
  // EventFd() becomes readable when Progress() may have work; -1 if the transport has none
  // (then waiters must spin). Arm() returns false when work is already pending (call Progress()
  // instead of sleeping), true when it is safe to sleep on EventFd().
  virtual int EventFd() const = 0;
  virtual bool Arm() = 0;
  // Makes EventFd() readable, waking a thread asleep on it. Thread-safe.
  virtual void Signal() = 0;

  // Declares `peer` failed (learned out of band, e.g. from the liveness protocol): its pending
  // requests and any later ones involving it complete with `why`, which should be kUnavailable.
  // REQUIRES: !why.ok().
  virtual void FailPeer(int peer, const Status& why) = 0;

  // Stops this rank's transport: every pending request completes with `why` (kAborted), later
  // posts are refused, and peers are told where the transport can (in-process: the peers' requests
  // involving this rank fail with kUnavailable). Buffers of pending requests stay owned by the
  // transport until their requests complete in Progress(). REQUIRES: !why.ok().
  virtual void Abort(const Status& why) = 0;
  virtual bool aborted() const = 0;
};

}  // namespace tidal

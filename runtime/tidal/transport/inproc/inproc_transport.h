// In-process transport: the ranks of a world live in one process (tests run them as fibers or
// threads) and exchange messages through a shared InProcFabric. It behaves as UCX does, so that
// code tested on it works on UCX:
// - no inline completions: posts only queue work; requests complete in the owner's Progress();
// - FIFO matching per (source, tag);
// - copy semantics: messages up to `eager_bytes` are copied when posted (the send may complete
//   before the receive is posted); larger ones are copied only when matched, straight from the
//   sender's buffer into the receiver's (rendezvous), and the send completes after that copy;
// - a message longer than the receive buffer fails the receive with kIoError ("rank 2 recv from
//   rank 1 tag(...): message of 4096 bytes truncated to 1024"); the message is consumed, nothing is
//   written, bytes() is 0, and the send completes normally (the sender is not told);
// - with `shuffle`, a seeded generator permutes the order in which ready completions are delivered
//   and holds about one in four back for the next Progress() call (each at most once). Matching is
//   never reordered, so FIFO per (source, tag) holds whatever the seed;
// - Cancel(): an unmatched receive or an unmatched rendezvous send completes with kAborted; any
//   other request completes normally;
// - Abort() of one rank fails its own pending requests with the given status and its peers'
//   requests that involve it with kUnavailable naming it ("rank 2 died: ..."): their receives from
//   it (posted now or later), their rendezvous sends waiting in its mailbox, and their later sends
//   to it. Its own unmatched rendezvous sends are removed from the peers' mailboxes (their buffers
//   may go away); its eager messages not yet received are dropped. Posts after Abort() are
//   accepted and complete with the abort status in the next Progress() (a post only fails
//   synchronously for an argument error);
// - FailPeer(p, why) does the same locally: this rank's receives from p and sends to p (pending
//   and later) complete with `why`, and p's unmatched rendezvous sends to this rank complete with
//   kUnavailable;
// - the transport stamps the tag's source field (sends: own rank; receives: `peer`), overwriting
//   whatever the caller put there.
// Each endpoint has an eventfd that becomes readable when work for it arrives (Arm/EventFd).
//
// Thread safety: the fabric is thread-safe: one mutex per mailbox, one per completion queue, and a
// thread never holds two of them at once (matching collects completions and pushes them after
// releasing the mailbox), so no lock order can be violated. Each endpoint follows the Transport
// rule: one thread at a time; Signal() from any thread. Completions for a rank may be queued by any
// thread; they are delivered only by that rank's Progress().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "tidal/core/status.h"
#include "tidal/transport/transport.h"

namespace tidal {

struct InProcOptions {
  // Messages up to this size are eager (copied at post); larger ones rendezvous.
  // Default: TIDAL_INPROC_EAGER_BYTES (8192).
  size_t eager_bytes = 8192;
  // Vary completion order (seeded by `seed`).
  bool shuffle = false;
  uint64_t seed = 1;
  // Reads eager_bytes from TIDAL_INPROC_EAGER_BYTES.
  static InProcOptions FromEnv();
};

class InProcFabric {
 public:
  // REQUIRES: 1 <= size <= TagLayout::kMaxRanks.
  static Result<std::shared_ptr<InProcFabric>> Create(int size, const InProcOptions& options);
  virtual ~InProcFabric() = default;
  virtual int size() const = 0;
  // Creates rank `rank`'s endpoint. Each rank may be created once (kInvalidArgument otherwise, and
  // for a rank out of range). The endpoint keeps the fabric alive. Destroying an endpoint aborts it
  // (kAborted) first, then completes every request it still owns (so the caller's Requests may be
  // destroyed after it); its peers see kUnavailable.
  virtual Result<std::unique_ptr<Transport>> CreateEndpoint(int rank) = 0;
};

}  // namespace tidal

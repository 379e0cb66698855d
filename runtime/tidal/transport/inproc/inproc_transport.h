// In-process transport: the ranks of a world live in one process (tests run them as fibers or
// threads) and exchange messages through a shared InProcFabric. It behaves as UCX does, so that
// code tested on it works on UCX:
// - no inline completions: posts only queue work; requests complete in the owner's Progress();
// - FIFO matching per (source, tag);
// - copy semantics: messages up to `eager_bytes` are copied when posted (the send may complete
//   before the receive is posted); larger ones are copied only when matched, straight from the
//   sender's buffer into the receiver's (rendezvous), and the send completes after that copy;
// - a message longer than the receive buffer fails the receive with kIoError (truncated);
// - with `shuffle`, a seeded generator varies the order in which ready completions are delivered
//   and holds some back for a later Progress() call, within what the contract allows;
// - Abort() of one rank fails its own pending requests with the given status and its peers'
//   requests that involve it with kUnavailable naming it ("rank 2 died: ..."); FailPeer does the
//   same for one peer, locally.
// Each endpoint has an eventfd that becomes readable when work for it arrives (Arm/EventFd).
//
// Thread safety: the fabric is thread-safe (one mutex per mailbox, one per completion queue, no
// lock held while taking another of the same rank's). Each endpoint follows the Transport rule:
// one thread at a time; Signal() from any thread.
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
  // Creates rank `rank`'s endpoint. Each rank may be created once. The endpoint keeps the fabric
  // alive. Destroying an endpoint aborts it (kAborted) first.
  virtual Result<std::unique_ptr<Transport>> CreateEndpoint(int rank) = 0;
};

}  // namespace tidal

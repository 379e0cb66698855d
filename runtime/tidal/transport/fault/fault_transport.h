// FaultTransport: wraps any Transport and injects the failures tests and benchmarks need:
// - delay: every send is held for `send_delay` before it reaches the wrapped transport;
// - rate limit: sends leave no faster than `bytes_per_second` (a token bucket per rank, of depth
//   zero: a send of b bytes leaves once b / bytes_per_second has passed since the previous send
//   left, so 1 MB at 10 MB/s takes at least 100 ms);
// - failure: a post fails (its request completes with kIoError "rank 0 send to rank 1 tag(...):
//   injected failure (post 3, fail_after_posts 3)") with probability `fail_probability` (seeded,
//   deterministic), or from the `fail_after_posts`-th post on (posts are numbered from 0, sends and
//   receives together; a post refused with kInvalidArgument does not count);
// - kill: Kill() makes this rank die as a crashed process would: the wrapped transport is aborted
//   (in-process peers see kUnavailable naming the rank) and every pending and later request of
//   this rank fails with kAborted.
// Holding sends back preserves per-(peer, tag) order (held sends leave in post order). Receives are
// never held. Injected failures, like all completions, are delivered in Progress(), never inline.
// Cancel() of a held send completes it with kAborted; FailPeer() and Abort() fail held sends with
// their status. Without delay and rate limit, requests pass straight through to the wrapped
// transport. EventFd() is an epoll fd over the wrapped transport's fd, a timer for the next held
// send and an eventfd for Signal(), so sleeping waiters wake when a delayed send is due; Arm()
// returns false while completions are queued here or a held send is due.
//
// Thread safety: as Transport: one driving thread (Kill() included); Signal() from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "tidal/core/status.h"
#include "tidal/transport/transport.h"

namespace tidal {

struct FaultOptions {
  uint64_t seed = 1;
  std::chrono::nanoseconds send_delay{0};
  double bytes_per_second = 0;    // 0: unlimited
  double fail_probability = 0;    // per post, sends and receives
  int64_t fail_after_posts = -1;  // -1: never; N: posts N, N+1, ... fail
};

class FaultTransport : public Transport {
 public:
  // Takes ownership of `inner`. Returns kInvalidArgument for negative delays or rates, or a
  // probability outside [0, 1].
  static Result<std::unique_ptr<FaultTransport>> Create(std::unique_ptr<Transport> inner,
                                                        const FaultOptions& options);
  // Simulates this rank's crash (see above). Idempotent.
  virtual void Kill() = 0;
  virtual bool killed() const = 0;
  virtual const FaultOptions& options() const = 0;
  // Posts so far, sends and receives (for tests of fail_after_posts).
  virtual int64_t posts() const = 0;
};

}  // namespace tidal

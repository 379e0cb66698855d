// FaultTransport: wraps any Transport and injects the failures tests and benchmarks need:
// - delay: every send is held for `send_delay` before it reaches the wrapped transport;
// - rate limit: sends leave no faster than `bytes_per_second` (a token bucket per rank);
// - failure: a post fails (its request completes with kIoError "injected failure") with
//   probability `fail_probability`, or from the `fail_after_posts`-th post on;
// - kill: Kill() makes this rank die as a crashed process would: the wrapped transport is aborted
//   (in-process peers see kUnavailable naming the rank) and every pending and later request of
//   this rank fails with kAborted.
// Holding sends back preserves per-(peer, tag) order. Injected failures, like all completions,
// are delivered in Progress(), never inline. EventFd() combines the wrapped transport's fd with a
// timer for the next held send (an epoll fd), so sleeping waiters wake when a delayed send is due.
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
  double bytes_per_second = 0;  // 0: unlimited
  double fail_probability = 0;  // per post, sends and receives
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

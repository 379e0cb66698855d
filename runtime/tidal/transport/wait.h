// Waiting on a transport without burning a core: the policy every blocking call in tidal uses.
//
// A waiter calls Progress(); while nothing is done it spins for TIDAL_SPIN_US (default 100 us),
// calling sched_yield between polls so that ranks sharing a core can run; then it arms the
// transport and sleeps in poll() on its event fd until woken or the deadline passes. Eight ranks on
// two cores thus neither starve one another nor pay a scheduler tick per message.
//
// Cooperative mode (tests run many ranks as fibers on one thread) installs a thread-local
// WaitHook: instead of spinning or sleeping, the waiter calls the hook, which switches to another
// rank. Library code never knows which mode it runs in.
//
// Thread safety: the functions drive `transport`, so they follow its one-thread-at-a-time rule;
// the hook is per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "tidal/core/status.h"
#include "tidal/core/time.h"
#include "tidal/transport/transport.h"

namespace tidal {

// Called by waiters instead of spinning and sleeping while installed on the calling thread.
using WaitHook = void (*)(void* context);

// Installs `hook` for the calling thread (nullptr removes it); returns the previous one.
struct WaitHookSlot {
  WaitHook hook = nullptr;
  void* context = nullptr;
};
WaitHookSlot SetThreadWaitHook(WaitHookSlot slot);
WaitHookSlot GetThreadWaitHook();

struct WaitPolicy {
  // Spin (Progress + sched_yield) this long before sleeping on the event fd.
  std::chrono::microseconds spin{100};
  // Read TIDAL_SPIN_US.
  static WaitPolicy FromEnv();
};

// Waiting on memory that another process writes (shared-memory flags), where no event fd can wake
// the waiter. Pause() escalates: a spin with the CPU's pause hint for the first `spin_polls`
// calls (skipped when `oversubscribed`: the writer may need this core), sched_yield for 5 ms (or
// `policy.spin` when longer: waits that long are peers copying, and a sleeper there slows every
// rank), then sleeps that double from 10 us up to 200 us, so that a rank whose peers are busy
// computing does not take their CPU time while it waits for them. Reset() after progress.
// Cooperative mode: every Pause() calls the thread's wait hook.
//
// Thread safety: one waiter per object.
class MemoryWaitBackoff {
 public:
  explicit MemoryWaitBackoff(bool oversubscribed = false, uint32_t spin_polls = 1024,
                             WaitPolicy policy = WaitPolicy::FromEnv());
  void Pause();
  void Reset();

 private:
  bool oversubscribed_;
  uint32_t spin_polls_;
  WaitPolicy policy_;
  uint32_t polls_ = 0;
  Clock::time_point yield_until_{};
  std::chrono::microseconds sleep_{0};
};

// Drives `transport` until `done()` returns true or `deadline` passes. Returns OK, or kTimedOut
// with "timed out waiting for <what>". `done` is called on this thread after every Progress().
Status WaitUntil(Transport& transport, const std::function<bool()>& done, Deadline deadline,
                 std::string_view what, WaitPolicy policy = WaitPolicy::FromEnv());

// Waits for one request and returns its status (or kTimedOut; the request is then still pending).
Status WaitRequest(Transport& transport, Request& request, Deadline deadline,
                   std::string_view what);

// Waits for every request; returns the first error among them (in order), or kTimedOut.
Status WaitAll(Transport& transport, std::span<Request* const> requests, Deadline deadline,
               std::string_view what);

}  // namespace tidal

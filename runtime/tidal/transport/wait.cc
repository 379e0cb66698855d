#include "tidal/transport/wait.h"

#include <poll.h>
#include <sched.h>

#include <algorithm>
#include <thread>

#include "tidal/core/knobs.h"
#include "tidal/core/logging.h"

namespace tidal {
namespace {

thread_local WaitHookSlot t_wait_hook;

// Sleeps on the transport's event fd until it is readable or the deadline passes. Returns
// immediately when the transport has work pending (Arm() refused).
void SleepOnEventFd(Transport& transport, Deadline deadline) {
  const int fd = transport.EventFd();
  if (fd < 0) {
    sched_yield();
    return;
  }
  if (!transport.Arm()) return;
  pollfd pfd{fd, POLLIN, 0};
  ::poll(&pfd, 1, deadline.PollTimeoutMs());
}

}  // namespace

WaitHookSlot SetThreadWaitHook(WaitHookSlot slot) {
  const WaitHookSlot previous = t_wait_hook;
  t_wait_hook = slot;
  return previous;
}

WaitHookSlot GetThreadWaitHook() { return t_wait_hook; }

MemoryWaitBackoff::MemoryWaitBackoff(bool oversubscribed, uint32_t spin_polls, WaitPolicy policy)
    : oversubscribed_(oversubscribed), spin_polls_(spin_polls), policy_(policy) {}

void MemoryWaitBackoff::Reset() {
  polls_ = 0;
  yield_until_ = Clock::time_point{};
  sleep_ = std::chrono::microseconds(0);
}

void MemoryWaitBackoff::Pause() {
  const WaitHookSlot hook = GetThreadWaitHook();
  if (hook.hook != nullptr) {
    hook.hook(hook.context);
    return;
  }
  if (!oversubscribed_ && polls_ < spin_polls_) {
    ++polls_;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
    return;
  }
  if (sleep_.count() == 0) {
    const Clock::time_point now = Clock::now();
    // A wait for a peer that is itself copying lasts as long as an on-host round (hundreds of
    // microseconds for megabytes); sleeping then makes the ranks take turns sleeping. Only a wait
    // of milliseconds means the peer is away (computing), and then the CPU is better given up.
    if (yield_until_ == Clock::time_point{}) {
      yield_until_ = now + std::max<Clock::duration>(policy_.spin, std::chrono::milliseconds(5));
    }
    if (now < yield_until_) {
      sched_yield();
      return;
    }
    sleep_ = std::chrono::microseconds(10);
  }
  std::this_thread::sleep_for(sleep_);
  sleep_ = std::min(sleep_ * 2, std::chrono::microseconds(200));
}

WaitPolicy WaitPolicy::FromEnv() {
  static const WaitPolicy policy = [] {
    WaitPolicy p;
    Result<int64_t> us = KnobInt(Knob::kSpinUs, 100);
    if (us.ok() && *us >= 0) {
      p.spin = std::chrono::microseconds(*us);
    } else {
      TIDAL_LOG(WARN, kProgress) << "ignoring TIDAL_SPIN_US: " << us.status();
    }
    return p;
  }();
  return policy;
}

Status WaitUntil(Transport& transport, const std::function<bool()>& done, Deadline deadline,
                 std::string_view what, WaitPolicy policy) {
  Clock::time_point spin_until = Clock::now() + policy.spin;
  while (true) {
    const int completed = transport.Progress();
    if (done()) return Status::Ok();
    if (deadline.Expired())
      return TimedOutError("rank ", transport.rank(), ": timed out waiting for ", what);
    if (t_wait_hook.hook != nullptr) {
      t_wait_hook.hook(t_wait_hook.context);
      continue;
    }
    const Clock::time_point now = Clock::now();
    if (completed > 0) spin_until = now + policy.spin;
    if (now < spin_until) {
      sched_yield();
    } else {
      SleepOnEventFd(transport, deadline);
    }
  }
}

Status WaitRequest(Transport& transport, Request& request, Deadline deadline,
                   std::string_view what) {
  TIDAL_RETURN_IF_ERROR(WaitUntil(
      transport, [&request] { return !request.pending(); }, deadline, what));
  return request.status();
}

Status WaitAll(Transport& transport, std::span<Request* const> requests, Deadline deadline,
               std::string_view what) {
  size_t next = 0;
  TIDAL_RETURN_IF_ERROR(WaitUntil(
      transport,
      [&] {
        while (next < requests.size() && !requests[next]->pending()) ++next;
        return next == requests.size();
      },
      deadline, what));
  for (Request* request : requests) {
    if (!request->status().ok()) return request->status();
  }
  return Status::Ok();
}

}  // namespace tidal

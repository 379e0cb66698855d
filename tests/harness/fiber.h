// FiberScheduler: runs many functions as fibers (ucontext) on the calling thread, round-robin.
// A fiber gives up the thread by calling Yield(); the harness's cooperative mode makes every
// tidal wait do so through the thread's WaitHook, so N ranks share one thread deterministically.
//
// Each fiber has its own mmap'd stack with a guard page, so an overflow faults instead of
// corrupting a neighbour. Under AddressSanitizer the stack switches are annotated.
//
// Thread safety: a scheduler belongs to the thread that calls Run(); Yield() is called only from
// inside its fibers.
#pragma once

#include <ucontext.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

namespace tidal::testing {

class FiberScheduler {
 public:
  static constexpr size_t kDefaultStackBytes = size_t{1} << 20;

  explicit FiberScheduler(size_t stack_bytes = kDefaultStackBytes);
  ~FiberScheduler();
  FiberScheduler(const FiberScheduler&) = delete;
  FiberScheduler& operator=(const FiberScheduler&) = delete;

  // Adds a fiber; `on_switch_in(index)` (if set) runs each time the fiber is resumed.
  // REQUIRES: not running.
  void Add(std::function<void()> body);
  void set_on_switch_in(std::function<void(int)> hook) { on_switch_in_ = std::move(hook); }

  // Runs every fiber until all have returned.
  void Run();

  // Switches back to the scheduler; the fiber resumes on its next turn. No-op outside a fiber.
  void Yield();

  // Index of the running fiber, or -1 in the scheduler itself.
  int current() const { return current_; }

 private:
  struct Fiber;
  static void Trampoline(unsigned int hi, unsigned int lo);
  void SwitchTo(Fiber& fiber);
  void SwitchToScheduler(Fiber& fiber, bool finished);

  size_t stack_bytes_;
  std::vector<std::unique_ptr<Fiber>> fibers_;
  std::function<void(int)> on_switch_in_;
  ucontext_t scheduler_context_{};
  int current_ = -1;
  // AddressSanitizer bookkeeping for the scheduler's own stack.
  void* scheduler_fake_stack_ = nullptr;
  const void* scheduler_stack_bottom_ = nullptr;
  size_t scheduler_stack_size_ = 0;
};

}  // namespace tidal::testing

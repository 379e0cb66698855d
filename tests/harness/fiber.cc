#include "harness/fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

#include "tidal/core/check.h"

#if defined(__SANITIZE_ADDRESS__)
#define HARNESS_FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HARNESS_FIBER_ASAN 1
#endif
#endif

#ifdef HARNESS_FIBER_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

namespace tidal::testing {

struct FiberScheduler::Fiber {
  std::function<void()> body;
  ucontext_t context{};
  void* stack_map = nullptr;  // guard page + stack
  size_t map_bytes = 0;
  char* stack = nullptr;  // usable stack, above the guard page
  size_t stack_bytes = 0;
  bool finished = false;
  void* fake_stack = nullptr;  // ASan
  FiberScheduler* scheduler = nullptr;
  int index = 0;

  ~Fiber() {
    if (stack_map != nullptr) ::munmap(stack_map, map_bytes);
  }
};

FiberScheduler::FiberScheduler(size_t stack_bytes) : stack_bytes_(stack_bytes) {}

FiberScheduler::~FiberScheduler() = default;

void FiberScheduler::Add(std::function<void()> body) {
  TIDAL_CHECK_EQ(current_, -1) << "FiberScheduler::Add while running";
  auto fiber = std::make_unique<Fiber>();
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  fiber->map_bytes = stack_bytes_ + page;
  fiber->stack_map = ::mmap(nullptr, fiber->map_bytes, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  TIDAL_CHECK(fiber->stack_map != MAP_FAILED) << "mmap of a fiber stack failed";
  TIDAL_CHECK_EQ(::mprotect(fiber->stack_map, page, PROT_NONE), 0);  // guard page at the bottom
  fiber->stack = static_cast<char*>(fiber->stack_map) + page;
  fiber->stack_bytes = stack_bytes_;
  fiber->body = std::move(body);
  fiber->scheduler = this;
  fiber->index = static_cast<int>(fibers_.size());
  TIDAL_CHECK_EQ(::getcontext(&fiber->context), 0);
  fiber->context.uc_stack.ss_sp = fiber->stack;
  fiber->context.uc_stack.ss_size = fiber->stack_bytes;
  fiber->context.uc_link = nullptr;
  const auto ptr = reinterpret_cast<uintptr_t>(fiber.get());
  // makecontext passes int-sized arguments: split the pointer in two.
  makecontext(&fiber->context, reinterpret_cast<void (*)()>(&FiberScheduler::Trampoline), 2,
              static_cast<unsigned int>(ptr >> 32), static_cast<unsigned int>(ptr & 0xffffffffu));
  fibers_.push_back(std::move(fiber));
}

void FiberScheduler::Trampoline(unsigned int hi, unsigned int lo) {
  auto* fiber = reinterpret_cast<Fiber*>((static_cast<uintptr_t>(hi) << 32) | lo);
  FiberScheduler* self = fiber->scheduler;
#ifdef HARNESS_FIBER_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &self->scheduler_stack_bottom_,
                                  &self->scheduler_stack_size_);
#endif
  fiber->body();
  self->SwitchToScheduler(*fiber, /*finished=*/true);
  TIDAL_CHECK(false) << "a finished fiber was resumed";
}

void FiberScheduler::SwitchTo(Fiber& fiber) {
  current_ = fiber.index;
  if (on_switch_in_) on_switch_in_(fiber.index);
#ifdef HARNESS_FIBER_ASAN
  __sanitizer_start_switch_fiber(&scheduler_fake_stack_, fiber.stack, fiber.stack_bytes);
#endif
  TIDAL_CHECK_EQ(::swapcontext(&scheduler_context_, &fiber.context), 0);
#ifdef HARNESS_FIBER_ASAN
  __sanitizer_finish_switch_fiber(scheduler_fake_stack_, nullptr, nullptr);
#endif
  current_ = -1;
}

void FiberScheduler::SwitchToScheduler(Fiber& fiber, bool finished) {
  fiber.finished = finished;
#ifdef HARNESS_FIBER_ASAN
  // A finished fiber's fake stack is released by passing nullptr.
  __sanitizer_start_switch_fiber(finished ? nullptr : &fiber.fake_stack, scheduler_stack_bottom_,
                                 scheduler_stack_size_);
#endif
  TIDAL_CHECK_EQ(::swapcontext(&fiber.context, &scheduler_context_), 0);
#ifdef HARNESS_FIBER_ASAN
  __sanitizer_finish_switch_fiber(fiber.fake_stack, &scheduler_stack_bottom_,
                                  &scheduler_stack_size_);
#endif
}

void FiberScheduler::Run() {
  bool any_running = true;
  while (any_running) {
    any_running = false;
    for (auto& fiber : fibers_) {
      if (fiber->finished) continue;
      SwitchTo(*fiber);
      any_running = any_running || !fiber->finished;
    }
  }
}

void FiberScheduler::Yield() {
  if (current_ < 0) return;
  SwitchToScheduler(*fibers_[static_cast<size_t>(current_)], /*finished=*/false);
}

}  // namespace tidal::testing

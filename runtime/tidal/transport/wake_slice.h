// Wake-up latency of tidal's sleeping threads on a busy host.
//
// Design note. On Linux's EEVDF scheduler (6.6 and later) a thread that wakes up preempts the
// running thread only when its virtual deadline (vruntime + slice) comes first. With the default
// slice (1.4-3 ms) a tidal thread woken behind busy compute threads (8 ranks training on 2 cores,
// or a trainer whose BLAS threads fill the cores) often waits for the next scheduler tick, 4 ms at
// HZ=250, and every hop of a collective pays it: on this project's 2-core machine the anchor
// AllReduce of Overlap Local-SGD took 10-12 ms after its last rank could start it, against about
// 1.4 ms on idle cores. Since Linux 6.12 a SCHED_OTHER thread may ask for a shorter slice
// (sched_attr.sched_runtime, 0.1-100 ms, no privilege needed); its deadline on waking then comes
// sooner and it preempts at once; its share of the CPU stays what its nice value says.
//
// tidal asks for the short slice only while a thread sleeps inside tidal (WakeSliceSleep around
// each blocking poll, condition-variable wait or memory-wait sleep) and gives the thread its own
// slice back as soon as it wakes. Keeping it while running would be wrong twice over: a thread
// that spins with sched_yield (the engine's spin, the memory-wait backoff) only moves its deadline
// one slice ahead per yield, so with 100 us it would hold the CPU it means to give away (measured:
// Overlap Local-SGD without delay 20% slower); and a trainer's own compute must keep the kernel's
// slice. Cost: three system calls per sleep (none for waits that never sleep).
//
// TIDAL_WAKE_SLICE_US sets the slice (default 100; 0 leaves every thread alone). Threads with a
// real-time, deadline or idle policy are left alone. Kernels before 6.12 accept and ignore the
// field; a failure (seccomp, a kernel without sched_setattr) is logged once at DEBUG and turns the
// mechanism off for the process.
//
// Thread safety: everything acts on the calling thread only (ThreadSliceNs may read another).
#pragma once

#include <chrono>
#include <cstdint>

namespace tidal {

// TIDAL_WAKE_SLICE_US (read once; 0: off).
std::chrono::microseconds WakeSliceFromEnv();

// A thread's time slice as the scheduler reports it (sched_runtime of a SCHED_OTHER/BATCH thread;
// 0 on kernels before 6.12), in ns; `tid` 0 is the calling thread. -1 when it cannot be read or
// the thread has another policy.
int64_t ThreadSliceNs(int tid = 0);

// For the life of the object (one blocking sleep of the calling thread) the thread's slice is
// `slice`; the destructor restores what the thread had. Nothing happens for slice 0, for threads
// of other policies, or once the kernel refused.
class WakeSliceSleep {
 public:
  explicit WakeSliceSleep(std::chrono::microseconds slice = WakeSliceFromEnv());
  ~WakeSliceSleep();
  WakeSliceSleep(const WakeSliceSleep&) = delete;
  WakeSliceSleep& operator=(const WakeSliceSleep&) = delete;

  bool lowered() const { return saved_ns_ >= 0; }

 private:
  int64_t saved_ns_ = -1;  // the thread's slice before; -1: not changed
};

}  // namespace tidal

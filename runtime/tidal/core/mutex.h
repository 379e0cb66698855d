// Mutex, MutexLock and CondVar with Clang thread-safety annotations, so that `-Wthread-safety`
// checks GUARDED_BY / REQUIRES contracts at compile time (libstdc++'s std::mutex carries none).
//
// Thread safety: these are the synchronization primitives.
#pragma once

#include <condition_variable>
#include <mutex>

#include "tidal/core/time.h"

#if defined(__clang__)
#define TIDAL_THREAD_ANNOTATION_(x) __attribute__((x))
#else
#define TIDAL_THREAD_ANNOTATION_(x)
#endif

#define TIDAL_CAPABILITY(x) TIDAL_THREAD_ANNOTATION_(capability(x))
#define TIDAL_SCOPED_CAPABILITY TIDAL_THREAD_ANNOTATION_(scoped_lockable)
#define TIDAL_GUARDED_BY(x) TIDAL_THREAD_ANNOTATION_(guarded_by(x))
#define TIDAL_PT_GUARDED_BY(x) TIDAL_THREAD_ANNOTATION_(pt_guarded_by(x))
#define TIDAL_REQUIRES(...) TIDAL_THREAD_ANNOTATION_(requires_capability(__VA_ARGS__))
#define TIDAL_EXCLUDES(...) TIDAL_THREAD_ANNOTATION_(locks_excluded(__VA_ARGS__))
#define TIDAL_ACQUIRE(...) TIDAL_THREAD_ANNOTATION_(acquire_capability(__VA_ARGS__))
#define TIDAL_RELEASE(...) TIDAL_THREAD_ANNOTATION_(release_capability(__VA_ARGS__))
#define TIDAL_NO_THREAD_SAFETY_ANALYSIS TIDAL_THREAD_ANNOTATION_(no_thread_safety_analysis)

namespace tidal {

class TIDAL_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;
  void Lock() TIDAL_ACQUIRE() { mu_.lock(); }
  void Unlock() TIDAL_RELEASE() { mu_.unlock(); }

 private:
  friend class CondVar;
  std::mutex mu_;
};

class TIDAL_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) TIDAL_ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() TIDAL_RELEASE() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* mu_;
};

// A condition variable. Each wait names the mutex it releases, so that Clang's analysis checks
// the caller holds it: cv.WaitUntil(&mu_, deadline) requires mu_.
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  // REQUIRES: `mu` is held. Returns after a signal or spuriously, with `mu` held again.
  void Wait(Mutex* mu) TIDAL_REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }
  // REQUIRES: `mu` is held. Returns false when the deadline passed.
  bool WaitUntil(Mutex* mu, Deadline deadline) TIDAL_REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    bool signalled = true;
    if (deadline.is_never()) {
      cv_.wait(lock);
    } else {
      signalled = cv_.wait_until(lock, deadline.when()) == std::cv_status::no_timeout;
    }
    lock.release();
    return signalled;
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace tidal

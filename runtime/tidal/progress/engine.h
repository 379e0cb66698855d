// Engine: the progress engine of one process's world (DESIGN.md, Progress and Liveness). It owns
// (or borrows) the world's Transport and the liveness watcher, and drives every operation of every
// communicator of the process. It is not an algorithm library: operations come to it as Tasks
// (task.h), state machines with a Poll().
//
// Design notes.
// - One driver at a time. A transport (a UCX worker in "serialized" mode) may be driven by any
//   thread, one at a time. The engine keeps a driver token under its mutex: whoever holds it
//   posts, progresses and polls every active task; nobody else touches the transport. Drivers
//   alternate, which serialized mode allows.
// - Blocking calls drive on the caller's thread: Run(task) takes the token when it is free and
//   drives until its task finished. A blocking caller that finds the token held (by the
//   background thread, or another caller) hands its task to the holder, which adopts submitted
//   tasks on every round, and sleeps on the engine's condition variable until the task finished.
//   So two threads never drive the worker at once, and no caller waits for a task nobody drives.
// - Asynchronous calls (Submit) run on one background thread, started lazily at the first
//   Submit (or when a caller leaves tasks behind). It drives while tasks exist, then gives the
//   token back and sleeps on the condition variable.
// - Waiting: Progress() + Poll() of every task; while nothing happens, a sched_yield spin for
//   TIDAL_SPIN_US (default 100 us), then the transport is armed and the driver sleeps in poll() on
//   its event fd. Submissions, deaths and Abort wake it through Transport::Signal(). Under the
//   cooperative test harness the thread's WaitHook replaces spinning and sleeping.
// - Liveness: a LivenessWatcher (liveness.h) thread learns of deaths from the store and signals the
//   transport; the driver then calls Transport::FailPeer(r, kUnavailable "rank r died: how") on its
//   own thread and tells every task (Task::OnDeath), so collectives involving r fail too.
// - Timeouts: a task whose waiter's deadline passed is stopped (its receives are cancelled) and
//   kept by the engine until its requests completed; the caller gets kTimedOut at once. Its
//   buffers stay owned by tidal until the task finished, at the latest until Abort() returns.
// - Abort: stops the drivers (they hand the token back at their next round), aborts the
//   transport, stops every task and drives until all requests completed, then destroys an owned
//   transport. Later calls return kAborted.
//
// Thread safety: every public method is thread-safe. Tasks are touched only by the driver.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tidal/core/mutex.h"
#include "tidal/core/status.h"
#include "tidal/core/time.h"
#include "tidal/progress/liveness.h"
#include "tidal/progress/task.h"
#include "tidal/transport/transport.h"
#include "tidal/transport/wait.h"

namespace tidal {

class Engine {
 public:
  // Creates an engine that owns `transport` (destroyed after Abort or with the engine).
  // `liveness`, optional, reports deaths; the engine starts nothing else until the first Submit.
  static std::shared_ptr<Engine> Create(std::unique_ptr<Transport> transport,
                                        std::unique_ptr<LivenessWatcher> liveness);
  // As above, but `transport` is borrowed (tests: the harness owns it).
  // REQUIRES: transport outlives the engine.
  static std::shared_ptr<Engine> CreateBorrowed(Transport& transport,
                                                std::unique_ptr<LivenessWatcher> liveness);

  // Aborts (if not done) with kAborted "engine destroyed", stops the threads.
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }

  // Runs `task` to completion and returns its status: drives on this thread when no one else
  // does, otherwise hands it to the driver and sleeps. kTimedOut "rank r: timed out waiting for
  // <what>" at `deadline` (the task is then stopped and kept until it finished); kAborted after
  // Abort(). Blocks.
  Status Run(std::shared_ptr<Task> task, Deadline deadline, std::string_view what);

  // Starts `task` asynchronously on the background thread (started at the first call). Returns
  // kAborted after Abort(). Wait(task) or task->finished() tell when it is done. Under the
  // cooperative test harness (a thread wait hook is installed) no thread is started: submitted
  // tasks progress whenever a rank waits or tests.
  Status Submit(std::shared_ptr<Task> task);
  // Adds `task` without starting the background thread: it progresses when a caller waits for
  // it (or any task) or calls Test. Blocking calls that wait right after use this.
  Status Start(std::shared_ptr<Task> task);

  // True once `task` finished or failed. When no one drives, drives one round on this thread
  // first (as MPI_Test does), so polling Test() alone completes operations. Never blocks.
  bool Test(const std::shared_ptr<Task>& task);

  // Waits for a submitted task, driving on this thread when no one else does. As Run.
  Status Wait(const std::shared_ptr<Task>& task, Deadline deadline, std::string_view what);

  // Aborts every operation of the process: see the design notes. Returns when every request
  // completed (buffers are released) and the background thread has stopped. Idempotent; the
  // first `why` wins. REQUIRES: !why.ok(); not called from a Task.
  void Abort(const Status& why);
  bool aborted() const { return aborted_.load(std::memory_order_acquire); }

  // Ranks known dead so far, with why (kUnavailable "rank r died: ..."), in order of discovery.
  std::vector<Death> deaths() const;
  // How many deaths the liveness watcher has learned of (cheap: one atomic load), and the deaths
  // themselves, whether or not a driver applied them yet. For waits that bypass the engine (the
  // on-host inline path). Thread-safe.
  size_t learned_death_count() const;
  std::vector<Death> LearnedDeaths() const;
  // Reports this rank's own abort or a peer's death to the store (when there is a liveness
  // watcher), so that the other ranks learn of it.
  void PostDeath(int rank, std::string_view how);

  // For tests: whether the background thread has been started.
  bool background_started() const;

 private:
  Engine(std::unique_ptr<Transport> owned, Transport* transport,
         std::unique_ptr<LivenessWatcher> liveness);

  enum class Turn { kFinished, kDrive, kTimedOut };

  Status Enqueue(std::shared_ptr<Task> task, bool background) TIDAL_EXCLUDES(mu_);
  // Waits until `task` finished, this thread got the driver token, or the deadline passed.
  Turn AwaitTurn(Task& task, Deadline deadline) TIDAL_EXCLUDES(mu_);
  Status TimedOut(Task& task, std::string_view what, bool driving);
  void RequestStop(Task& task, const Status& why) TIDAL_EXCLUDES(mu_);

  // The driver's side (REQUIRES: this thread holds the token).
  bool DriveUntil(Task& task, Deadline deadline);
  int DriveOnce();
  // Whether an active task waits on shared memory (Task::polls_memory): then never sleep.
  bool AnyPollsMemory() const;
  // The sum of the active tasks' Task::progress().
  uint64_t ActiveProgress() const;
  // The earliest Task::wake_at of the active tasks: the driver never sleeps past it.
  Deadline EarliestWake() const;
  bool PollTask(Task& task);
  void MarkFinished(Task& task) TIDAL_EXCLUDES(mu_);
  void AdoptSubmitted() TIDAL_EXCLUDES(mu_);
  void ApplyDeaths() TIDAL_EXCLUDES(mu_);
  void SleepOrYield(Deadline deadline, Clock::time_point* spin_until, int work);
  void Pause();
  void FinishAll(const Status& why);
  void DriveBackground();

  // Token and thread handling.
  void ReleaseToken() TIDAL_EXCLUDES(mu_);
  void EnsureBackground() TIDAL_REQUIRES(mu_);
  void BackgroundLoop() TIDAL_EXCLUDES(mu_);
  void JoinBackground() TIDAL_EXCLUDES(mu_);

  std::unique_ptr<Transport> owned_transport_;
  Transport* transport_;
  std::unique_ptr<LivenessWatcher> liveness_;
  const int rank_;
  const int size_;
  const WaitPolicy policy_;

  mutable Mutex mu_;
  CondVar cv_;
  bool token_held_ TIDAL_GUARDED_BY(mu_) = false;
  bool abort_requested_ TIDAL_GUARDED_BY(mu_) = false;
  bool shutdown_ TIDAL_GUARDED_BY(mu_) = false;
  int waiters_ TIDAL_GUARDED_BY(mu_) = 0;
  int live_tasks_ TIDAL_GUARDED_BY(mu_) = 0;  // submitted or active, not yet finished
  Status abort_why_ TIDAL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Task>> submitted_ TIDAL_GUARDED_BY(mu_);
  std::thread background_ TIDAL_GUARDED_BY(mu_);
  std::vector<Death> deaths_ TIDAL_GUARDED_BY(mu_);
  std::atomic<bool> has_submitted_{false};
  std::atomic<bool> abort_flag_{false};  // abort_requested_, readable without the mutex
  std::atomic<bool> aborted_{false};

  // Driver-only state (touched only by the token holder).
  std::vector<std::shared_ptr<Task>> active_;
  size_t deaths_applied_ = 0;
  MemoryWaitBackoff memory_backoff_{/*oversubscribed=*/false, /*spin_polls=*/0};
  uint64_t memory_progress_ = 0;
};

}  // namespace tidal

// The engine's driver token, background thread and Abort; see engine.h for the design.
#include <utility>

#include "tidal/core/check.h"
#include "tidal/core/logging.h"
#include "tidal/progress/engine.h"

namespace tidal {

void Engine::ReleaseToken() {
  {
    MutexLock lock(&mu_);
    token_held_ = false;
    // Tasks left behind (another caller's, or stopped ones still finishing) need a driver: a
    // waiter will take the token; otherwise the background thread does.
    if (live_tasks_ > 0 && waiters_ == 0 && !abort_requested_) EnsureBackground();
  }
  cv_.SignalAll();
}

void Engine::EnsureBackground() {
  if (background_.joinable() || shutdown_) return;
  // Cooperative harness: ranks are fibers of one thread; their waits drive the engine.
  if (GetThreadWaitHook().hook != nullptr) return;
  TIDAL_LOG(DEBUG, kProgress) << "rank " << rank_ << ": starting the progress thread";
  background_ = std::thread([this] { BackgroundLoop(); });
}

void Engine::BackgroundLoop() {
  while (true) {
    {
      MutexLock lock(&mu_);
      while (!shutdown_ && !abort_requested_ && (token_held_ || live_tasks_ == 0)) cv_.Wait(&mu_);
      if (shutdown_ || abort_requested_) return;
      token_held_ = true;
    }
    DriveBackground();
    ReleaseToken();
  }
}

void Engine::DriveBackground() {
  Clock::time_point spin_until = Clock::now() + policy_.spin;
  while (!abort_flag_.load(std::memory_order_acquire)) {
    const int work = DriveOnce();
    if (active_.empty() && !has_submitted_.load(std::memory_order_acquire)) return;
    SleepOrYield(Deadline::AfterMs(1000), &spin_until, work);
  }
}

void Engine::JoinBackground() {
  std::thread background;
  {
    MutexLock lock(&mu_);
    shutdown_ = true;
    background = std::move(background_);
  }
  cv_.SignalAll();
  if (background.joinable()) background.join();
}

void Engine::Abort(const Status& why) {
  TIDAL_CHECK(!why.ok()) << "Abort needs a reason";
  {
    MutexLock lock(&mu_);
    if (abort_requested_) {
      while (!aborted_.load(std::memory_order_acquire)) cv_.Wait(&mu_);
      return;
    }
    abort_requested_ = true;
    abort_why_ = why;
    abort_flag_.store(true, std::memory_order_release);
    if (token_held_) transport_->Signal();
    while (token_held_) cv_.Wait(&mu_);  // drivers hand the token back at their next round
    token_held_ = true;                  // and nobody takes it again
  }
  TIDAL_LOG(INFO, kProgress) << "rank " << rank_ << ": aborting: " << why.message();
  JoinBackground();
  if (liveness_) liveness_->Stop();
  if (!transport_->aborted()) transport_->Abort(why);
  FinishAll(why);
  owned_transport_.reset();  // destroys the endpoints; the process's UCX worker stays shared
  {
    MutexLock lock(&mu_);
    aborted_.store(true, std::memory_order_release);
  }
  cv_.SignalAll();
}

void Engine::FinishAll(const Status& why) {
  AdoptSubmitted();
  for (std::shared_ptr<Task>& task : active_) {
    if (!task->stopped_) {
      task->stopped_ = true;
      task->Stop(*transport_, why);
    }
  }
  // Aborted requests complete in Progress(); UCX may take a moment to give back its buffers.
  const Deadline deadline = Deadline::AfterMs(5000);
  while (!active_.empty() && !deadline.Expired()) {
    DriveOnce();
    if (!active_.empty()) sched_yield();
  }
  if (!active_.empty()) {
    // The transport still owns these requests' buffers (e.g. a UCX receive that matched a message
    // whose sender died): freeing them could corrupt memory, so they are kept for the life of the
    // process, reachable, and their waiters released.
    static Mutex kept_mu;
    static auto* const kept = new std::vector<std::shared_ptr<Task>>();
    MutexLock lock(&kept_mu);
    TIDAL_LOG(ERROR, kProgress) << "rank " << rank_ << ": " << active_.size()
                                << " operation(s) did not complete within 5 s of the abort; "
                                << "their buffers stay with tidal until the process exits";
    for (std::shared_ptr<Task>& task : active_) {
      MarkFinished(*task);
      kept->push_back(std::move(task));
    }
  }
  active_.clear();
}

}  // namespace tidal

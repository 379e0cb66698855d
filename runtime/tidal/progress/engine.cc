// The engine's blocking, asynchronous and abort paths; see engine.h for the design.
#include "tidal/progress/engine.h"

#include <poll.h>
#include <sched.h>

#include <utility>

#include "tidal/core/check.h"
#include "tidal/core/logging.h"

namespace tidal {

std::shared_ptr<Engine> Engine::Create(std::unique_ptr<Transport> transport,
                                       std::unique_ptr<LivenessWatcher> liveness) {
  TIDAL_CHECK(transport != nullptr);
  Transport* raw = transport.get();
  return std::shared_ptr<Engine>(new Engine(std::move(transport), raw, std::move(liveness)));
}

std::shared_ptr<Engine> Engine::CreateBorrowed(Transport& transport,
                                               std::unique_ptr<LivenessWatcher> liveness) {
  return std::shared_ptr<Engine>(new Engine(nullptr, &transport, std::move(liveness)));
}

Engine::Engine(std::unique_ptr<Transport> owned, Transport* transport,
               std::unique_ptr<LivenessWatcher> liveness)
    : owned_transport_(std::move(owned)),
      transport_(transport),
      liveness_(std::move(liveness)),
      rank_(transport->rank()),
      size_(transport->size()),
      policy_(WaitPolicy::FromEnv()) {
  if (liveness_) liveness_->SetWake([transport] { transport->Signal(); });
}

Engine::~Engine() {
  bool idle = false;
  {
    MutexLock lock(&mu_);
    // A driver that has just finished the last task (the background thread, typically) still
    // holds the token until the end of its round: nothing is pending, so let it hand the token
    // back rather than abort, which would tell the peers that this rank died.
    const Deadline grace = Deadline::AfterMs(1000);
    while (live_tasks_ == 0 && token_held_ && !abort_requested_ && !grace.Expired()) {
      cv_.WaitUntil(&mu_, grace);
    }
    idle = live_tasks_ == 0 && !token_held_;
    if (idle && !abort_requested_) {
      abort_requested_ = true;  // no one may drive any more
      abort_flag_.store(true, std::memory_order_release);
      token_held_ = true;
      shutdown_ = true;
    }
  }
  if (!idle) {
    Abort(AbortedError("rank ", rank_, ": engine destroyed with operations pending"));
  } else {
    cv_.SignalAll();
    JoinBackground();
  }
  if (liveness_) liveness_->Stop();
  // An owned transport flushes its healthy endpoints when destroyed.
  owned_transport_.reset();
}

Status Engine::Enqueue(std::shared_ptr<Task> task, bool background) {
  TIDAL_CHECK(task != nullptr);
  bool signal = false;
  {
    MutexLock lock(&mu_);
    if (abort_requested_)
      return abort_why_.ok() ? AbortedError("rank ", rank_, ": aborted") : abort_why_;
    submitted_.push_back(std::move(task));
    ++live_tasks_;
    has_submitted_.store(true, std::memory_order_release);
    signal = token_held_;
    if (background) EnsureBackground();
  }
  cv_.SignalAll();
  if (signal) transport_->Signal();
  return Status::Ok();
}

Status Engine::Run(std::shared_ptr<Task> task, Deadline deadline, std::string_view what) {
  TIDAL_RETURN_IF_ERROR(Enqueue(task, /*background=*/false));
  return Wait(task, deadline, what);
}

Status Engine::Submit(std::shared_ptr<Task> task) {
  return Enqueue(std::move(task), /*background=*/true);
}

Status Engine::Start(std::shared_ptr<Task> task) {
  return Enqueue(std::move(task), /*background=*/false);
}

bool Engine::Test(const std::shared_ptr<Task>& task) {
  if (task->finished() || task->failed()) return true;
  {
    MutexLock lock(&mu_);
    if (token_held_ || abort_requested_) return task->finished() || task->failed();
    token_held_ = true;
  }
  DriveOnce();
  ReleaseToken();
  return task->finished() || task->failed();
}

Engine::Turn Engine::AwaitTurn(Task& task, Deadline deadline) {
  mu_.Lock();
  while (true) {
    if (task.finished() || task.failed()) break;
    if (!token_held_ && !abort_requested_) {
      token_held_ = true;
      mu_.Unlock();
      return Turn::kDrive;
    }
    if (deadline.Expired()) {
      mu_.Unlock();
      return Turn::kTimedOut;
    }
    const WaitHookSlot hook = GetThreadWaitHook();
    if (hook.hook != nullptr) {
      mu_.Unlock();
      hook.hook(hook.context);
      mu_.Lock();
      continue;
    }
    ++waiters_;
    cv_.WaitUntil(&mu_, deadline);
    --waiters_;
  }
  mu_.Unlock();
  return Turn::kFinished;
}

Status Engine::Wait(const std::shared_ptr<Task>& task, Deadline deadline, std::string_view what) {
  while (true) {
    switch (AwaitTurn(*task, deadline)) {
      case Turn::kFinished:
        return task->status();
      case Turn::kTimedOut:
        return TimedOut(*task, what, /*driving=*/false);
      case Turn::kDrive:
        break;
    }
    const bool finished = DriveUntil(*task, deadline);
    if (finished) {
      ReleaseToken();
      return task->status();
    }
    if (!abort_flag_.load(std::memory_order_acquire)) {
      Status timed_out = TimedOut(*task, what, /*driving=*/true);
      ReleaseToken();
      return timed_out;
    }
    ReleaseToken();  // Abort() takes over and finishes the task; wait for it
  }
}

Status Engine::TimedOut(Task& task, std::string_view what, bool driving) {
  Status why = TimedOutError("rank ", rank_, ": timed out waiting for ", what);
  RequestStop(task, why);
  if (driving) {
    // An unmatched receive is cancelled in the next Progress(): give it a moment, so that the
    // common case leaves nothing behind for the background thread.
    const Deadline grace = Deadline::AfterMs(20);
    while (!task.finished() && !grace.Expired()) {
      DriveOnce();
      Pause();
    }
  }
  return why;
}

void Engine::RequestStop(Task& task, const Status& why) {
  MutexLock lock(&mu_);
  if (task.stop_claimed_ || task.finished()) return;
  task.stop_claimed_ = true;
  task.stop_why_ = why;
  task.stop_requested_.store(true, std::memory_order_release);
}

bool Engine::DriveUntil(Task& task, Deadline deadline) {
  Clock::time_point spin_until = Clock::now() + policy_.spin;
  while (true) {
    const int work = DriveOnce();
    if (task.finished() || task.failed()) return true;
    if (abort_flag_.load(std::memory_order_acquire) || deadline.Expired()) return false;
    SleepOrYield(deadline, &spin_until, work);
  }
}

void Engine::Pause() {
  const WaitHookSlot hook = GetThreadWaitHook();
  if (hook.hook != nullptr) {
    hook.hook(hook.context);
  } else {
    sched_yield();
  }
}

void Engine::SleepOrYield(Deadline deadline, Clock::time_point* spin_until, int work) {
  const WaitHookSlot hook = GetThreadWaitHook();
  if (hook.hook != nullptr) {
    hook.hook(hook.context);
    return;
  }
  const Clock::time_point now = Clock::now();
  if (work > 0) {
    *spin_until = now + policy_.spin;
    memory_backoff_.Reset();
  }
  if (AnyPollsMemory()) {
    // Shared-memory flags wake no event fd: yield, then sleep briefly (wait.h); start over
    // whenever a task got further.
    const uint64_t progress = ActiveProgress();
    if (progress != memory_progress_) {
      memory_progress_ = progress;
      memory_backoff_.Reset();
    }
    memory_backoff_.Pause();
    return;
  }
  const int fd = transport_->EventFd();
  if (now < *spin_until || fd < 0) {
    sched_yield();
    return;
  }
  if (!transport_->Arm()) return;
  pollfd pfd{fd, POLLIN, 0};
  ::poll(&pfd, 1, Deadline::Min(deadline, EarliestWake()).PollTimeoutMs());
}

Deadline Engine::EarliestWake() const {
  Clock::time_point earliest = Clock::time_point::max();
  for (const std::shared_ptr<Task>& task : active_) earliest = std::min(earliest, task->wake_at());
  return earliest == Clock::time_point::max() ? Deadline::Never() : Deadline::At(earliest);
}

uint64_t Engine::ActiveProgress() const {
  uint64_t sum = 0;
  for (const std::shared_ptr<Task>& task : active_) sum += task->progress();
  return sum;
}

bool Engine::AnyPollsMemory() const {
  for (const std::shared_ptr<Task>& task : active_) {
    if (task->polls_memory()) return true;
  }
  return false;
}

int Engine::DriveOnce() {
  ApplyDeaths();
  if (has_submitted_.load(std::memory_order_acquire)) AdoptSubmitted();
  int work = transport_->Progress();
  for (size_t i = 0; i < active_.size();) {
    if (PollTask(*active_[i])) {
      active_.erase(active_.begin() + static_cast<std::ptrdiff_t>(i));
      ++work;
    } else {
      ++i;
    }
  }
  return work;
}

bool Engine::PollTask(Task& task) {
  if (task.stop_requested_.load(std::memory_order_acquire) && !task.stopped_) {
    task.stopped_ = true;
    task.Stop(*transport_, task.stop_why_);
  }
  if (!task.Poll(*transport_)) return false;
  MarkFinished(task);
  return true;
}

void Engine::MarkFinished(Task& task) {
  {
    MutexLock lock(&mu_);
    task.finished_.store(true, std::memory_order_release);
    --live_tasks_;
  }
  cv_.SignalAll();
}

void Engine::AdoptSubmitted() {
  std::vector<std::shared_ptr<Task>> adopted;
  std::vector<Death> deaths;
  {
    MutexLock lock(&mu_);
    adopted.swap(submitted_);
    has_submitted_.store(false, std::memory_order_release);
    deaths = deaths_;
  }
  for (std::shared_ptr<Task>& task : adopted) {
    for (const Death& death : deaths) task->OnDeath(*transport_, death.rank, death.why);
    active_.push_back(std::move(task));
  }
}

void Engine::ApplyDeaths() {
  if (liveness_ == nullptr || liveness_->death_count() == deaths_applied_) return;
  for (Death& death : liveness_->DeathsSince(deaths_applied_)) {
    ++deaths_applied_;
    TIDAL_LOG(INFO, kProgress) << "rank " << rank_ << ": failing requests involving rank "
                               << death.rank << ": " << death.why.message();
    transport_->FailPeer(death.rank, death.why);
    for (std::shared_ptr<Task>& task : active_) task->OnDeath(*transport_, death.rank, death.why);
    MutexLock lock(&mu_);
    deaths_.push_back(std::move(death));
  }
}

size_t Engine::learned_death_count() const {
  return liveness_ == nullptr ? 0 : liveness_->death_count();
}

std::vector<Death> Engine::LearnedDeaths() const {
  return liveness_ == nullptr ? std::vector<Death>{} : liveness_->DeathsSince(0);
}

std::vector<Death> Engine::deaths() const {
  MutexLock lock(&mu_);
  return deaths_;
}

void Engine::PostDeath(int rank, std::string_view how) {
  if (liveness_ == nullptr) return;
  const Status posted = liveness_->Post(rank, how, Deadline::AfterMs(1000));
  if (!posted.ok()) {
    TIDAL_LOG(WARN, kProgress) << "rank " << rank_ << ": could not post '" << how
                               << "' to the store: " << posted;
  }
}

bool Engine::background_started() const {
  MutexLock lock(&mu_);
  return background_.joinable();
}

}  // namespace tidal

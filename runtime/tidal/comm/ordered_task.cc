#include "tidal/comm/ordered_task.h"

#include <utility>

#include "tidal/core/strcat.h"

namespace tidal {

OrderedTask::OrderedTask(std::shared_ptr<Task> inner, std::shared_ptr<Task> start_after,
                         std::shared_ptr<Task> finish_after, std::string what,
                         Clock::time_point not_before, OpHooks hooks)
    : inner_(std::move(inner)),
      start_after_(std::move(start_after)),
      finish_after_(std::move(finish_after)),
      what_(std::move(what)),
      not_before_(not_before),
      hooks_(std::move(hooks)) {}

bool OrderedTask::MayStart() {
  if (start_after_ != nullptr) {
    if (!start_after_->finished()) return false;
    start_after_.reset();
  }
  if (not_before_ != Clock::time_point{} && Clock::now() < not_before_) return false;
  if (hooks_.ready == nullptr) return true;
  Result<bool> ready = hooks_.ready();
  if (ready.ok()) return *ready;
  SetResult(ready.status().WithContext(StrCat(what_, ": its start condition")));
  stopped_ = true;
  return false;
}

bool OrderedTask::Finished() {
  if (hooks_.on_finish != nullptr) {
    auto on_finish = std::move(hooks_.on_finish);
    hooks_.on_finish = nullptr;
    on_finish(status());
  }
  return true;
}

Clock::time_point OrderedTask::wake_at() const {
  if (!started_ && not_before_ != Clock::time_point{}) return not_before_;
  return started_ && !inner_done_ ? inner_->wake_at() : Clock::time_point::max();
}

bool OrderedTask::Poll(Transport& transport) {
  if (!started_) {
    // Stopped (or failed through its predecessor) before starting: nothing of ours is in flight.
    if (stopped_) return Finished();
    if (!MayStart()) return stopped_ ? Finished() : false;
    if (stopped_) return Finished();
    started_ = true;
  }
  if (!inner_done_) {
    inner_done_ = inner_->Poll(transport);
    if (inner_done_ || inner_->failed()) {
      // The inner status is final once it finished; a failed inner task publishes early.
      if (!inner_->status().ok()) {
        if (inner_->failed() && !inner_done_) {
          Fail(inner_->status());
        } else {
          SetResult(inner_->status());
        }
      }
    }
    if (!inner_done_) return false;
  }
  if (finish_after_ != nullptr) {
    if (!finish_after_->finished()) return false;
    finish_after_.reset();
  }
  return Finished();
}

void OrderedTask::Stop(Transport& transport, const Status& why) {
  if (started_) {
    if (!inner_done_) inner_->Stop(transport, why);
    SetResult(why);
    return;
  }
  stopped_ = true;
  SetResult(why);
}

void OrderedTask::OnDeath(Transport& transport, int rank, const Status& why) {
  if (started_ && !inner_done_) {
    inner_->OnDeath(transport, rank, why);
    if (inner_->failed()) Fail(inner_->status());
  }
}

}  // namespace tidal

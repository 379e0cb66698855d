#include "tidal/comm/work.h"

#include <utility>

#include "tidal/core/check.h"

namespace tidal {

Work::Work(std::shared_ptr<Engine> engine, std::shared_ptr<Task> task, std::string what,
           std::chrono::milliseconds timeout)
    : engine_(std::move(engine)),
      task_(std::move(task)),
      what_(std::move(what)),
      timeout_(timeout) {}

Status Work::Wait() { return Wait(Deadline::After(timeout_)); }

Status Work::Wait(Deadline deadline) {
  if (task_ == nullptr) return Status::Ok();
  if (has_waited_ && (task_->finished() || task_->failed())) return status();
  waited_ = engine_->Wait(task_, deadline, what_);
  has_waited_ = true;
  return waited_;
}

bool Work::Test() {
  if (task_ == nullptr) return true;
  return engine_->Test(task_);
}

const Status& Work::status() const {
  static const Status kOk;
  if (task_ == nullptr) return kOk;
  if (has_waited_ && !waited_.ok()) return waited_;
  TIDAL_CHECK(task_->finished() || task_->failed())
      << "Work::status() of '" << what_ << "' before it finished";
  return task_->status();
}

}  // namespace tidal

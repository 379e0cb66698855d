// Work: the handle of one asynchronous operation (a collective or a point-to-point message).
//
//   TIDAL_ASSIGN_OR_RETURN(Work work, coll::AllReduceAsync(comm, grads, grads, n, kFloat32, kSum));
//   ... compute ...
//   TIDAL_RETURN_IF_ERROR(work.Wait());
//
// Wait() blocks until the operation finished (driving the engine on this thread when nobody else
// does), or until a deadline: kTimedOut then names the operation, and the operation is stopped
// (its buffers stay in tidal's hands until it has finished or the communicator was aborted).
// Test() never blocks: it drives one round of progress when nobody else does and says whether the
// operation has finished. Operations on one communicator finish in issue order (ordered_task.h).
// The buffers of an operation belong to tidal from the call until Wait() or Test() reported it
// finished. A default-constructed Work is empty: Wait() and Test() report success at once.
//
// Thread safety: a Work may be moved between threads; one thread at a time calls its methods.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "tidal/core/status.h"
#include "tidal/core/time.h"
#include "tidal/progress/engine.h"

namespace tidal {

class Work {
 public:
  Work() = default;
  // `timeout` is the default deadline of Wait(), counted from each Wait() call.
  Work(std::shared_ptr<Engine> engine, std::shared_ptr<Task> task, std::string what,
       std::chrono::milliseconds timeout);

  // Until finished or the default timeout (the communicator's) passed.
  Status Wait();
  Status Wait(Deadline deadline);
  // True once finished; then status() is the result.
  bool Test();
  // REQUIRES: Test() returned true or Wait() returned.
  const Status& status() const;

  bool valid() const { return task_ != nullptr; }
  // The engine task behind this Work (for layers that chain operations).
  const std::shared_ptr<Task>& task() const { return task_; }
  const std::string& what() const { return what_; }

 private:
  std::shared_ptr<Engine> engine_;
  std::shared_ptr<Task> task_;
  std::string what_;
  std::chrono::milliseconds timeout_{0};
  Status waited_;  // the result Wait() returned (kTimedOut may precede the task's finishing)
  bool has_waited_ = false;
};

}  // namespace tidal

// OrderedTask: runs one operation of a communicator in the communicator's issue order.
//
// Operations on one communicator behave as a stream (as NCCL's do on a CUDA stream): an
// operation starts when the operation issued before it has finished, so a caller may issue an
// AllReduce and a Broadcast on the same buffer back to back without waiting in between.
// Point-to-point operations are the exception: consecutive Send/Recv calls start together (as
// inside ncclGroupStart/End), after the last non-point-to-point operation before them finished,
// so that a Send and a Recv issued back to back on two ranks cannot deadlock each other. Either
// way every operation *finishes* (its Work completes) only after the one issued before it, so
// completions come in issue order.
//
// A failed operation does not poison the ones behind it: they start once it has finished (a
// stopped operation finishes when its requests were cancelled). Messages of different operations
// never pair up, as the tag carries the operation's sequence number (tag.h); an operation that
// involves a dead rank fails on its own (the engine applies deaths to every task).
//
// The wrapper delegates to an inner Task (a collective's executor, a RequestTask, a BarrierTask)
// once it may start; Stop before the start finishes it at once.
//
// Thread safety: a Task, driven by the engine's driver only.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "tidal/core/status.h"
#include "tidal/core/time.h"
#include "tidal/progress/task.h"

namespace tidal {

// What a caller may attach to one operation's start and end (CollOptions carries them from the
// user). All run on the engine's driving thread, never concurrently with each other.
struct OpHooks {
  // > 0: the operation starts no earlier than this long after it was issued (a slow link).
  std::chrono::nanoseconds delay{0};
  // When set: the operation starts only once ready() returned true (after its predecessor
  // finished and the delay passed); polled with the engine's memory-wait backoff. An error fails
  // the operation with it, before anything was sent. For inputs produced outside tidal's view,
  // e.g. a device-to-host copy still queued on a CUDA stream.
  std::function<Result<bool>()> ready;
  // When set: called once with the operation's final status when it finished, successfully or
  // not, before its Work reports finished. For releasing consumers that wait outside tidal (a
  // CUDA copy of the result queued on a stream). Must not block or issue operations.
  std::function<void(const Status&)> on_finish;
};

class OrderedTask : public Task {
 public:
  // `start_after`: finished before `inner` starts (nullptr: start at once); `finish_after`:
  // finished before this task reports finishing (nullptr: none). `what` names the operation in
  // errors ("allreduce #7 of comm 3"). `not_before`: `inner` starts no earlier than that (a
  // per-operation delay that models a slow link; CollOptions::delay). `hooks`: ready and
  // on_finish as OpHooks says (its delay is already in not_before).
  OrderedTask(std::shared_ptr<Task> inner, std::shared_ptr<Task> start_after,
              std::shared_ptr<Task> finish_after, std::string what,
              Clock::time_point not_before = {}, OpHooks hooks = {});

  bool Poll(Transport& transport) override;
  void Stop(Transport& transport, const Status& why) override;
  void OnDeath(Transport& transport, int rank, const Status& why) override;
  bool polls_memory() const override {
    if (!started_) return !stopped_ && hooks_.ready != nullptr;
    return !inner_done_ && inner_->polls_memory();
  }
  Clock::time_point wake_at() const override;
  uint64_t progress() const override { return inner_->progress(); }

  const std::string& what() const { return what_; }
  bool started() const { return started_; }

 private:
  // Whether the predecessor has finished, the delay passed and ready() said yes. A ready() error
  // is recorded as the result (and `false` returned with stopped_ set).
  bool MayStart();
  // Runs on_finish once with the final status; returns true (Poll's "finished").
  bool Finished();

  std::shared_ptr<Task> inner_;
  std::shared_ptr<Task> start_after_;
  std::shared_ptr<Task> finish_after_;
  std::string what_;
  Clock::time_point not_before_;
  OpHooks hooks_;
  bool started_ = false;
  bool inner_done_ = false;
  bool stopped_ = false;
};

}  // namespace tidal

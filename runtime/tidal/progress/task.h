// Task: one asynchronous operation as a state machine that the progress engine (engine.h) drives.
// Each Poll() posts what it can and returns as soon as it would have to wait (as UCC's progress
// functions do); the engine calls it again after the transport made progress. Point-to-point
// calls, barriers and (later) collectives are tasks; blocking calls are tasks that the caller
// waits for.
//
// Life cycle, all on the engine's driving thread:
//   OnDeath(...)*  Poll()*  [Stop(why)]  Poll()* ... until Poll() returns true (finished).
// A finished task holds no pending transport request; its status() is final. Stop() asks the task
// to cancel its pending requests and finish with `why` (or an earlier error); the engine keeps
// polling it until it has finished, so buffers stay valid until then.
//
// Thread safety: Poll, Stop and OnDeath are called by one thread at a time (the engine's driver);
// finished() and status() may be read from any thread once finished() is true (acquire).
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include "tidal/core/status.h"
#include "tidal/core/time.h"
#include "tidal/transport/transport.h"

namespace tidal {

class Engine;

class Task {
 public:
  Task() = default;
  virtual ~Task() = default;
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;

  // Posts what it can and notes completions. Returns true when the task has finished: it holds no
  // pending request and status() is final (set it with Finish()).
  virtual bool Poll(Transport& transport) = 0;
  // Cancels pending requests (Transport::Cancel) so that the task finishes soon with `why`.
  // Called at most once. REQUIRES: !why.ok().
  virtual void Stop(Transport& transport, const Status& why) = 0;
  // World rank `rank` died (`why` is kUnavailable naming it). Tasks whose operation cannot
  // complete without that rank call Stop(transport, why) here. Default: nothing (the transport
  // already fails requests that involve the rank).
  virtual void OnDeath(Transport& transport, int rank, const Status& why);
  // True while the task waits on memory that other processes write (shared-memory flags) rather
  // than on the transport: the transport's event fd will not wake the driver for it, so the
  // engine polls with MemoryWaitBackoff (wait.h: yields for ms, then sleeps <= 200 us at a time)
  // instead of sleeping on the event fd while such a task is active.
  virtual bool polls_memory() const { return false; }
  // A time at which the task wants to be polled although nothing happened on the transport (a
  // delayed start): the engine does not sleep past it. Default: never.
  virtual Clock::time_point wake_at() const { return Clock::time_point::max(); }
  // Grows whenever the task got further without the transport (a shared-memory round done): the
  // engine's memory-wait backoff starts over then, so a long on-host operation is not slowed by
  // sleeps meant for peers that are away.
  virtual uint64_t progress() const { return progress_; }

  // True once the task finished; then status() is its result.
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  // True once the task has failed for good (e.g. its peer died) although a request may still be
  // owned by the transport (UCX cannot take back a receive that already matched): waiters return
  // status() at once and the engine keeps the task until it finished, at the latest until Abort.
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  // REQUIRES: finished() || failed().
  const Status& status() const { return status_; }

 protected:
  void NoteProgress() { ++progress_; }
  // Records the result; the engine publishes it when Poll() returns true.
  void SetResult(Status status) {
    if (status_.ok()) status_ = std::move(status);
  }
  // Records `why` and publishes failed(). Driver only. REQUIRES: !why.ok().
  void Fail(Status why) {
    SetResult(std::move(why));
    failed_.store(true, std::memory_order_release);
  }

 private:
  friend class Engine;
  std::atomic<bool> finished_{false};
  std::atomic<bool> failed_{false};
  std::atomic<bool> stop_requested_{false};
  bool stop_claimed_ = false;  // under the engine's mutex
  bool stopped_ = false;       // driver only
  Status stop_why_;            // written before stop_requested_ is set (release)
  Status status_;
  uint64_t progress_ = 0;  // driver only
};

// A task of one posted send or receive.
class RequestTask : public Task {
 public:
  enum class Kind { kSend, kRecv };
  // REQUIRES: data (capacity bytes) outlives the task's finishing. `transferred`, when given,
  // receives the byte count when the request completes successfully (and must outlive it too).
  RequestTask(Kind kind, int peer, Tag tag, void* data, size_t bytes, size_t* transferred = nullptr)
      : kind_(kind),
        peer_(peer),
        tag_(tag),
        data_(data),
        bytes_(bytes),
        transferred_(transferred) {}
  bool Poll(Transport& transport) override;
  void Stop(Transport& transport, const Status& why) override;
  // Fails the task at once when `rank` is its peer.
  void OnDeath(Transport& transport, int rank, const Status& why) override;
  // Bytes sent or received. REQUIRES: finished().
  size_t bytes_transferred() const { return request_.done() ? request_.bytes() : 0; }

 private:
  Kind kind_;
  int peer_;
  Tag tag_;
  void* data_;
  size_t bytes_;
  size_t* transferred_;
  bool posted_ = false;
  Request request_;
};

}  // namespace tidal
